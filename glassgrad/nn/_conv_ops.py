"""Convolution as matrix multiplication: im2col, its adjoint col2im, and conv2d.

im2col copies every kh x kw window of the (zero-padded) input into a column, so that a
convolution becomes one matrix product per image::

    cols[n, c, i, j, p, q] = xpad[n, c, p*sh + i, q*sw + j]        (N, C, kh, kw, Ho, Wo)
    out[n, o, :]           = W2[o, :] @ cols2[n, :, :] + b[o]       W2 = W.reshape(O, C*kh*kw)

with ``Ho = (H + 2 ph - kh) // sh + 1`` (likewise Wo). The windows are read through
``np.lib.stride_tricks.as_strided`` (a view, no copy) and copied once into
that layout, so the product needs no transpose and its result is already NCHW.

Reading windows copies each input pixel into up to kh*kw columns, so the adjoint of
im2col (col2im) adds every column entry back onto the pixel it came from. It loops over
the kh*kw kernel offsets (each a strided slice add over all images, channels and output
positions at once), never over pixels.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..primitive import OpError, apply, primitive
from ._stash import Stash, call, check_input_dtype, is_array, release_stash, shape_of

__all__ = ["im2col", "col2im", "conv2d", "out_size", "pair"]


def pair(v, name: str, what: str) -> tuple:
    """``3`` -> ``(3, 3)``; a pair stays a pair (PyTorch accepts both)."""
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    try:
        a, b = v
    except (TypeError, ValueError):
        raise TypeError(f"{what}: {name} must be an int or a pair of ints, got {v!r}") from None
    return (int(a), int(b))


def out_size(h: int, w: int, kernel, stride, padding) -> tuple:
    """Output height and width of a window op (floor mode, as PyTorch's default)."""
    return ((h + 2 * padding[0] - kernel[0]) // stride[0] + 1,
            (w + 2 * padding[1] - kernel[1]) // stride[1] + 1)


def _pad(x, padding, value=0.0):
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def windows(x, kernel, stride, padding, value=0.0):
    """Strided view of every window: shape (N, C, Ho, Wo, kh, kw), no copy (but the pad).

    Element [n, c, p, q, i, j] is xpad[n, c, p*sh + i, q*sw + j]: moving one output
    position steps sh (sw) rows (columns) of the input, moving within the window steps
    one. ``as_strided`` states exactly that with the input's own strides; it is
    ``sliding_window_view(xpad, kernel, axis=(2, 3))[:, :, ::sh, ::sw]`` without that
    function's Python overhead (it matters: layers are called every step).
    """
    xp = _pad(x, padding, value)
    n, c, h, w = xp.shape
    (kh, kw), (sh, sw) = kernel, stride
    s_n, s_c, s_h, s_w = xp.strides
    return as_strided(xp, shape=(n, c, (h - kh) // sh + 1, (w - kw) // sw + 1, kh, kw),
                      strides=(s_n, s_c, s_h * sh, s_w * sw, s_h, s_w), writeable=False)


@functools.lru_cache(maxsize=256)
def offset_slices(kernel, stride, out_hw):
    """For each kernel offset (i, j), row-major: the slice of the padded input that the
    offset reads at every output position, ``xpad[:, :, i::sh, j::sw]`` cut to (Ho, Wo)."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out_hw
    return [(slice(None), slice(None), slice(i, i + sh * (ho - 1) + 1, sh),
             slice(j, j + sw * (wo - 1) + 1, sw)) for i in range(kh) for j in range(kw)]


def _im2col_array(x, kernel, stride, padding):
    return np.ascontiguousarray(windows(x, kernel, stride, padding).transpose(0, 1, 4, 5, 2, 3))


def _col2im_array(cols, shape, kernel, stride, padding):
    n, c, h, w = shape
    ph, pw = padding
    gx = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    kh, kw = kernel
    for k, sl in enumerate(offset_slices(kernel, stride, cols.shape[-2:])):
        gx[sl] += cols[:, :, k // kw, k % kw]
    return gx[:, :, ph:ph + h, pw:pw + w] if ph or pw else gx


@primitive(params="kernel stride padding shape", name="im2col", public=False)
class im2col_:
    """cols[n, c, i, j, p, q] = xpad[n, c, p*sh + i, q*sw + j]: every window as a column.

    (``shape``, x's shape, is a parameter because the VJP needs it and saves nothing.)

    Each output entry is a copy of one input pixel (or of the zero padding), so im2col is
    linear and its Jacobian is a 0/1 selection. The transpose of a selection adds each
    cotangent back where it was read from: that is col2im.
    VJP: gx = col2im(g).     JVP: t_out = im2col(tx).
    """

    def forward(x, kernel, stride, padding, shape):
        return _im2col_array(x, kernel, stride, padding)

    def vjp_x(g, out, x, kernel, stride, padding, shape):
        return call(col2im_, (g,), (shape, kernel, stride, padding))

    def jvp_x(tx, out, x, kernel, stride, padding, shape):
        return call(im2col_, (tx,), (kernel, stride, padding, shape))


@primitive(params="shape kernel stride padding", name="col2im", public=False)
class col2im_:
    """out = the (N, C, H, W) image whose pixels sum the column entries read from them.

    col2im is the adjoint of im2col: <im2col(x), c> = <x, col2im(c)>, so its own
    Jacobian is the transpose of im2col's.
    VJP: gc = im2col(g).     JVP: t_out = col2im(tc).
    """

    def forward(cols, shape, kernel, stride, padding):
        return _col2im_array(cols, shape, kernel, stride, padding)

    def vjp_cols(g, out, cols, shape, kernel, stride, padding):
        return call(im2col_, (g,), (kernel, stride, padding, shape))

    def jvp_cols(tc, out, cols, shape, kernel, stride, padding):
        return call(col2im_, (tc,), (shape, kernel, stride, padding))


def im2col(x, kernel, stride=1, padding=0):
    """Every ``kernel`` window of the NCHW input ``x`` as columns, (N, C, kh, kw, Ho, Wo).

    Differentiable (its VJP is :func:`col2im`). Works on Tensors and arrays.

    >>> im2col(np.zeros((2, 3, 5, 5)), 3).shape
    (2, 3, 3, 3, 3, 3)
    """
    kernel, stride, padding = (pair(kernel, "kernel_size", "im2col"),
                               pair(stride, "stride", "im2col"),
                               pair(padding, "padding", "im2col"))
    return call(im2col_, (x,), (kernel, stride, padding, shape_of(x)))


def col2im(cols, shape, kernel, stride=1, padding=0):
    """Sum columns (N, C, kh, kw, Ho, Wo) back onto an NCHW image of ``shape``."""
    kernel, stride, padding = (pair(kernel, "kernel_size", "col2im"),
                               pair(stride, "stride", "col2im"),
                               pair(padding, "padding", "col2im"))
    shape = tuple(shape)
    want = shape[:2] + kernel + out_size(shape[2], shape[3], kernel, stride, padding)
    if shape_of(cols) != want:
        raise OpError(f"col2im: columns for an image of shape {shape} with kernel {kernel}, "
                      f"stride {stride}, padding {padding} must have shape {want}, got "
                      f"{shape_of(cols)}")
    return call(col2im_, (cols,), (shape, kernel, stride, padding))


# --- conv2d -----------------------------------------------------------------------------

def _columns(x, w, stride, padding, stash):
    """im2col(x) flattened to (N, C*kh*kw, Ho*Wo): from the stash on the array path."""
    if stash is not None and stash.values is not None and is_array(x):
        return stash.values
    kernel = tuple(w.shape[2:])
    cols = call(im2col_, (x,), (kernel, stride, padding, tuple(x.shape)))
    n = x.shape[0]
    return cols.reshape((n, cols.shape[1] * kernel[0] * kernel[1], -1))


@primitive(save="x w", params="stride padding stash", name="conv2d", public=False,
           on_release=release_stash)
class conv2d_:
    """out[n, o] = sum over c, i, j of w[o, c, i, j] * xpad[n, c, p*sh + i, q*sw + j] + b[o].

    With cols = im2col(x) flattened to (N, K, L), K = C*kh*kw, L = Ho*Wo, and
    W2 = w.reshape(O, K), the forward is one matmul per image: out[n] = W2 @ cols[n] + b.
    It is linear in each of x, w, b separately, so each VJP is a product with the other:

    * gw: d out[n,o,l] / d W2[o,k] = cols[n,k,l], so gW2 = sum_n g[n] @ cols[n].T
      (a matmul with the columns, reused from the forward);
    * gx: d out[n,o,l] / d cols[n,k,l] = W2[o,k], so gcols[n] = W2.T @ g[n]; cols are
      copies of pixels, so gx = col2im(gcols) adds each entry back onto its pixel;
    * gb: every out[n,o,:] contains b[o] once: gb[o] = sum over n and positions of g.

    VJP: gw = sum_n g[n] @ cols[n].T,  gx = col2im(W2.T @ g),  gb = g.sum((0, 2, 3)).
    JVP: t_out = conv2d(tx, w) + conv2d(x, tw) + tb  (bilinear in (x, w), plus b).
    """

    def forward(x, w, b, stride, padding, stash):
        n, o = x.shape[0], w.shape[0]
        ho, wo = out_size(x.shape[2], x.shape[3], w.shape[2:], stride, padding)
        cols = _im2col_array(x, w.shape[2:], stride, padding).reshape(n, -1, ho * wo)
        if stash is not None:
            stash.values = cols
        out = np.matmul(w.reshape(o, -1), cols)
        if b is not None:
            out += b.reshape(1, o, 1)
        return out.reshape(n, o, ho, wo)

    def vjp_x(g, out, x, w, b, stride, padding, stash):
        n, o = g.shape[:2]
        w2 = w.reshape((o, -1))
        gcols = np.matmul(w2.T, g.reshape((n, o, -1)))
        kernel = tuple(w.shape[2:])
        shape6 = (n, w.shape[1]) + kernel + tuple(g.shape[2:])
        return call(col2im_, (gcols.reshape(shape6),), (tuple(x.shape), kernel, stride, padding))

    def vjp_w(g, out, x, w, b, stride, padding, stash):
        n, o = g.shape[:2]
        cols = _columns(x, w, stride, padding, stash)
        gw = np.matmul(g.reshape((n, o, -1)), np.swapaxes(cols, 1, 2)).sum(axis=0)
        return gw.reshape(w.shape)

    def vjp_b(g, out, x, w, b, stride, padding, stash):
        return g.sum(axis=(0, 2, 3))

    def jvp_x(tx, out, x, w, b, stride, padding, stash):
        return call(conv2d_, (tx, w, None), (stride, padding, None))

    def jvp_w(tw, out, x, w, b, stride, padding, stash):
        return call(conv2d_, (x, tw, None), (stride, padding, None))

    def jvp_b(tb, out, x, w, b, stride, padding, stash):
        return np.broadcast_to(tb.reshape((1, -1, 1, 1)), out.shape)



def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation, as PyTorch) of NCHW ``x`` with OIHW ``weight``.

    Checks the shapes and names them on a mismatch; ``padding`` may be an int, a pair,
    ``'valid'`` (no padding) or ``'same'`` (stride 1, odd kernel: output size = input).
    """
    stride, padding = conv_args(shape_of(weight), stride, padding, "conv2d")
    return conv2d_checked(x, weight, bias, stride, padding, "conv2d")


def conv_args(ws, stride, padding, who) -> tuple:
    """Normalise stride and padding to pairs (resolving 'same'/'valid'), validated."""
    if len(ws) != 4:
        raise OpError(f"{who}: weight must be 4-D (out_channels, in_channels, kH, kW), got "
                      f"shape {ws}")
    stride = pair(stride, "stride", who)
    if isinstance(padding, str):
        padding = _string_padding(padding, ws, stride)
    padding = pair(padding, "padding", who)
    if min(stride) < 1 or min(padding) < 0:
        raise OpError(f"{who}: stride must be >= 1 and padding >= 0, got stride {stride} "
                      f"and padding {padding}")
    return stride, padding


def conv2d_checked(x, weight, bias, stride, padding, who):
    """Check the input against the weight, then apply the primitive (stride and padding
    already pairs). ``who`` names the caller in errors (the op, or a layer)."""
    xs, ws = shape_of(x), shape_of(weight)
    check_input_dtype(who, x, weight)
    if len(xs) != 4:
        raise OpError(f"{who}: input must be 4-D (N, C, H, W), got shape {xs}" + (
            "; for one image add a batch axis: x.reshape(1, *x.shape)" if len(xs) == 3
            else ""))
    if xs[1] != ws[1]:
        raise OpError(f"{who}: input has {xs[1]} channels (shape {xs}) but the weight "
                      f"expects {ws[1]} (weight shape {ws}); in_channels must match")
    if bias is not None and shape_of(bias) != (ws[0],):
        raise OpError(f"{who}: bias must have shape ({ws[0]},), got {shape_of(bias)}")
    ho, wo = out_size(xs[2], xs[3], ws[2:], stride, padding)
    if ho < 1 or wo < 1:
        raise OpError(f"{who}: kernel {ws[2:]} is larger than the padded input "
                      f"({xs[2] + 2 * padding[0]}, {xs[3] + 2 * padding[1]}) of shape {xs}")
    return apply(conv2d_, (x, weight, bias), (stride, padding, Stash()))


def _string_padding(padding: str, ws, stride) -> tuple:
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        if stride != (1, 1):
            raise OpError("conv2d: padding='same' is only supported with stride 1")
        if ws[2] % 2 == 0 or ws[3] % 2 == 0:
            raise NotImplementedError(
                "conv2d: padding='same' with an even kernel needs asymmetric padding, "
                "which glassgrad does not support; pad the input with gg.pad first")
        return (ws[2] // 2, ws[3] // 2)
    raise OpError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
