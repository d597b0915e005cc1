"""Pooling layers (being built)."""


class MaxPool2d:
    """2-D max pooling (skeleton)."""


class AvgPool2d:
    """2-D average pooling (skeleton)."""
