"""Pooling layers: ``MaxPool2d`` and ``AvgPool2d`` over NCHW input.

Both are fused primitives (``glassgrad/nn/_pool_ops.py``): max pooling sends each
window's gradient to its (first) maximum, average pooling spreads it evenly.
"""

from __future__ import annotations

from ._pool_ops import _unsupported, avg_pool2d_checked, max_pool2d_checked, pool_args
from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d"]


class MaxPool2d(Module):
    """Maximum over each ``kernel_size`` window, moving by ``stride`` (default: the kernel).

    ``padding`` pads with -inf (at most half the kernel). Among equal maxima the first in
    row-major window order receives the whole gradient, as PyTorch. ``dilation`` spaces
    the window's taps; ``ceil_mode=True`` rounds the output size up (the last windows
    may overhang the bottom and right edges, but start inside the input or its left
    padding); ``return_indices=True`` returns ``(values, indices)``, each maximum's
    position ``h * W + w`` in its input plane (int64, as PyTorch).

    Examples
    --------
    >>> gg.nn.MaxPool2d(2)(gg.randn(1, 3, 28, 28)).shape
    (1, 3, 14, 14)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode
        self._args = pool_args("MaxPool2d", kernel_size, stride, padding, dilation)

    def forward(self, x):
        return max_pool2d_checked(x, *self._args, self.ceil_mode, self.return_indices,
                                  name="MaxPool2d")

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Mean over each ``kernel_size`` window, moving by ``stride`` (default: the kernel).

    With ``padding``, ``count_include_pad=True`` (default) divides by kH*kW, ``False``
    by the number of real elements in the window; ``divisor_override`` replaces both.

    Examples
    --------
    >>> gg.nn.AvgPool2d(2)(gg.randn(1, 3, 28, 28)).shape
    (1, 3, 14, 14)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override
        _unsupported("AvgPool2d", ceil_mode=ceil_mode)
        self._args = pool_args("AvgPool2d", kernel_size, stride, padding)[:3]

    def forward(self, x):
        return avg_pool2d_checked(x, *self._args, self.count_include_pad,
                                  self.divisor_override, name="AvgPool2d")

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
