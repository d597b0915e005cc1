"""Pooling primitives: max_pool2d and avg_pool2d over NCHW input.

Both read the same windows as convolution (see :mod:`glassgrad.nn._conv_ops`) and are
computed by looping over the kh*kw kernel offsets: offset (i, j) of every window at
once is the strided slice ``xpad[:, :, i::sh, j::sw]`` cut to (Ho, Wo). Their backward
passes add the cotangent back through the same slices (col2im), so overlapping windows
(stride < kernel) accumulate correctly.
"""

from __future__ import annotations

import numpy as np

from ..primitive import OpError, apply, primitive
from ._conv_ops import _pad, col2im_, im2col_, offset_slices, out_size, pair
from ._stash import Stash, call, is_array, release_stash

__all__ = ["max_pool2d", "avg_pool2d"]


# --- max pooling --------------------------------------------------------------------------

def _max_and_index(x, kernel, stride, padding):
    """Window maxima and, per window, the row-major offset k = i*kw + j of the maximum.

    A running comparison over the offsets, PyTorch's rule: offset k replaces the current
    maximum when ``x_k > max or isnan(x_k)``. So among equal maxima the *first* wins (the
    gradient goes to that one element, not split), and a NaN in a window propagates.
    """
    xp = _pad(x, padding, -np.inf)
    ho, wo = out_size(x.shape[2], x.shape[3], kernel, stride, padding)
    slices = offset_slices(kernel, stride, (ho, wo))
    out = xp[slices[0]].copy()
    idx = np.zeros(out.shape, dtype=np.uint8 if len(slices) <= 256 else np.intp)
    better = np.empty(out.shape, dtype=bool)
    nan = np.empty(out.shape, dtype=bool)
    for k, sl in enumerate(slices[1:], start=1):
        xk = xp[sl]
        np.greater(xk, out, out=better)
        np.not_equal(xk, xk, out=nan)
        better |= nan
        np.copyto(out, xk, where=better)
        np.copyto(idx, k, where=better)
    return out, idx


def _index(x, kernel, stride, padding, stash):
    if stash is not None and stash.values is not None:
        return stash.values
    data = x if is_array(x) else x.data
    return _max_and_index(data, kernel, stride, padding)[1]


def _onehot(idx, kernel):
    """Boolean (N, C, kh, kw, Ho, Wo): True at each window's argmax offset."""
    kh, kw = kernel
    offsets = np.arange(kh * kw).reshape(kh, kw, 1, 1)
    return idx[:, :, None, None] == offsets


@primitive(save="x")
class max_pool2d_:
    """out[n, c, p, q] = max over the window (p, q) of xpad (padding is -inf).

    The max equals one element of its window, so d out / d x is 1 at that element (the
    argmax) and 0 elsewhere. With ties PyTorch sends the whole gradient to one element,
    the first maximum in row-major window order, and so do we (it is a subgradient; the
    even split that ``gg.max`` uses is another). The argmax offsets are stashed by the
    forward; they are constants, so the higher-order path uses them too.
    VJP: gx = col2im(onehot(argmax) * g): g added at each window's argmax (overlapping
    windows accumulate).
    JVP: t_out = tx at each window's argmax.
    """

    def forward(x, kernel=(1, 1), stride=(1, 1), padding=(0, 0), stash=None):
        out, idx = _max_and_index(x, kernel, stride, padding)
        if stash is not None:
            stash.values = idx
        return out

    def vjp(g, out, x, kernel=(1, 1), stride=(1, 1), padding=(0, 0), stash=None):
        idx = _index(x, kernel, stride, padding, stash)
        if is_array(g):
            n, c, h, w = x.shape
            ph, pw = padding
            gx = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
            for k, sl in enumerate(offset_slices(kernel, stride, g.shape[2:])):
                view = gx[sl]
                np.add(view, g, out=view, where=idx == k)
            return (gx[:, :, ph:ph + h, pw:pw + w] if ph or pw else gx,)
        n, c, ho, wo = g.shape
        gcols = np.where(_onehot(idx, kernel), g.reshape((n, c, 1, 1, ho, wo)), 0)
        return (call(col2im_, (gcols,), (tuple(x.shape), kernel, stride, padding)),)

    def jvp(tx, out, x, kernel=(1, 1), stride=(1, 1), padding=(0, 0), stash=None):
        idx = _index(x, kernel, stride, padding, stash)
        if is_array(tx):
            txp = _pad(tx, padding)
            t_out = np.zeros(idx.shape, dtype=tx.dtype)
            for k, sl in enumerate(offset_slices(kernel, stride, idx.shape[2:])):
                np.copyto(t_out, txp[sl], where=idx == k)
            return t_out
        cols = call(im2col_, (tx,), (kernel, stride, padding, tuple(tx.shape)))
        return np.sum(np.where(_onehot(idx, kernel), cols, 0), axis=(2, 3))


max_pool2d_.on_release = release_stash


