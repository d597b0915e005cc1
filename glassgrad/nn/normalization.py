"""Normalization layers (being built)."""


class BatchNorm1d:
    """Batch normalization over (N, C) or (N, C, L) (skeleton)."""


class BatchNorm2d:
    """Batch normalization over (N, C, H, W) (skeleton)."""


class LayerNorm:
    """Layer normalization (skeleton)."""
