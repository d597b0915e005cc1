"""Arrangement: stacking, splitting, flipping, rolling, tiling, repeating, diagonals,
triangles and sort.

Every op here moves, copies or masks elements without computing new values, so each is
linear in its input and its VJP moves the cotangent back: ``flip`` is its own transpose,
``roll`` rolls back, and the compositions (``tile`` and ``repeat`` through
``broadcast_to``, ``diagonal`` and ``sort`` through indexing, the triangles through
``where``) inherit the summing-back of their parts.
"""

from __future__ import annotations

import operator
from collections import namedtuple

import numpy as np

from ..backend import array_of, operand, shape_of
from ..primitive import LINEAR, OpError, apply, op, primitive
from ..tensor import Tensor
from .elementwise import where
from .indexing import gather_along, getitem, unwrap_index
from .reduction import sum as _sum
from .shape import broadcast_to, concatenate, flatten, reshape, transpose

__all__ = [
    "vstack", "hstack", "array_split", "flip", "roll", "tile", "repeat", "diagonal",
    "trace", "tril", "triu", "sort",
]




def _int(name, what, v):
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"{name}: {what} must be an integer, got {v!r}") from None


def _axis(name, shape, axis):
    """``axis`` as an int in [0, ndim), or an OpError naming the op and the shape."""
    axis = _int(name, "axis", axis)
    ndim = len(shape)
    if not ndim:
        raise OpError(f"{name}: axis {axis} given for a 0-d input, which has no axes")
    if not -ndim <= axis < ndim:
        raise OpError(f"{name}: axis {axis} is out of range for an input of shape {shape} "
                      f"(valid: {-ndim} to {ndim - 1})")
    return axis % ndim


def _axes(name, shape, axis):
    """``axis`` (None: all; an int or a sequence) as a tuple of distinct axes in range."""
    if axis is None:
        return tuple(range(len(shape)))
    items = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(_axis(name, shape, a) for a in items)
    if len(set(axes)) != len(axes):
        raise OpError(f"{name}: axis {axis} repeats an axis (input shape {shape})")
    return axes


# --- joining and splitting ------------------------------------------------------------------

def _joined(name, pieces, axis):
    """concatenate(pieces, axis), its shape errors reworded for ``name``."""
    try:
        return concatenate(pieces, axis=axis)
    except OpError as err:
        raise OpError(f"{name}: {err} (after {name} gave the inputs shapes "
                      f"{[shape_of(p) for p in pieces]})") from None


@op(numpy=np.vstack)
def vstack(tup):
    """Stack row-wise: ``concatenate`` along axis 0 after making each input at least 2-d.

    As ``np.vstack``: a 0-d input becomes (1, 1) and a 1-d input of length n a row (1, n).
    A composite of reshape and concatenate (VJP: the slice of g each input occupies,
    reshaped back; JVP: vstack of the tangents).
    """
    pieces = []
    for x in tup:
        x = operand(x)
        shape = shape_of(x)
        if len(shape) < 2:
            x = reshape(x, (1, shape[0] if shape else 1))
        pieces.append(x)
    if not pieces:
        raise OpError("vstack: need at least one input")
    return _joined("vstack", pieces, 0)


@op(numpy=np.hstack)
def hstack(tup):
    """Stack column-wise, as ``np.hstack``: 1-d inputs are joined end to end (axis 0),
    others along axis 1; 0-d inputs count as 1-d of length 1.

    A composite of reshape and concatenate (VJP: the slice of g each input occupies;
    JVP: hstack of the tangents).
    """
    pieces = []
    for x in tup:
        x = operand(x)
        if not shape_of(x):
            x = reshape(x, (1,))
        pieces.append(x)
    if not pieces:
        raise OpError("hstack: need at least one input")
    return _joined("hstack", pieces, 0 if len(shape_of(pieces[0])) == 1 else 1)


@op(numpy=np.array_split)
def array_split(x, indices_or_sections, axis=0):
    """Split into a list of pieces along ``axis``, as ``np.array_split``.

    An int N gives N pieces whose lengths differ by at most one (the first n % N pieces
    are one longer); a sequence of indices gives the pieces between them, with Python's
    slice rules (past the end is empty, negative counts from the end). Each piece is a
    slice of ``x``, so the gradient of a piece flows back into its place (VJP: zeros
    with g in the piece's slice; JVP: the tangent's slice).
    """
    x = operand(x)
    shape = shape_of(x)
    if not shape:
        raise OpError("array_split: cannot split a 0-d input")
    axis = _axis("array_split", shape, axis)
    n = shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise OpError(f"array_split: the number of sections must be at least 1, got {k}")
        each, extra = divmod(n, k)
        sizes = [each + 1] * extra + [each] * (k - extra)
        edges = np.cumsum([0] + sizes).tolist()
    else:
        edges = [0] + [_int("array_split", "an index", i) for i in indices_or_sections] + [n]
    lead = (slice(None),) * axis
    return [getitem(x, lead + (slice(a, b),)) for a, b in zip(edges[:-1], edges[1:])]


