"""Shape primitives: they move elements around without changing them.

Each one's derivative is a permutation (or a copy pattern), so each VJP moves the
cotangent back: reshape undoes reshape, transpose applies the inverse permutation,
broadcast_to sums over what it stretched, concatenate slices the pieces back out.
"""

from __future__ import annotations

import operator

import numpy as np

from ..backend import shape_of
from ..broadcast import sum_to
from ..primitive import LINEAR, OpError, apply, op, primitive
from .indexing import getitem

__all__ = [
    "reshape", "transpose", "swapaxes", "squeeze", "expand_dims", "broadcast_to",
    "flatten", "concatenate", "stack", "pad", "split",
]



@primitive(params="newshape shape", jvp=LINEAR, numpy=np.reshape, method=True)
class reshape:
    """out = x with a new shape (same elements, row-major order);  d out/dx = identity.

    VJP: gx = g reshaped to x's shape.     JVP: t_out = tx reshaped.
    """

    def call(x, *shape, newshape=None):
        """Give ``x`` a new shape with the same number of elements (one entry may be -1).

        The shape is one tuple or several ints (``t.reshape(2, 3)``), as NumPy's.
        """
        if newshape is not None:  # np.reshape(a, newshape=...)
            shape = (newshape,)
        if len(shape) == 1:
            shape = shape[0]
        if isinstance(shape, (int, np.integer)):
            shape = (int(shape),)
        return apply(reshape, (x,), (tuple(shape), shape_of(x)))

    def forward(x, newshape, shape):
        return np.reshape(x, newshape)

    def vjp_x(g, out, x, newshape, shape):
        return g.reshape(shape)

    def explain(err, x, newshape=None, shape=None):
        return OpError(
            f"reshape: cannot reshape an input of shape {shape} ({int(np.prod(shape))} "
            f"elements) into shape {newshape}"
        )


@primitive(params="axes", jvp=LINEAR, numpy=np.transpose, method=True)
class transpose:
    """out = x with its axes permuted by ``axes``;  d out/dx = the same permutation.

    VJP: gx = g transposed by the inverse permutation (argsort of axes).
    JVP: t_out = tx transposed by axes.
    """

    def call(x, *axes_given, axes=None):
        """Permute the axes (reverse them when ``axes`` is None), as ``np.transpose``.

        Two separate ints swap those two axes, as PyTorch's ``x.transpose(0, 1)`` (NumPy
        reads them as a whole permutation, which for more than 2 axes is an error, and for
        a 2-D tensor agrees except on the identity ``(0, 1)``, which nobody writes to mean
        "leave it"). A tuple is always NumPy's permutation: ``x.transpose((0, 1))``.

        ``axes`` is a permutation of the axes, as a sequence, as several ints
        (``t.transpose(1, 0)``) or (for a 1-d input) an int; negative axes count from
        the end.

        >>> import glassgrad as gg
        >>> gg.transpose(gg.zeros((2, 3, 4)), (2, 0, -2)).shape
        (4, 2, 3)
        """
        if len(axes_given) == 2 and all(isinstance(a, (int, np.integer)) for a in axes_given):
            return _swap(x, *axes_given)  # x.transpose(0, 1): PyTorch's swap (see below)
        if len(axes_given) == 1:
            axes = axes_given[0]
        elif axes_given:
            axes = axes_given
        return _transpose(x, axes)

    def forward(x, axes):
        return np.transpose(x, axes)

    def vjp_x(g, out, x, axes):
        return np.transpose(g, np.argsort(axes))


@primitive(params="newshape shape", jvp=LINEAR, numpy=np.broadcast_to, method=True)
class broadcast_to:
    """out = x repeated along stretched or added axes;  each x_i feeds several outputs.

    VJP: gx = g summed over the broadcast axes (sum_to).     JVP: t_out = broadcast(tx).
    """

    def call(x, shape):
        """Stretch ``x`` to ``shape`` by NumPy's broadcasting rules (a read-only view)."""
        if isinstance(shape, (int, np.integer)):
            shape = (int(shape),)
        return apply(broadcast_to, (x,), (tuple(shape), shape_of(x)))

    def forward(x, newshape, shape):
        return np.broadcast_to(x, newshape)

    def vjp_x(g, out, x, newshape, shape):
        return sum_to(g, shape)

    def explain(err, x, newshape=None, shape=None):
        return OpError(f"broadcast_to: cannot broadcast shape {shape} to {newshape}")


