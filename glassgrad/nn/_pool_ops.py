"""Pooling primitives: max_pool2d and avg_pool2d over NCHW input.

Both read the same windows as convolution (see :mod:`glassgrad.nn._conv_ops`) and are
computed by looping over the kh*kw kernel offsets: offset (i, j) of every window at
once is the strided slice ``xpad[:, :, i*dh::sh, j*dw::sw]`` cut to (Ho, Wo). Their
backward passes hand the cotangent, spread over the kh*kw offsets, to col2im (the adjoint
of reading windows), so overlapping windows (stride < kernel) add up correctly.

Max-pooling's ``ceil_mode`` rounds the output size up, as PyTorch: the windows that
overhang the bottom and right edges read padding (-inf) there, except that a last window
starting past the input (and its left padding) is dropped. Those windows are padding on
the far sides, so every op here takes its padding per side, ``(top, bottom, left, right)``.
"""

from __future__ import annotations

import numpy as np

from ..backend import array_of, branch_on
from ..primitive import OpError, apply, primitive
from ..tensor import Tensor
from ._conv_ops import _pad, col2im, im2col, offset_slices, pair, sides
from ._stash import call, shape_of

__all__ = ["max_pool2d", "avg_pool2d"]


# --- geometry -------------------------------------------------------------------------------

def _pool_len(size, k, s, p, d, ceil_mode) -> int:
    """PyTorch's pooled length: floor (or ceil) of (size + 2p - d(k-1) - 1)/s, plus 1; in
    ceil mode a last window that would start past the input and its left padding is
    dropped."""
    span = size + 2 * p - d * (k - 1) - 1
    n = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (n - 1) * s >= size + p:
        n -= 1
    return n


def pool_geometry(name, xs, kernel, stride, padding, dilation, ceil_mode) -> tuple:
    """Check the input's shape; return ``(pads, (Ho, Wo))``: per-side padding that holds
    every window (``ceil_mode`` adds windows overhanging the bottom/right edges)."""
    if len(xs) != 4:
        raise OpError(f"{name}: input must be 4-D (N, C, H, W), got shape {xs}; for one "
                      "image add a batch axis, e.g. x.reshape(1, *x.shape)")
    hw = tuple(_pool_len(xs[2 + a], kernel[a], stride[a], padding[a], dilation[a], ceil_mode)
               for a in (0, 1))
    if min(hw) < 1:
        raise OpError(f"{name}: kernel {kernel} (dilation {dilation}) is larger than the "
                      f"padded input of shape {xs} (padding {padding})")
    far = [max(0, (hw[a] - 1) * stride[a] + dilation[a] * (kernel[a] - 1) + 1
               - xs[2 + a] - 2 * padding[a]) for a in (0, 1)]
    pads = (padding[0], padding[0] + far[0], padding[1], padding[1] + far[1])
    return pads, hw


def pool_args(name, kernel_size, stride, padding, dilation=1) -> tuple:
    """Normalise kernel, stride (None: the kernel), padding and dilation to pairs,
    validated as PyTorch does."""
    kernel = pair(kernel_size, "kernel_size", name)
    stride = kernel if stride is None or stride == [] else pair(stride, "stride", name)
    padding = pair(padding, "padding", name)
    dilation = pair(dilation, "dilation", name)
    if min(kernel) < 1 or min(stride) < 1 or min(padding) < 0 or min(dilation) < 1:
        raise OpError(f"{name}: kernel_size, stride and dilation must be >= 1 and padding "
                      f">= 0, got kernel_size {kernel}, stride {stride}, padding {padding}, "
                      f"dilation {dilation}")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise OpError(f"{name}: padding {padding} must be at most half the kernel size "
                      f"{kernel} (as PyTorch)")
    return kernel, stride, padding, dilation


# --- max pooling --------------------------------------------------------------------------

