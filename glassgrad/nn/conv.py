"""Convolution layers (being built)."""


class Conv2d:
    """2-D convolution over NCHW input (skeleton; implementation in progress)."""
