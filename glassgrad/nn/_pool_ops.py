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
from ._conv_ops import _pad, col2im_, offset_slices, out_size, pair
from ._stash import call, is_array, shape_of

__all__ = ["max_pool2d", "avg_pool2d"]


# --- max pooling --------------------------------------------------------------------------

def _window_max(x, kernel, stride, padding):
    """Maximum of each window: a running ``np.maximum`` over the kh*kw offsets (NaN
    propagates, as in PyTorch)."""
    xp = _pad(x, padding, -np.inf)
    ho, wo = out_size(x.shape[2], x.shape[3], kernel, stride, padding)
    slices = offset_slices(kernel, stride, (ho, wo))
    out = xp[slices[0]].copy()
    for sl in slices[1:]:
        np.maximum(out, xp[sl], out=out)
    return out


def _winner_masks(x, out, kernel, stride, padding):
    """Per kernel offset k, a boolean (N, C, Ho, Wo): offset k holds its window's argmax.

    PyTorch's rule: scanning a window in row-major order, element k becomes the argmax
    when ``x_k > max or isnan(x_k)``. So among equal maxima the *first* one wins (it
    gets the whole gradient, none is split), and in a window with NaNs the last NaN.
    Found branch-free (a random mask in ``np.where`` costs ~30x a multiply): offset k
    wins where ``x_k == out`` and no earlier offset has won. NaN never equals anything,
    so windows holding NaN take the exact scan (slow, and only when there are NaNs).
    """
    xp = _pad(x, padding, -np.inf)
    slices = offset_slices(kernel, stride, out.shape[2:])
    if np.isnan(out).any():
        return _scan_masks(xp, slices)
    taken = np.zeros(out.shape, dtype=bool)
    masks = []
    for k, sl in enumerate(slices):
        m = xp[sl] == out
        np.greater(m, taken, out=m)  # m and not taken
        if k + 1 < len(slices):
            taken |= m
        masks.append(m)
    return masks


def _scan_masks(xp, slices):
    """The literal scan of PyTorch's kernel (``x_k > best or isnan(x_k)`` replaces best)."""
    best = xp[slices[0]].copy()
    idx = np.zeros(best.shape, dtype=np.intp)
    for k, sl in enumerate(slices[1:], start=1):
        xk = xp[sl]
        better = (xk > best) | np.isnan(xk)
        best = np.where(better, xk, best)
        idx = np.where(better, k, idx)
    return [idx == k for k in range(len(slices))]


def _masks_data(x, out, kernel, stride, padding):
    data = x if is_array(x) else x.data
    return _winner_masks(data, out if is_array(out) else out.data, kernel, stride, padding)


@primitive(save="x out", params="kernel stride padding", name="max_pool2d", public=False)
class max_pool2d_:
    """out[n, c, p, q] = max over the window (p, q) of xpad (padding is -inf).

    The max equals one element of its window, so d out / d x is 1 at that element (the
    argmax) and 0 elsewhere. With ties PyTorch sends the whole gradient to one element,
    the first maximum in row-major window order, and so do we (a valid subgradient;
    ``gg.max`` splits ties evenly instead). The argmax masks are recomputed from x and
    out in the backward; they are constants, so the higher-order path uses them too.
    VJP: gx = col2im(onehot(argmax) * g): g added at each window's argmax (overlapping
    windows accumulate).
    JVP: t_out = tx at each window's argmax.
    """

    def forward(x, kernel, stride, padding):
        return _window_max(x, kernel, stride, padding)

    def vjp_x(g, out, x, kernel, stride, padding):
        masks = _masks_data(x, out, kernel, stride, padding)
        if is_array(g):
            n, c, h, w = x.shape
            ph, pw = padding
            disjoint = stride[0] >= kernel[0] and stride[1] >= kernel[1]
            # windows that tile the input exactly write every pixel once: no zero fill
            tiled = (disjoint and stride == kernel and not ph and not pw
                     and h == g.shape[2] * kernel[0] and w == g.shape[3] * kernel[1])
            gx = (np.empty if tiled else np.zeros)((n, c, h + 2 * ph, w + 2 * pw), g.dtype)
            for m, sl in zip(masks, offset_slices(kernel, stride, g.shape[2:])):
                if disjoint:  # each pixel in at most one window: write, no add
                    np.multiply(m, g, out=gx[sl])
                else:
                    gx[sl] += m * g
            return gx[:, :, ph:ph + h, pw:pw + w] if ph or pw else gx
        n, c, ho, wo = g.shape
        onehot = np.stack(masks, axis=2).reshape((n, c) + tuple(kernel) + (ho, wo))
        gcols = onehot * g.reshape((n, c, 1, 1, ho, wo))
        return call(col2im_, (gcols,), (tuple(x.shape), kernel, stride, padding))

    def jvp_x(tx, out, x, kernel, stride, padding):
        masks = _masks_data(x, out, kernel, stride, padding)
        txp = _pad(tx, padding)
        t_out = 0
        for m, sl in zip(masks, offset_slices(kernel, stride, masks[0].shape[2:])):
            t_out = t_out + m * txp[sl]
        return t_out


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


