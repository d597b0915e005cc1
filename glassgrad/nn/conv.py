"""``Conv2d``: a learned 2-D convolution over NCHW images.

The computation is :func:`glassgrad.nn.functional.conv2d`, a fused primitive (im2col
and one matmul per image; its backward is a matmul with the columns for the weight and
a col2im scatter-add for the input, derived in ``glassgrad/nn/_conv_ops.py``).
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..primitive import OpError
from . import init
from ._conv_ops import _groups, conv2d_checked, conv_args, pair
from .module import Module, Parameter

__all__ = ["Conv2d"]


class Conv2d(Module):
    """2-D convolution: ``out[n, o] = b[o] + sum_c weight[o, c] (star) x[n, c]``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride : int or (int, int), default 1
    padding : int, (int, int), 'valid' or 'same', default 0 (zero padding)
    dilation : int or (int, int), default 1 (spacing between the kernel's taps)
    groups : int, default 1; in_channels and out_channels must be divisible by it: the
        channels split into ``groups`` independent convolutions (``groups=in_channels``:
        depthwise)
    bias : bool, default True
    padding_mode : only 'zeros' is supported
    dtype : numpy dtype, optional (default: glassgrad's default float dtype)

    Attributes
    ----------
    weight : Parameter of shape (out_channels, in_channels / groups, kH, kW), PyTorch's
        layout
    bias : Parameter of shape (out_channels,), or None

    Both start as U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels/groups * kH * kW:
    PyTorch's default (``kaiming_uniform_(a=sqrt(5))`` is exactly this bound), drawn
    from glassgrad's seeded generator.

    Examples
    --------
    >>> conv = gg.nn.Conv2d(1, 8, 3, padding=1)
    >>> conv(gg.randn(2, 1, 28, 28)).shape
    (2, 8, 28, 28)
    >>> conv.weight.shape
    (8, 1, 3, 3)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 dtype=None) -> None:
        super().__init__()
        if padding_mode != "zeros":
            raise NotImplementedError(f"Conv2d: padding_mode={padding_mode!r} is not "
                                      "supported (only 'zeros')")
        groups = _groups(groups, "Conv2d")
        for what, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels % groups:
                raise OpError(f"Conv2d: {what} must be divisible by groups, got {what}="
                              f"{channels} and groups={groups}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d")
        self.stride, self._padding, self.dilation, self._extra = conv_args(
            (0, 0) + self.kernel_size, stride, padding, dilation, "Conv2d")
        self.padding = padding if isinstance(padding, str) else self._padding
        self.groups = groups
        self.padding_mode = padding_mode
        dtype = np.dtype(dtype) if dtype is not None else dtypes.default_dtype
        shape = (self.out_channels, self.in_channels // groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        fan_in = self.in_channels // self.groups * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        who = f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size})"
        return conv2d_checked(x, self.weight, self.bias, self.stride, self._padding,
                              self.dilation, self.groups, self._extra, who)

    def extra_repr(self) -> str:
        """PyTorch's: the non-default settings after the sizes and the stride."""
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"  # a string unquoted, as PyTorch
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