@primitive(variadic=True, params="axis bounds", jvp=LINEAR, numpy=np.concatenate)
class concatenate:
    """out = the inputs joined along ``axis``;  d out/dx_k = identity on x_k's block.

    VJP: gx_k = the slice of g that x_k occupies.     JVP: t_out = concatenate(t_k).
    """

    def call(xs, axis=0, *, dim=None):
        """Join a sequence of tensors along an existing axis (``dim=``: PyTorch's name)."""
        if dim is not None:
            axis = dim
        xs = tuple(xs)
        if not xs:
            raise OpError("concatenate: need at least one input")
        shapes = [shape_of(x) for x in xs]
        ndim = len(shapes[0])
        if ndim == 0:
            raise OpError("concatenate: zero-dimensional inputs cannot be concatenated")
        axis = int(axis) % ndim
        for s in shapes:
            if len(s) != ndim or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0]))
                                     if i != axis):
                raise OpError(
                    f"concatenate: shapes {shapes} must match except along axis {axis}"
                )
        bounds = tuple(np.cumsum([0] + [s[axis] for s in shapes]).tolist())
        return apply(concatenate, xs, (axis, bounds))

    def forward(xs, axis, bounds):
        return np.concatenate(xs, axis=axis)

    def vjp(g, out, xs, axis, bounds):
        lead = (slice(None),) * axis
        return tuple(g[lead + (slice(a, b),)] for a, b in zip(bounds[:-1], bounds[1:]))


@primitive(params="pad_width value", numpy=np.pad)
class pad:
    """out = x surrounded by a constant border;  d out/dx = identity on the interior.

    (Affine, not linear, when the border value is not 0: the tangent's border is 0.)
    VJP: gx = g with the border sliced off.     JVP: t_out = pad(tx) with zeros.
    """

    def call(x, pad_width, mode="constant", constant_values=0):
        """Pad with a constant border; ``pad_width`` as in ``np.pad``."""
        if mode != "constant":
            raise NotImplementedError(f"pad: only mode='constant' is supported, got {mode!r}")
        shape = shape_of(x)
        widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (len(shape), 2))
        widths = tuple((int(a), int(b)) for a, b in widths)
        if any(a < 0 or b < 0 for a, b in widths):
            raise OpError(f"pad: negative pad widths {widths}")
        return apply(pad, (x,), (widths, constant_values))

    def forward(x, pad_width, value):
        return np.pad(x, pad_width, mode="constant", constant_values=value)

    def vjp_x(g, out, x, pad_width, value):
        inner = tuple(slice(a, n - b) for (a, b), n in zip(pad_width, g.shape))
        return g[inner]

    def jvp_x(tx, out, x, pad_width, value):
        return np.pad(tx, pad_width, mode="constant", constant_values=0)


# --- public functions built on the primitives above ----------------------------------------

@op(method=("flatten", "ravel"))
def flatten(x, start_dim=0, end_dim=-1):
    """A 1-D copy of ``x`` (row-major), as ``ndarray.flatten``; with PyTorch's
    ``start_dim``/``end_dim`` only those axes are merged (``x.flatten(1)``: one row per
    sample)."""
    shape = shape_of(x)
    if not shape:
        return apply(reshape, (x,), ((1,), shape))
    if isinstance(start_dim, str):  # ndarray.flatten(order): only row-major exists here
        if start_dim not in ("C", "K", "A"):
            raise NotImplementedError(f"flatten: order={start_dim!r} is not supported")
        start_dim = 0
    ndim = len(shape)
    lo, hi = start_dim % ndim, end_dim % ndim
    if lo > hi:
        raise OpError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                      f"(input shape {shape})")
    new = shape[:lo] + (int(np.prod(shape[lo:hi + 1], dtype=np.int64)),) + shape[hi + 1:]
    return apply(reshape, (x,), (new, shape))