# --- average pooling ----------------------------------------------------------------------

def _divisor(shape, kernel, stride, padding, count_include_pad, divisor_override, dtype):
    """What each window's sum is divided by: a number, or an (Ho, Wo) array of counts."""
    if divisor_override:
        return float(divisor_override)
    if count_include_pad or padding == (0, 0):
        return float(kernel[0] * kernel[1])
    ones = _pad(np.ones((1, 1) + tuple(shape[2:]), dtype=dtype), padding)
    ho, wo = out_size(shape[2], shape[3], kernel, stride, padding)
    count = np.zeros((1, 1, ho, wo), dtype=dtype)
    for sl in offset_slices(kernel, stride, (ho, wo)):
        count += ones[sl]
    return count


@primitive()
class avg_pool2d_:
    """out[n, c, p, q] = (sum over the window (p, q) of xpad) / d  (padding is 0).

    d is kh*kw (``count_include_pad=True``, PyTorch's default), the number of real input
    elements in the window (``False``), or ``divisor_override``. Each element of the
    window contributes 1/d: the op is linear, and its adjoint spreads g/d evenly back
    over each window.
    VJP: gx = col2im(g / d repeated over the kh*kw offsets).
    JVP: t_out = avg_pool2d(tx).
    """

    def forward(x, kernel=(1, 1), stride=(1, 1), padding=(0, 0), divisor=1.0, shape=None):
        xp = _pad(x, padding)
        slices = offset_slices(kernel, stride, out_size(x.shape[2], x.shape[3], kernel,
                                                        stride, padding))
        out = xp[slices[0]].copy()
        for sl in slices[1:]:
            out += xp[sl]
        out /= divisor
        return out

    def vjp(g, out, x, kernel=(1, 1), stride=(1, 1), padding=(0, 0), divisor=1.0,
            shape=None):
        share = g / divisor
        if is_array(g):
            n, c, h, w = shape
            ph, pw = padding
            gx = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
            for sl in offset_slices(kernel, stride, g.shape[2:]):
                gx[sl] += share
            return (gx[:, :, ph:ph + h, pw:pw + w] if ph or pw else gx,)
        n, c, ho, wo = g.shape
        gcols = np.broadcast_to(share.reshape((n, c, 1, 1, ho, wo)),
                                (n, c) + tuple(kernel) + (ho, wo))
        return (call(col2im_, (gcols,), (shape, kernel, stride, padding)),)

    def jvp(tx, out, x, kernel=(1, 1), stride=(1, 1), padding=(0, 0), divisor=1.0,
            shape=None):
        return call(avg_pool2d_, (tx,), (kernel, stride, padding, divisor, shape))


# --- public wrappers ----------------------------------------------------------------------

def _pool_args(name, x, kernel_size, stride, padding):
    xs = tuple(np.shape(x))
    if len(xs) != 4:
        raise OpError(f"{name}: input must be 4-D (N, C, H, W), got shape {xs}; for one "
                      "image add a batch axis, e.g. x.reshape(1, *x.shape)")
    kernel = pair(kernel_size, "kernel_size", name)
    stride = kernel if stride is None or stride == [] else pair(stride, "stride", name)
    padding = pair(padding, "padding", name)
    if min(kernel) < 1 or min(stride) < 1 or min(padding) < 0:
        raise OpError(f"{name}: kernel_size and stride must be >= 1 and padding >= 0, got "
                      f"kernel_size {kernel}, stride {stride}, padding {padding}")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise OpError(f"{name}: padding {padding} must be at most half the kernel size "
                      f"{kernel} (as PyTorch)")
    ho, wo = out_size(xs[2], xs[3], kernel, stride, padding)
    if ho < 1 or wo < 1:
        raise OpError(f"{name}: kernel {kernel} is larger than the padded input of shape "
                      f"{xs} (padding {padding})")
    return kernel, stride, padding


def _unsupported(name, **flags):
    for flag, value in flags.items():
        if value:
            raise NotImplementedError(f"{name}: {flag}={value!r} is not supported by glassgrad")


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over each ``kernel_size`` window (stride defaults to the kernel size)."""
    _unsupported("max_pool2d", dilation=pair(dilation, "dilation", "max_pool2d") != (1, 1),
                 ceil_mode=ceil_mode, return_indices=return_indices)
    kernel, stride, padding = _pool_args("max_pool2d", x, kernel_size, stride, padding)
    return apply(max_pool2d_, (x,), (kernel, stride, padding, Stash()))


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over each ``kernel_size`` window, PyTorch's divisor rules."""
    _unsupported("avg_pool2d", ceil_mode=ceil_mode)
    kernel, stride, padding = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    shape = tuple(np.shape(x))
    dtype = getattr(x, "dtype", np.result_type(x))
    divisor = _divisor(shape, kernel, stride, padding, count_include_pad, divisor_override,
                       dtype)
    return apply(avg_pool2d_, (x,), (kernel, stride, padding, divisor, shape))