@primitive(params="kernel stride padding divisor shape", name="avg_pool2d", public=False)
class avg_pool2d_:
    """out[n, c, p, q] = (sum over the window (p, q) of xpad) / d  (padding is 0).

    d is kh*kw (``count_include_pad=True``, PyTorch's default), the number of real input
    elements in the window (``False``), or ``divisor_override``. Each element of the
    window contributes 1/d: the op is linear, and its adjoint spreads g/d evenly back
    over each window.
    VJP: gx = col2im(g / d repeated over the kh*kw offsets).
    JVP: t_out = avg_pool2d(tx).
    """

    def forward(x, kernel, stride, padding, divisor, shape):
        xp = _pad(x, padding)
        slices = offset_slices(kernel, stride, out_size(x.shape[2], x.shape[3], kernel,
                                                        stride, padding))
        out = xp[slices[0]].copy()
        for sl in slices[1:]:
            out += xp[sl]
        out /= divisor
        return out

    def vjp_x(g, out, x, kernel, stride, padding, divisor, shape):
        share = g / divisor
        if is_array(g):
            n, c, h, w = shape
            ph, pw = padding
            gx = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
            for sl in offset_slices(kernel, stride, g.shape[2:]):
                gx[sl] += share
            return gx[:, :, ph:ph + h, pw:pw + w] if ph or pw else gx
        n, c, ho, wo = g.shape
        gcols = np.broadcast_to(share.reshape((n, c, 1, 1, ho, wo)),
                                (n, c) + tuple(kernel) + (ho, wo))
        return call(col2im_, (gcols,), (shape, kernel, stride, padding))

    def jvp_x(tx, out, x, kernel, stride, padding, divisor, shape):
        return call(avg_pool2d_, (tx,), (kernel, stride, padding, divisor, shape))


# --- public wrappers ----------------------------------------------------------------------

def pool_args(name, kernel_size, stride, padding) -> tuple:
    """Normalise kernel, stride (None: the kernel) and padding to pairs, validated."""
    kernel = pair(kernel_size, "kernel_size", name)
    stride = kernel if stride is None or stride == [] else pair(stride, "stride", name)
    padding = pair(padding, "padding", name)
    if min(kernel) < 1 or min(stride) < 1 or min(padding) < 0:
        raise OpError(f"{name}: kernel_size and stride must be >= 1 and padding >= 0, got "
                      f"kernel_size {kernel}, stride {stride}, padding {padding}")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise OpError(f"{name}: padding {padding} must be at most half the kernel size "
                      f"{kernel} (as PyTorch)")
    return kernel, stride, padding


def check_pool_input(name, xs, kernel, stride, padding) -> None:
    if len(xs) != 4:
        raise OpError(f"{name}: input must be 4-D (N, C, H, W), got shape {xs}; for one "
                      "image add a batch axis, e.g. x.reshape(1, *x.shape)")
    ho, wo = out_size(xs[2], xs[3], kernel, stride, padding)
    if ho < 1 or wo < 1:
        raise OpError(f"{name}: kernel {kernel} is larger than the padded input of shape "
                      f"{xs} (padding {padding})")


def max_pool2d_checked(x, kernel, stride, padding, name="max_pool2d"):
    """Check the input's shape, then apply the primitive (arguments already pairs)."""
    check_pool_input(name, shape_of(x), kernel, stride, padding)
    return apply(max_pool2d_, (x,), (kernel, stride, padding))


def avg_pool2d_checked(x, kernel, stride, padding, count_include_pad=True,
                       divisor_override=None, name="avg_pool2d"):
    shape = shape_of(x)
    check_pool_input(name, shape, kernel, stride, padding)
    dtype = getattr(x, "dtype", None) or np.result_type(x)
    divisor = _divisor(shape, kernel, stride, padding, count_include_pad, divisor_override,
                       dtype)
    return apply(avg_pool2d_, (x,), (kernel, stride, padding, divisor, shape))


def _unsupported(name, **flags):
    for flag, value in flags.items():
        if value:
            raise NotImplementedError(f"{name}: {flag}={value!r} is not supported by glassgrad")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode=False, return_indices=False):
    """Max over each ``kernel_size`` window (stride defaults to the kernel size).

    >>> F.max_pool2d(gg.arange(16.0).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    _unsupported("max_pool2d", dilation=pair(dilation, "dilation", "max_pool2d") != (1, 1),
                 ceil_mode=ceil_mode, return_indices=return_indices)
    return max_pool2d_checked(input, *pool_args("max_pool2d", kernel_size, stride, padding))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True, divisor_override=None):
    """Mean over each ``kernel_size`` window, PyTorch's divisor rules.

    >>> F.avg_pool2d(gg.arange(16.0).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 2.5,  4.5],
              [10.5, 12.5]]]])
    """
    _unsupported("avg_pool2d", ceil_mode=ceil_mode)
    kernel, stride, padding = pool_args("avg_pool2d", kernel_size, stride, padding)
    return avg_pool2d_checked(input, kernel, stride, padding, count_include_pad,
                              divisor_override)