def _transpose(x, axes):
    shape = shape_of(x)
    ndim = len(shape)
    if axes is None:
        axes = tuple(range(ndim))[::-1]
    else:
        axes = _axes_list("transpose", axes, shape)
        if len(axes) != ndim:
            raise OpError(f"transpose: axes {axes} don't match an input of shape {shape} "
                          f"({ndim} axes)")
        axes = tuple(a % ndim for a in axes)
        if len(set(axes)) != ndim:
            raise OpError(f"transpose: axes {axes} repeat an axis (input shape {shape})")
    return apply(transpose, (x,), (axes,))


def _axes_list(op, axes, shape):
    """``axes`` (an int or a sequence of ints) as a tuple of ints, each in range."""
    items = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    try:
        items = tuple(operator.index(a) for a in items)
    except TypeError:
        raise TypeError(f"{op}: axes must be integers, got {axes!r}") from None
    ndim = len(shape)
    for a in items:
        if not -ndim <= a < ndim:
            raise OpError(f"{op}: axis {a} is out of range for an input of shape {shape} "
                          f"(valid: {-ndim} to {ndim - 1})")
    return items


def _swap(x, axis1, axis2):
    return swapaxes(x, axis1, axis2)


@op(numpy=np.swapaxes, method=True)
def swapaxes(x, axis1, axis2):
    """Exchange two axes (a transpose)."""
    ndim = len(shape_of(x))
    perm = list(range(ndim))
    try:
        perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    except IndexError:
        raise OpError(
            f"swapaxes: axes ({axis1}, {axis2}) out of range for a {ndim}-d input"
        ) from None
    return apply(transpose, (x,), (tuple(perm),))


@op(numpy=np.squeeze, method=True)
def squeeze(x, axis=None):
    """Remove axes of length one (all of them, or those in ``axis``)."""
    shape = shape_of(x)
    if axis is None:
        new = tuple(n for n in shape if n != 1)
    else:
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        axes = {a % len(shape) for a in axes}
        for a in axes:
            if shape[a] != 1:
                raise OpError(f"squeeze: axis {a} of shape {shape} has length {shape[a]}, not 1")
        new = tuple(n for i, n in enumerate(shape) if i not in axes)
    return apply(reshape, (x,), (new, shape))


@op(numpy=np.expand_dims, method=True)
def expand_dims(x, axis):
    """Insert axes of length one at ``axis`` (int or tuple), as ``np.expand_dims``."""
    shape = shape_of(x)
    new = np.expand_dims(np.empty(shape, dtype=np.bool_), axis).shape
    return apply(reshape, (x,), (new, shape))






@op(numpy=np.stack)
def stack(xs, axis=0, *, dim=None):
    """Join tensors of equal shape along a new axis (``dim=``: PyTorch's name)."""
    if dim is not None:
        axis = dim
    xs = tuple(xs)
    if not xs:
        raise OpError("stack: need at least one input")
    shapes = {shape_of(x) for x in xs}
    if len(shapes) != 1:
        raise OpError(f"stack: all inputs must have the same shape, got {sorted(shapes)}")
    ndim = len(shapes.pop()) + 1
    axis = int(axis) % ndim
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)




@op(numpy=np.split)
def split(x, indices_or_sections, axis=0):
    """Split into a list of pieces along ``axis``, as ``np.split``.

    ``indices_or_sections`` is a number of equal pieces or a list of cut indices.
    Each piece is a slice of ``x``, so gradients flow back through indexing.
    """
    shape = shape_of(x)
    axis = int(axis) % len(shape)
    n = shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise OpError(f"split: axis {axis} of length {n} cannot be split into {k} "
                          "equal pieces")
        cuts = [i * (n // k) for i in range(1, k)]
    else:
        cuts = [int(c) for c in indices_or_sections]
    edges = [0] + cuts + [n]
    lead = (slice(None),) * axis
    return [getitem(x, lead + (slice(a, b),)) for a, b in zip(edges[:-1], edges[1:])]