# --- flipping and rolling -------------------------------------------------------------------

@primitive(params="axes", jvp=LINEAR, numpy=np.flip)
class flip:
    """out = x reversed along ``axes``: out[..., k, ...] = x[..., n-1-k, ...];  d out/dx a
    permutation that is its own inverse (and, being a permutation, its own transpose).

    VJP: gx = flip(g, axes).     JVP: t_out = flip(tx, axes).
    """

    def call(x, axis=None, *, dims=None):
        """Reverse the order of elements along ``axis`` (None: every axis; int or tuple;
        ``dims=`` is PyTorch's name)."""
        if dims is not None:
            axis = tuple(dims) if isinstance(dims, list) else dims
        x = operand(x)
        return apply(flip, (x,), (_axes("flip", shape_of(x), axis),))

    def forward(x, axes):
        return np.flip(x, axes)

    def vjp_x(g, out, x, axes):
        return np.flip(g, axes)


def _negated(shift):
    return -shift if isinstance(shift, int) else tuple(-s for s in shift)


@primitive(params="shift axis", jvp=LINEAR, numpy=np.roll)
class roll:
    """out = x shifted cyclically by ``shift`` along ``axis``: out_k = x_{(k - shift) mod n};
    d out/dx is a cyclic permutation, whose transpose (inverse) shifts by -shift.

    With ``axis=None`` the flattened input is rolled and the shape kept, as ``np.roll``.
    VJP: gx = roll(g, -shift, axis).     JVP: t_out = roll(tx, shift, axis).
    """

    def call(x, shift=None, axis=None, *, shifts=None, dims=None):
        """Roll elements by ``shift`` places along ``axis`` (ints or matching tuples);
        elements pushed off the end come back at the start. ``shifts=``/``dims=`` are
        PyTorch's names."""
        shift = shifts if shift is None else shift
        axis = dims if axis is None else axis
        if shift is None:
            raise TypeError("roll: missing shift (NumPy's shift=, PyTorch's shifts=)")
        x = operand(x)
        shape = shape_of(x)
        if isinstance(shift, (int, np.integer)):
            shift = int(shift)
        else:
            shift = tuple(_int("roll", "shift", s) for s in shift)
        if axis is not None:
            if isinstance(axis, (int, np.integer)):
                axis = _axis("roll", shape, axis)
            else:
                axis = tuple(_axis("roll", shape, a) for a in axis)
            try:
                np.broadcast(np.empty(np.shape(shift)), np.empty(np.shape(axis)))
            except ValueError:
                raise OpError(f"roll: shift {shift} and axis {axis} must be ints or "
                              "sequences of the same length") from None
        return apply(roll, (x,), (shift, axis))

    def forward(x, shift, axis):
        return np.roll(x, shift, axis)

    def vjp_x(g, out, x, shift, axis):
        return np.roll(g, _negated(shift), axis)


# --- copying: tile and repeat ---------------------------------------------------------------

@op(numpy=np.tile)
def tile(x, reps):
    """x repeated ``reps[i]`` times along each axis, as ``np.tile`` (the shorter of
    ``reps`` and x's shape is padded with leading 1s).

    A composite: x reshaped to (1, n_0, 1, n_1, ...), broadcast to (r_0, n_0, r_1, n_1,
    ...) and merged to (r_0 n_0, r_1 n_1, ...). Each x element feeds r_0 r_1 ... outputs,
    so the VJP (broadcast_to's) sums g over the copies; JVP: tile(tx, reps).
    """
    x = operand(x)
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    reps = tuple(_int("tile", "reps", r) for r in reps)
    if any(r < 0 for r in reps):
        raise OpError(f"tile: reps must be non-negative, got {reps}")
    shape = shape_of(x)
    d = max(len(reps), len(shape))
    full = (1,) * (d - len(shape)) + shape
    reps = (1,) * (d - len(reps)) + reps
    spread = tuple(v for r, n in zip(reps, full) for v in (r, n))
    ones = tuple(v for n in full for v in (1, n))
    return reshape(broadcast_to(reshape(x, ones), spread),
                   tuple(r * n for r, n in zip(reps, full)))