def _window_max(x, kernel, stride, pads, dilation):
    """Maximum of each window: a running ``np.maximum`` over the kh*kw offsets (NaN
    propagates, as in PyTorch)."""
    xp = _pad(x, pads, -np.inf)
    h, w = xp.shape[2:]
    ho = (h - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    wo = (w - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    slices = offset_slices(kernel, stride, dilation, (ho, wo))
    out = xp[slices[0]].copy()
    for sl in slices[1:]:
        np.maximum(out, xp[sl], out=out)  # the forward's own fresh array
    return out


def _winner_masks(x, out, kernel, stride, pads, dilation):
    """Which kernel offset holds each window's argmax, one-hot: (N, C, kh, kw, Ho, Wo)
    booleans in im2col's layout (exactly one True per window).

    PyTorch's rule: scanning a window's input elements in row-major order (padding is
    skipped), element k becomes the argmax when ``x_k > max or isnan(x_k)``, starting
    from max = -inf at the first element. So among equal maxima the *first* one wins (it
    gets the whole gradient, none is split), and in a window with NaNs the last NaN.
    Without NaNs that is: offset k wins where ``x_k == out`` and no earlier offset did
    (the padding is NaN here, which equals nothing, so a padded position never wins,
    also not in an all -inf window). Found branch-free, with boolean ops on whole
    offsets; windows holding NaN take the literal scan (slower, and only when there are
    NaNs).
    """
    x, out = array_of(x), array_of(out)
    slices = offset_slices(kernel, stride, dilation, out.shape[2:])
    (kh, kw), (n, c, ho, wo) = kernel, out.shape
    if branch_on(np.isnan(out).any()):
        arg = _scan_winners(x, out, slices, pads)
        taps = np.arange(kh * kw, like=arg).reshape(kh, kw, 1, 1)
        return arg.reshape((n, c, 1, 1, ho, wo)) == taps
    xp = _pad(x, pads, np.nan)
    taken = xp[slices[0]] == out
    masks = [taken[:, :, None]]
    for k in range(1, len(slices)):
        hit = xp[slices[k]] == out
        masks.append((hit > taken)[:, :, None])  # a hit, and no earlier offset won
        if k + 1 < len(slices):
            taken = taken | hit
    return np.concatenate(masks, axis=2).reshape((n, c, kh, kw, ho, wo))


def _scan_winners(x, out, slices, pads):
    """The literal scan of PyTorch's kernel (``x_k > best or isnan(x_k)`` replaces best),
    from best = -inf at the window's first non-padding element: the winning offsets."""
    xp = _pad(x, pads, -np.inf)  # -inf: never > best, never NaN
    inside = _pad(np.ones_like(x, dtype=bool, shape=(1, 1) + x.shape[2:]), pads, False)
    first = np.full_like(out, len(slices) - 1, dtype=np.intp)
    for k in range(len(slices) - 2, -1, -1):
        first = np.where(inside[slices[k]], k, first)
    best = np.full_like(out, -np.inf)
    arg = first
    for k, sl in enumerate(slices):
        xk = xp[sl]
        better = (xk > best) | np.isnan(xk)
        best = np.where(better, xk, best)
        arg = np.where(better, k, arg)
    return arg


def _flat_indices(onehot, shape, kernel, stride, pads, dilation):
    """``return_indices``: each winner's position in its input plane, h * W + w (int64)."""
    n, c, kh, kw, ho, wo = onehot.shape
    (sh, sw), (dh, dw) = stride, dilation
    i, j = np.divmod(np.argmax(onehot.reshape((n, c, kh * kw, ho, wo)), axis=2), kw)
    rows = (np.arange(ho) * sh - pads[0]).reshape(ho, 1) + i * dh
    cols = np.arange(wo) * sw - pads[2] + j * dw
    return (rows * shape[3] + cols).astype(np.int64)


@primitive(save="x out", params="kernel stride pads dilation", public=False)
class max_pool2d:
    """out[n, c, p, q] = max over the window (p, q) of xpad (padding is -inf).

    The max equals one element of its window, so d out / d x is 1 at that element (the
    argmax) and 0 elsewhere. With ties PyTorch sends the whole gradient to one element,
    the first maximum in row-major window order, and so do we (a valid subgradient;
    ``gg.max`` splits ties evenly instead). The argmax is recomputed from x and out in
    the backward; it is a constant, so the higher-order path uses it too.
    VJP: gx = col2im(onehot(argmax) * g): g added at each window's argmax (overlapping
    windows accumulate).
    JVP: t_out = tx at each window's argmax = sum over the window of onehot * im2col(tx).
    """

    def call(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
             ceil_mode=False, return_indices=False):
        """Max over each ``kernel_size`` window (stride defaults to the kernel size).

        ``ceil_mode`` rounds the output size up (windows may overhang the bottom and
        right edges); ``return_indices`` also returns each maximum's position in its
        input plane (``h * W + w``, an int64 Tensor, as PyTorch's indices).

        >>> F.max_pool2d(gg.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
        >>> F.max_pool2d(gg.arange(9.0).reshape(1, 1, 3, 3), 2, ceil_mode=True,
        ...              return_indices=True)[1]
        tensor([[[[4, 5],
                  [7, 8]]]])
        """
        return max_pool2d_checked(input, *pool_args("max_pool2d", kernel_size, stride,
                                                    padding, dilation),
                                  ceil_mode, return_indices)

    def forward(x, kernel, stride, pads, dilation):
        return _window_max(x, kernel, stride, pads, dilation)

    def vjp_x(g, out, x, kernel, stride, pads, dilation):
        onehot = _winner_masks(x, out, kernel, stride, pads, dilation)
        n, c, ho, wo = g.shape
        gcols = onehot * g.reshape((n, c, 1, 1, ho, wo))
        return call(col2im, (gcols,), (tuple(x.shape), kernel, stride, pads, dilation))

    def jvp_x(tx, out, x, kernel, stride, pads, dilation):
        onehot = _winner_masks(x, out, kernel, stride, pads, dilation)
        cols = call(im2col, (tx,), (kernel, stride, pads, dilation, tuple(x.shape)))
        return np.sum(onehot * cols, axis=(2, 3))


def max_pool2d_checked(x, kernel, stride, padding, dilation=(1, 1), ceil_mode=False,
                       return_indices=False, name="max_pool2d"):
    """Check the input's shape, then apply the primitive (arguments already pairs)."""
    xs = shape_of(x)
    pads, _ = pool_geometry(name, xs, kernel, stride, padding, dilation, ceil_mode)
    out = apply(max_pool2d, (x,), (kernel, stride, pads, dilation))
    if not return_indices:
        return out
    onehot = _winner_masks(x, out, kernel, stride, pads, dilation)
    return out, Tensor._wrap(_flat_indices(onehot, xs, kernel, stride, pads, dilation))


# --- average pooling ----------------------------------------------------------------------

def _window_sum(x, kernel, stride, pads, out_hw):
    xp = _pad(x, pads)
    slices = offset_slices(kernel, stride, (1, 1), out_hw)
    out = xp[slices[0]]
    for sl in slices[1:]:
        out = out + xp[sl]
    return out


def _divisor(shape, kernel, stride, padding, count_include_pad, divisor_override, dtype):
    """What each window's sum is divided by: a number, or an (Ho, Wo) array of counts."""
    if divisor_override:
        return float(divisor_override)
    if count_include_pad or padding == (0, 0):
        return float(kernel[0] * kernel[1])
    ones = np.ones((1, 1) + tuple(shape[2:]), dtype=dtype)
    hw = (shape[2] + 2 * padding[0] - kernel[0]) // stride[0] + 1, \
        (shape[3] + 2 * padding[1] - kernel[1]) // stride[1] + 1
    return _window_sum(ones, kernel, stride, sides(padding), hw)


@primitive(params="kernel stride padding divisor shape", public=False)
class avg_pool2d:
    """out[n, c, p, q] = (sum over the window (p, q) of xpad) / d  (padding is 0).

    d is kh*kw (``count_include_pad=True``, PyTorch's default), the number of real input
    elements in the window (``False``), or ``divisor_override``. Each element of the
    window contributes 1/d: the op is linear, and its adjoint spreads g/d evenly back
    over each window.
    VJP: gx = col2im(g / d repeated over the kh*kw offsets).
    JVP: t_out = avg_pool2d(tx).
    """

    def call(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
             count_include_pad=True, divisor_override=None):
        """Mean over each ``kernel_size`` window, PyTorch's divisor rules.

        >>> F.avg_pool2d(gg.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 2.5,  4.5],
                  [10.5, 12.5]]]])
        """
        _unsupported("avg_pool2d", ceil_mode=ceil_mode)
        kernel, stride, padding, _ = pool_args("avg_pool2d", kernel_size, stride, padding)
        return avg_pool2d_checked(input, kernel, stride, padding, count_include_pad,
                                  divisor_override)

    def forward(x, kernel, stride, padding, divisor, shape):
        hw = ((x.shape[2] + 2 * padding[0] - kernel[0]) // stride[0] + 1,
              (x.shape[3] + 2 * padding[1] - kernel[1]) // stride[1] + 1)
        return _window_sum(x, kernel, stride, sides(padding), hw) / divisor

    def vjp_x(g, out, x, kernel, stride, padding, divisor, shape):
        n, c, ho, wo = g.shape
        share = (g / divisor).reshape((n, c, 1, 1, ho, wo))
        gcols = np.broadcast_to(share, (n, c) + tuple(kernel) + (ho, wo))
        return call(col2im, (gcols,), (shape, kernel, stride, sides(padding), (1, 1)))

    def jvp_x(tx, out, x, kernel, stride, padding, divisor, shape):
        return call(avg_pool2d, (tx,), (kernel, stride, padding, divisor, shape))


def avg_pool2d_checked(x, kernel, stride, padding, count_include_pad=True,
                       divisor_override=None, name="avg_pool2d"):
    shape = shape_of(x)
    pool_geometry(name, shape, kernel, stride, padding, (1, 1), False)
    dtype = getattr(x, "dtype", None) or np.result_type(x)
    divisor = _divisor(shape, kernel, stride, padding, count_include_pad, divisor_override,
                       dtype)
    return apply(avg_pool2d, (x,), (kernel, stride, padding, divisor, shape))


def _unsupported(name, **flags):
    for flag, value in flags.items():
        if value:
            raise NotImplementedError(f"{name}: {flag}={value!r} is not supported by glassgrad")


__test__ = {"max_pool2d": max_pool2d.call, "avg_pool2d": avg_pool2d.call}  # doctests
