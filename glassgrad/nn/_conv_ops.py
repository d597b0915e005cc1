"""Convolution as matrix multiplication: im2col, its adjoint col2im, and conv2d.

im2col copies every kh x kw window of the (zero-padded) input into a column, so that a
convolution becomes one matrix product per image (and per group)::

    cols[n, c, i, j, p, q] = xpad[n, c, p*sh + i*dh, q*sw + j*dw]     (N, C, kh, kw, Ho, Wo)
    out[n, o, :]           = W2[o, :] @ cols2[n, :, :] + b[o]       W2 = W.reshape(O, C*kh*kw)

with ``Ho = (H + pt + pb - dh*(kh - 1) - 1) // sh + 1`` (likewise Wo): the dilation d
spaces the kernel's taps d pixels apart, so a window spans d*(k - 1) + 1 pixels. The
windows are read through ``np.lib.stride_tricks.as_strided`` (a view, no copy) and
copied once into that layout, so the product needs no transpose and its result is
already NCHW. Padding is given per side, ``pads = (top, bottom, left, right)``: conv2d
pads symmetrically, max-pooling's ``ceil_mode`` adds windows that overhang the bottom
and right edges.

Reading windows copies each input pixel into up to kh*kw columns, so the adjoint of
im2col (col2im) adds every column entry back onto the pixel it came from. It is written
without accumulating into a buffer, as two 1-D *overlap-adds* (:func:`_overlap_add`),
first along the width, then along the height; where the windows do not overlap
(stride >= kernel, no dilation) every pixel is read at most once and col2im is a
transpose and a reshape.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from .. import ops
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


def out_size(h: int, w: int, kernel, stride, padding, dilation=(1, 1)) -> tuple:
    """Output height and width of a window op with symmetric ``padding`` (floor mode,
    as PyTorch's default): ``(H + 2p - d*(k - 1) - 1) // s + 1``."""
    return ((h + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1,
            (w + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1)


def sides(padding) -> tuple:
    """Symmetric ``(ph, pw)`` as per-side ``(top, bottom, left, right)``."""
    return (padding[0], padding[0], padding[1], padding[1])


def _pad(x, pads, value=0.0):
    top, bottom, left, right = pads
    if not (top or bottom or left or right):
        return x
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def windows(x, kernel, stride, pads, dilation, value=0.0):
    """Strided view of every window: shape (N, C, Ho, Wo, kh, kw), no copy (but the pad).

    Element [n, c, p, q, i, j] is xpad[n, c, p*sh + i*dh, q*sw + j*dw]: moving one output
    position steps sh (sw) rows (columns) of the input, moving within the window steps
    dh (dw). ``as_strided`` states exactly that with the input's own strides; it is
    ``sliding_window_view`` without that function's Python overhead (it matters: layers
    are called every step).
    """
    xp = _pad(x, pads, value)
    n, c, h, w = xp.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    s_n, s_c, s_h, s_w = xp.strides
    ho, wo = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    if type(xp) is not np.ndarray:
        # another registered array type (a tracer's symbolic array): as_strided would
        # turn it into a plain ndarray; sliding_window_view dispatches and is the same view
        span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        return sliding_window_view(xp, span, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    return as_strided(xp, shape=(n, c, ho, wo, kh, kw),
                      strides=(s_n, s_c, s_h * sh, s_w * sw, s_h * dh, s_w * dw),
                      writeable=False)


@functools.lru_cache(maxsize=256)
def offset_slices(kernel, stride, dilation, out_hw):
    """For each kernel offset (i, j), row-major: the slice of the padded input that the
    offset reads at every output position, ``xpad[:, :, i*dh::sh, j*dw::sw]`` cut to
    (Ho, Wo)."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    return [(slice(None), slice(None), slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
             slice(j * dw, j * dw + sw * (wo - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


def _im2col_array(x, kernel, stride, pads, dilation):
    cols = windows(x, kernel, stride, pads, dilation).transpose(0, 1, 4, 5, 2, 3)
    # np.ascontiguousarray does not dispatch: another array type (a traced one) copies
    return np.ascontiguousarray(cols) if type(cols) is np.ndarray else cols.copy()


def _place(a, axis: int, size: int, before: int = 0):
    """``a`` moved ``before`` places along ``axis`` into a zero line of length ``size`` (cut
    there if it is longer): a slice, or one concatenation with zeros, never a write into
    existing memory."""
    cur = a.shape[axis]
    if before + cur > size:
        a = a[(slice(None),) * axis + (slice(0, size - before),)]
        cur = size - before
    if before == 0 and cur == size:
        return a
    # C-ordered zeros make the result C-contiguous even for a transposed ``a`` (so the
    # reshapes that follow are views, not copies)
    def zeros(m):
        return np.zeros_like(a, shape=a.shape[:axis] + (m,) + a.shape[axis + 1:], order="C")
    parts = ([zeros(before)] if before else []) + [a] + (
        [zeros(size - before - cur)] if size > before + cur else [])
    return np.concatenate(parts, axis=axis)


def _overlap_add(c, axis: int, stride: int, dilation: int):
    """The 1-D adjoint of reading windows: ``out[y] = sum of c[i, p] over y = p*s + i*d``.

    ``c`` holds the kernel tap i on ``axis`` (k of them) and the window position p on
    ``axis + 1`` (n of them); other axes ride along. The output has
    ``width = (n - 1)*s + (k - 1)*d + 1`` entries on ``axis`` (and ``axis + 1`` is gone).

    Stride 1: the k rows, each zero-extended to length R = width + d, are laid end to
    end and read back as rows of length R - d = width: row i starts at i*R = i*width +
    i*d, so entry p of row i lands in column p + i*d, exactly where tap i belongs (no data
    crosses into the next row). Summing the k re-read rows is the answer: one copy and
    k - 1 additions.

    Stride s > 1: y = p*s + i*d falls in phase r = (i*d) mod s, at position
    P = p + (i*d) // s of that phase's grid. The taps of one phase are every (s/g)-th
    (g = gcd(s, d)), their grid offsets d/g apart: a stride-1 overlap-add with dilation
    d/g, shifted by the first tap's offset. The s phases are then interleaved (stacked
    and reshaped): out[P*s + r] = phase_r[P].
    """
    shape = c.shape
    k, n = shape[axis], shape[axis + 1]
    width = (n - 1) * stride + (k - 1) * dilation + 1
    cut = (slice(None),) * axis
    if stride == 1:
        lead, trail = shape[:axis], shape[axis + 2:]
        row = width + dilation
        c = _place(c, axis + 1, row)
        flat = c.reshape(lead + (k * row,) + trail)[cut + (slice(0, k * width),)]
        rows = flat.reshape(lead + (k, width) + trail)
        out = rows[cut + (0,)]
        for i in range(1, k):
            out = out + rows[cut + (i,)]
        return out
    g = math.gcd(stride, dilation)
    length = -(-width // stride)  # positions on each phase's grid
    phases = [None] * stride
    for i0 in range(min(k, stride // g)):  # the first tap of each phase that has taps
        taps = c[cut + (slice(i0, None, stride // g),)]
        part = _overlap_add(taps, axis, 1, dilation // g) if taps.shape[axis] > 1 \
            else taps[cut + (0,)]
        phases[(i0 * dilation) % stride] = _place(part, axis, length, (i0 * dilation) // stride)
    some = next(p for p in phases if p is not None)
    phases = [p if p is not None else np.zeros_like(some) for p in phases]
    out = np.stack(phases, axis=axis + 1)
    out = out.reshape(shape[:axis] + (length * stride,) + shape[axis + 2:])
    return out[cut + (slice(0, width),)]


_CHUNK_BYTES = 2 << 20
"""col2im works on at most this many bytes of columns at once: its intermediates then stay
in cache (and in the allocator's pool) instead of being faulted in afresh."""


def _col2im_array(cols, shape, kernel, stride, pads, dilation):
    per = max(1, _CHUNK_BYTES // max(1, cols[:1].nbytes))
    if shape[0] > per:  # a batch of images at a time, then joined
        return np.concatenate([
            _col2im_array(cols[i:i + per], (min(per, shape[0] - i),) + tuple(shape[1:]),
                          kernel, stride, pads, dilation)
            for i in range(0, shape[0], per)], axis=0)
    n, c, h, w = shape
    top, _, left, _ = pads
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    ho, wo = cols.shape[-2:]
    if dh == 1 and dw == 1 and sh >= kh and sw >= kw:
        # Disjoint windows: window (p, q) owns the sh x sw block at (p*sh, q*sw), tap
        # (i, j) its pixel (i, j) (zero where i >= kh or j >= kw). The blocks are
        # interleaved by two concatenations, into (N, C, Ho, Wo, sw) per block row i,
        # then (N, C, Ho, sh, Wo, sw): each copies whole rows, where one transposing copy
        # would step kw elements at a time (several times slower).
        zero = (np.zeros_like(cols, shape=(n, c, ho, wo, 1), order="C")
                if sh > kh or sw > kw else None)
        rows = [np.concatenate([cols[:, :, i, j, :, :, None] if j < kw else zero
                                for j in range(sw)], axis=-1)[:, :, :, None]
                if i < kh else None for i in range(sh)]
        rows = [r if r is not None else np.zeros_like(rows[0]) for r in rows]
        img = np.concatenate(rows, axis=3).reshape((n, c, ho * sh, wo * sw))
    else:
        img = _overlap_add(cols.transpose(0, 1, 2, 4, 3, 5), 4, sw, dw)  # (N, C, kh, Ho, W)
        img = _overlap_add(img, 2, sh, dh)  # (N, C, H, W)
    # rows no window reached (floor mode) are zero; rows in the padding are dropped
    img = _place(_place(img, 2, top + h), 3, left + w)
    return img[:, :, top:top + h, left:left + w] if top or left else img


def _window_args(who, kernel, stride, padding, dilation) -> tuple:
    kernel, stride, padding, dilation = (pair(kernel, "kernel_size", who),
                                         pair(stride, "stride", who),
                                         pair(padding, "padding", who),
                                         pair(dilation, "dilation", who))
    if min(kernel + stride + dilation) < 1 or min(padding) < 0:
        raise OpError(f"{who}: kernel_size, stride and dilation must be >= 1 and padding "
                      f">= 0, got {kernel}, {stride}, {dilation} and {padding}")
    return kernel, stride, sides(padding), dilation


@primitive(params="kernel stride pads dilation shape", public=False)
class im2col:
    """cols[n, c, i, j, p, q] = xpad[n, c, p*sh + i*dh, q*sw + j*dw]: every window as a column.

    (``shape``, x's shape, is a parameter because the VJP needs it and saves nothing.)

    Each output entry is a copy of one input pixel (or of the zero padding), so im2col is
    linear and its Jacobian is a 0/1 selection. The transpose of a selection adds each
    cotangent back where it was read from: that is col2im.
    VJP: gx = col2im(g).     JVP: t_out = im2col(tx).
    """

    def call(x, kernel, stride=1, padding=0, dilation=1):
        """Every ``kernel`` window of the NCHW input ``x`` as columns, (N, C, kh, kw, Ho, Wo).

        Differentiable (its VJP is :func:`col2im`). Works on Tensors and arrays.

        >>> im2col(np.zeros((2, 3, 5, 5)), 3).shape
        (2, 3, 3, 3, 3, 3)
        """
        kernel, stride, pads, dilation = _window_args("im2col", kernel, stride, padding,
                                                      dilation)
        return apply(im2col, (x,), (kernel, stride, pads, dilation, shape_of(x)))

    def forward(x, kernel, stride, pads, dilation, shape):
        return _im2col_array(x, kernel, stride, pads, dilation)

    def vjp_x(g, out, x, kernel, stride, pads, dilation, shape):
        return call(col2im, (g,), (shape, kernel, stride, pads, dilation))

    def jvp_x(tx, out, x, kernel, stride, pads, dilation, shape):
        return call(im2col, (tx,), (kernel, stride, pads, dilation, shape))


@primitive(params="shape kernel stride pads dilation", public=False)
class col2im:
    """out = the (N, C, H, W) image whose pixels sum the column entries read from them.

    col2im is the adjoint of im2col: <im2col(x), c> = <x, col2im(c)>, so its own
    Jacobian is the transpose of im2col's.
    VJP: gc = im2col(g).     JVP: t_out = col2im(tc).
    """

    def call(cols, shape, kernel, stride=1, padding=0, dilation=1):
        """Sum columns (N, C, kh, kw, Ho, Wo) back onto an NCHW image of ``shape``."""
        kernel, stride, pads, dilation = _window_args("col2im", kernel, stride, padding,
                                                      dilation)
        shape = tuple(shape)
        want = shape[:2] + kernel + out_size(shape[2], shape[3], kernel, stride, pads[::2],
                                             dilation)
        if shape_of(cols) != want:
            raise OpError(f"col2im: columns for an image of shape {shape} with kernel "
                          f"{kernel}, stride {stride}, padding {pads[::2]}, dilation "
                          f"{dilation} must have shape {want}, got {shape_of(cols)}")
        return apply(col2im, (cols,), (shape, kernel, stride, pads, dilation))

    def forward(cols, shape, kernel, stride, pads, dilation):
        return _col2im_array(cols, shape, kernel, stride, pads, dilation)

    def vjp_cols(g, out, cols, shape, kernel, stride, pads, dilation):
        return call(im2col, (g,), (kernel, stride, pads, dilation, shape))

    def jvp_cols(tc, out, cols, shape, kernel, stride, pads, dilation):
        return call(col2im, (tc,), (shape, kernel, stride, pads, dilation))


# --- conv2d -----------------------------------------------------------------------------

def _weight2(w, groups: int):
    """The weight as (O, C/G*kh*kw), or (G, O/G, C/G*kh*kw) when grouped."""
    o = w.shape[0]
    return w.reshape((o, -1)) if groups == 1 else w.reshape((groups, o // groups, -1))


def _columns(x, w, stride, padding, dilation, groups, stash):
    """im2col(x) per group, (N, K, L) or (N, G, K/G, L): from the stash on the array path,
    recomputed by the recorded im2col when x is a Tensor (so it differentiates)."""
    if stash is not None and stash.values is not None and is_array(x):
        return stash.values
    kernel = tuple(w.shape[2:])
    cols = call(im2col, (x,), (kernel, stride, sides(padding), dilation, tuple(x.shape)))
    n, lo = x.shape[0], cols.shape[-2] * cols.shape[-1]
    return cols.reshape((n, -1, lo)) if groups == 1 else cols.reshape((n, groups, -1, lo))


@primitive(save="x w", params="stride padding dilation groups stash", public=False,
           on_release=release_stash)
class conv2d:
    """out[n, o] = b[o] + sum over c, i, j of w[o, c, i, j] * xpad[n, g(o)*C/G + c,
    p*sh + i*dh, q*sw + j*dw]  (c over the C/G channels of o's group g(o)).

    With cols = im2col(x) flattened to (N, K, L), K = C*kh*kw, L = Ho*Wo, and
    W2 = w.reshape(O, K), the forward is one matmul per image: out[n] = W2 @ cols[n] + b.
    With G groups the channels split into G independent convolutions: cols is
    (N, G, K/G, L), W2 is (G, O/G, K/G), and out[n, g] = W2[g] @ cols[n, g] (a batched
    matmul; depthwise is G = C). Dilation only changes which pixels the columns copy,
    so it lives entirely in im2col/col2im. The op is linear in each of x, w, b
    separately, so each VJP is a product with the other:

    * gw: d out[n,g,o,l] / d W2[g,o,k] = cols[n,g,k,l], so gW2[g] = sum_n g[n,g] @ cols[n,g].T
      (a matmul with the columns, reused from the forward);
    * gx: d out[n,g,o,l] / d cols[n,g,k,l] = W2[g,o,k], so gcols[n,g] = W2[g].T @ g[n,g];
      cols are copies of pixels, so gx = col2im(gcols) adds each entry back onto its pixel;
    * gb: every out[n,o,:] contains b[o] once: gb[o] = sum over n and positions of g.

    VJP: gw = sum_n g[n] @ cols[n].T,  gx = col2im(W2.T @ g),  gb = g.sum((0, 2, 3))
         (per group).
    JVP: t_out = conv2d(tx, w) + conv2d(x, tw) + tb  (bilinear in (x, w), plus b).
    """

    def call(input, weight, bias=None, stride=1, padding=0, dilation=1,  # noqa: A002
             groups=1):
        """2-D convolution (cross-correlation, as PyTorch) of NCHW ``input`` with
        ``weight`` (C_out, C_in/groups, kH, kW).

        Checks the shapes and names them on a mismatch; ``padding`` may be an int, a pair,
        ``'valid'`` (no padding) or ``'same'`` (stride 1: output size = input size; an
        even dilated extent pads one more row/column at the bottom/right, as PyTorch).
        ``dilation`` spaces the kernel's taps; ``groups`` splits the channels into
        independent convolutions (``groups=C_in``: depthwise).

        >>> conv2d(gg.ones(1, 4, 5, 5), gg.ones(6, 2, 3, 3), groups=2, dilation=2).shape
        (1, 6, 1, 1)
        """
        stride, padding, dilation, extra = conv_args(shape_of(weight), stride, padding,
                                                     dilation, "conv2d")
        return conv2d_checked(input, weight, bias, stride, padding, dilation,
                              _groups(groups, "conv2d"), extra, "conv2d")

    def forward(x, w, b, stride, padding, dilation, groups, stash):
        n, o = x.shape[0], w.shape[0]
        cols = _im2col_array(x, w.shape[2:], stride, sides(padding), dilation)
        ho, wo = cols.shape[-2:]
        cols = cols.reshape((n, -1, ho * wo) if groups == 1 else (n, groups, -1, ho * wo))
        if stash is not None:
            stash.values = cols
        out = np.matmul(_weight2(w, groups), cols).reshape((n, o, ho * wo))
        if b is not None:
            out += b.reshape(1, o, 1)
        return out.reshape(n, o, ho, wo)

    def vjp_x(g, out, x, w, b, stride, padding, dilation, groups, stash):
        n, o, ho, wo = g.shape
        gcols = np.matmul(np.swapaxes(_weight2(w, groups), -1, -2),
                          _group_out(g, groups))
        kernel = tuple(w.shape[2:])
        shape6 = (n, x.shape[1]) + kernel + (ho, wo)
        return call(col2im, (gcols.reshape(shape6),),
                    (tuple(x.shape), kernel, stride, sides(padding), dilation))

    def vjp_w(g, out, x, w, b, stride, padding, dilation, groups, stash):
        cols = _columns(x, w, stride, padding, dilation, groups, stash)
        gw = np.matmul(_group_out(g, groups), np.swapaxes(cols, -1, -2)).sum(axis=0)
        return gw.reshape(w.shape)

    def vjp_b(g, out, x, w, b, stride, padding, dilation, groups, stash):
        return g.sum(axis=(0, 2, 3))

    def jvp_x(tx, out, x, w, b, stride, padding, dilation, groups, stash):
        return call(conv2d, (tx, w, None), (stride, padding, dilation, groups, None))

    def jvp_w(tw, out, x, w, b, stride, padding, dilation, groups, stash):
        return call(conv2d, (x, tw, None), (stride, padding, dilation, groups, None))

    def jvp_b(tb, out, x, w, b, stride, padding, dilation, groups, stash):
        return np.broadcast_to(tb.reshape((1, -1, 1, 1)), out.shape)


def _group_out(g, groups):
    """The output cotangent (N, O, Ho, Wo) as (N, O, L), or (N, G, O/G, L) when grouped."""
    n, o = g.shape[:2]
    return g.reshape((n, o, -1)) if groups == 1 else g.reshape((n, groups, o // groups, -1))


def _groups(groups, who) -> int:
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise OpError(f"{who}: groups must be a positive integer, got {groups!r}")
    return int(groups)


def conv_args(ws, stride, padding, dilation, who) -> tuple:
    """Normalise stride, padding and dilation to pairs (resolving 'same'/'valid'),
    validated. Returns ``(stride, padding, dilation, extra)``: ``extra`` is the one more
    row and column that 'same' pads at the bottom and right when the dilated kernel's
    extent d*(k - 1) is odd (PyTorch pads that asymmetrically), else ``(0, 0)``."""
    if len(ws) != 4:
        raise OpError(f"{who}: weight must be 4-D (out_channels, in_channels/groups, kH, "
                      f"kW), got shape {ws}")
    stride = pair(stride, "stride", who)
    dilation = pair(dilation, "dilation", who)
    if min(stride) < 1 or min(dilation) < 1:
        raise OpError(f"{who}: stride and dilation must be >= 1, got stride {stride} and "
                      f"dilation {dilation}")
    extra = (0, 0)
    if isinstance(padding, str):
        padding, extra = _string_padding(padding, ws, stride, dilation, who)
    padding = pair(padding, "padding", who)
    if min(padding) < 0:
        raise OpError(f"{who}: padding must be >= 0, got {padding}")
    return stride, padding, dilation, extra


def conv2d_checked(x, weight, bias, stride, padding, dilation, groups, extra, who):
    """Check the input against the weight, then apply the primitive (stride, padding and
    dilation already pairs, ``extra`` as from :func:`conv_args`). ``who`` names the caller
    in errors (the op, or a layer)."""
    xs, ws = shape_of(x), shape_of(weight)
    check_input_dtype(who, x, weight)
    if len(xs) != 4:
        raise OpError(f"{who}: input must be 4-D (N, C, H, W), got shape {xs}" + (
            "; for one image add a batch axis: x.reshape(1, *x.shape)" if len(xs) == 3
            else ""))
    if groups != 1 and ws[0] % groups:
        raise OpError(f"{who}: with groups={groups} the weight's out_channels must be "
                      f"divisible by {groups}, got weight shape {ws}")
    if xs[1] != ws[1] * groups:
        if groups == 1:
            raise OpError(f"{who}: input has {xs[1]} channels (shape {xs}) but the weight "
                          f"expects {ws[1]} (weight shape {ws}); in_channels must match")
        raise OpError(f"{who}: input has {xs[1]} channels (shape {xs}) but the weight of "
                      f"shape {ws} with groups={groups} expects {ws[1]} x {groups} = "
                      f"{ws[1] * groups} (its axis 1 is in_channels / groups)")
    if bias is not None and shape_of(bias) != (ws[0],):
        raise OpError(f"{who}: bias must have shape ({ws[0]},), got {shape_of(bias)}")
    if extra != (0, 0):  # 'same' with an odd total padding: the extra row/column first
        x = ops.pad(x, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
        xs = shape_of(x)
    ho, wo = out_size(xs[2], xs[3], ws[2:], stride, padding, dilation)
    if ho < 1 or wo < 1:
        span = tuple(d * (k - 1) + 1 for d, k in zip(dilation, ws[2:]))
        raise OpError(f"{who}: kernel {ws[2:]} (spanning {span} with dilation {dilation}) "
                      f"is larger than the padded input ({xs[2] + 2 * padding[0]}, "
                      f"{xs[3] + 2 * padding[1]}) of shape {xs}")
    return apply(conv2d, (x, weight, bias), (stride, padding, dilation, groups, Stash()))


def _string_padding(padding: str, ws, stride, dilation, who) -> tuple:
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        if stride != (1, 1):
            raise OpError(f"{who}: padding='same' is not supported for strided "
                          f"convolutions (stride {stride}); give the padding as numbers")
        total = [d * (k - 1) for d, k in zip(dilation, ws[2:])]
        return (total[0] // 2, total[1] // 2), (total[0] % 2, total[1] % 2)
    raise OpError(f"{who}: padding must be an int, a pair, 'valid' or 'same', got "
                  f"{padding!r}")


__test__ = {"im2col": im2col.call, "conv2d": conv2d.call}  # the calls' examples (doctest)