@op(numpy=np.repeat, method=True)
def repeat(x, *args, axis=None, repeats=None):
    """Each element repeated ``repeats`` times along ``axis``, as ``np.repeat``
    (``axis=None``: of the flattened input); ``repeats`` an int or one count per element.

    PyTorch's ``x.repeat(*sizes)`` (tiling) where NumPy's reading is impossible: three or
    more sizes, ``(k, axis)`` with no such axis, or a sequence that is not one count per
    element. ``x.repeat(2)`` stays NumPy's (elements repeated); for torch's tiling of a
    tensor write ``gg.tile(x, reps)`` (see README, "For PyTorch users").

    A composite. An int k: x gets a length-1 axis after ``axis``, broadcast to k and
    merged in, so the VJP sums the k copies back (a reshape-sum). Per-element counts:
    x indexed with each position listed ``repeats[i]`` times, so the VJP adds every
    copy's cotangent back into its source (indexing's scatter-add). JVP: repeat(tx).
    """
    x = operand(x)
    if repeats is not None:  # np.repeat(a, repeats=...)
        args = (repeats, *args)
    repeats, axis, sizes = _repeat_reading(x, args, axis)
    if sizes is not None:
        return tile(x, sizes)
    if axis is None or not shape_of(x):  # NumPy reads a 0-d input as 1-d here too
        x, axis = flatten(x), 0 if axis is None else axis
    shape = shape_of(x)
    axis = _axis("repeat", shape, axis)
    counts = np.asarray(unwrap_index(repeats))
    if counts.dtype.kind not in "iub" or counts.ndim > 1:
        raise TypeError(f"repeat: repeats must be an int or a 1-d sequence of ints, got "
                        f"{repeats!r}")
    if (counts < 0).any():
        raise OpError(f"repeat: repeats must be non-negative, got {repeats!r}")
    n = shape[axis]
    if counts.ndim == 0 or counts.size == 1:
        k = int(counts.reshape(()))
        inner = shape[:axis + 1] + (1,) + shape[axis + 1:]
        wide = shape[:axis + 1] + (k,) + shape[axis + 1:]
        merged = shape[:axis] + (n * k,) + shape[axis + 1:]
        return reshape(broadcast_to(reshape(x, inner), wide), merged)
    if counts.size != n:
        raise OpError(f"repeat: {counts.size} repeat counts for axis {axis} of length {n} "
                      f"(input shape {shape}); give one count per element, or one int")
    index = np.repeat(np.arange(n), counts)
    return getitem(x, (slice(None),) * axis + (index,))


def _repeat_reading(x, args, axis):
    """``(repeats, axis, None)`` for NumPy's reading of ``repeat(*args)``, or
    ``(None, None, sizes)`` for PyTorch's tiling where NumPy's reading is impossible."""
    shape = shape_of(x)
    if not args:
        raise TypeError("repeat: missing repeats (NumPy: repeat(repeats, axis=None))")
    ints = all(isinstance(a, (int, np.integer)) for a in args)
    if len(args) >= 3 and ints:
        return None, None, tuple(int(a) for a in args)
    if len(args) == 2 and ints and axis is None:
        if -len(shape) <= args[1] < len(shape):
            return args[0], args[1], None  # NumPy's (repeats, axis)
        return None, None, tuple(int(a) for a in args)
    if len(args) == 2:
        return args[0], args[1], None
    (repeats,) = args
    if isinstance(repeats, (tuple, list)) and axis is None:
        total = int(np.prod(shape, dtype=np.int64))
        if len(repeats) != total and len(repeats) >= len(shape) and all(
                isinstance(a, (int, np.integer)) for a in repeats):
            return None, None, tuple(int(a) for a in repeats)
    return repeats, axis, None


SortResult = namedtuple("sort", "values indices")
"""PyTorch's result of ``x.sort()``: the sorted values and where they came from."""


def sort_with_indices(x, dim=-1, descending=False):
    """PyTorch's ``x.sort(dim, descending)``: ``(values, indices)``, stable (ties keep
    their order in both directions); the values are differentiable (indexing)."""
    shape = shape_of(x)
    if not shape:
        return SortResult(x, Tensor._wrap(np.zeros((), dtype=np.int64)))
    axis = _axis("sort", shape, dim)
    data = array_of(x)
    perm = np.argsort(-data if descending else data, axis=axis, kind="stable")
    return SortResult(gather_along(x, perm, axis), Tensor._wrap(perm.astype(np.int64)))


# --- diagonals and triangles ----------------------------------------------------------------

@op(numpy=np.diagonal, method=True)
def diagonal(x, offset=0, axis1=0, axis2=1):
    """The diagonal x[..., i, i + offset] of the (axis1, axis2) planes, as ``np.diagonal``:
    those two axes are removed and the diagonal is the last axis of the result.

    A composite: x transposed so the two axes come last, then indexed with the diagonal's
    positions. The VJP (indexing's) writes g onto the diagonal of zeros of x's shape; the
    JVP is the tangent's diagonal.
    """
    return _diagonal("diagonal", x, offset, axis1, axis2)


def _diagonal(name, x, offset, axis1, axis2):
    x = operand(x)
    shape = shape_of(x)
    if len(shape) < 2:
        raise OpError(f"{name}: needs an input of at least 2 dimensions, got shape {shape}")
    a1, a2 = _axis(name, shape, axis1), _axis(name, shape, axis2)
    if a1 == a2:
        raise OpError(f"{name}: axis1 and axis2 are the same axis ({a1}) of shape {shape}")
    offset = _int(name, "offset", offset)
    rest = [a for a in range(len(shape)) if a not in (a1, a2)]
    order = tuple(rest + [a1, a2])
    if order != tuple(range(len(shape))):
        x = transpose(x, order)
    rows, cols = shape[a1], shape[a2]
    length = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
    i = np.arange(length) + max(-offset, 0)
    return getitem(x, (Ellipsis, i, i + offset))


@op(numpy=np.trace, method=True)
def trace(x, offset=0, axis1=0, axis2=1):
    """Sum of the diagonal, as ``np.trace``: ``diagonal(x, offset, axis1, axis2).sum(-1)``
    (for more than 2 axes, one trace per remaining index).

    A composite: VJP g broadcast onto the diagonal of zeros; JVP trace(tx).
    """
    return _sum(_diagonal("trace", x, offset, axis1, axis2), axis=-1)


def _triangle(name, x, k, lower):
    x = operand(x)
    shape = shape_of(x)
    if not shape:
        raise OpError(f"{name}: needs an input of at least 1 dimension, got a 0-d one")
    k = _int(name, "k", k)
    plane = shape[-2:]  # a 1-d input of length n is read as n copies of itself (n, n)
    mask = np.tri(*plane, k=k, dtype=bool) if lower else ~np.tri(*plane, k=k - 1, dtype=bool)
    dtype = array_of(x).dtype
    return where(mask, x, np.zeros((), dtype=dtype))


@op(numpy=np.tril)
def tril(x, k=0):
    """The lower triangle of the last two axes: out = x where j <= i + k, else 0.

    A composite of ``where`` with a constant mask, so linear: VJP gx = g * mask (summed
    over the broadcast rows for a 1-d input, which NumPy reads as an (n, n) matrix);
    JVP t_out = tril(tx). ``where`` rather than a multiply, so an inf in the zeroed part
    gives 0, not NaN, as NumPy.
    """
    return _triangle("tril", x, k, True)


@op(numpy=np.triu)
def triu(x, k=0):
    """The upper triangle of the last two axes: out = x where j >= i + k, else 0.

    A composite of ``where`` with a constant mask, so linear: VJP gx = g * mask;
    JVP t_out = triu(tx). (1-d inputs as ``np.triu``: an (n, n) result.)
    """
    return _triangle("triu", x, k, False)


# --- sorting --------------------------------------------------------------------------------

@op(numpy=np.sort)
def sort(x, axis=-1, kind=None, order=None, *, dim=None):
    """The values of x sorted along ``axis`` (``axis=None``: flattened), as ``np.sort``.

    out = x[perm] with perm = argsort(x) along the axis (stable: ties keep their order),
    a composite of indexing. Locally a permutation, so the VJP routes g back through it
    (gx[perm_k] = g_k) and the JVP is the tangent permuted the same way; wherever there
    are no ties it is the derivative, and at ties it is one valid choice (PyTorch's may
    route tied elements the other way round). ``kind`` is accepted and does not change
    the values; NaNs sort last, as NumPy.

    ``dim=`` is PyTorch's name for the axis. ``gg.sort`` returns the values only, as
    NumPy; the method ``x.sort()`` is PyTorch's, returning ``(values, indices)`` (see
    :func:`sort_with_indices`): NumPy's ``ndarray.sort`` sorts in place and returns None,
    which a Tensor method cannot mirror without surprising PyTorch users, so the method
    follows PyTorch and the README's table says so.
    """
    if dim is not None:
        axis = dim
    if order is not None:
        raise TypeError("sort: order= (fields of structured arrays) is not supported")
    x = operand(x)
    if axis is None:
        x, axis = flatten(x), 0
    shape = shape_of(x)
    if not shape:
        raise OpError("sort: axis given for a 0-d input (use axis=None)")
    axis = _axis("sort", shape, axis)
    data = x._data if isinstance(x, Tensor) else x
    return gather_along(x, np.argsort(data, axis=axis, kind="stable"), axis)
