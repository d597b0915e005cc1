"""Scans along an axis: cumsum, cumprod, diff.

A scan's output element k depends on the input elements up to k along one axis, so its
Jacobian is triangular. ``cumsum`` is linear, and its transpose is the same scan run from
the far end (a flip, a cumsum, a flip back). ``cumprod`` is not linear: its gradient and
its tangent are each a first-order linear recurrence, solved without dividing by x
(:func:`_recurrence`), so both stay exact where some x are zero. ``diff`` is slicing and
subtraction, so it is a composite of those ops.
"""

from __future__ import annotations

import operator

import numpy as np

from ..backend import array_of, operand, shape_of
from ..primitive import LINEAR, OpError, apply, op, primitive
from ..tensor import Tensor
from .compare import not_equal
from .elementwise import sub
from .indexing import getitem
from .shape import broadcast_to, concatenate, flatten

__all__ = ["cumsum", "cumprod", "diff"]



def _axis(name, x, axis):
    """``axis`` as an int in [0, ndim), or an OpError naming ``name`` and the shape."""
    shape = shape_of(x)
    ndim = len(shape)
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"{name}: axis must be an integer or None, got {axis!r}") from None
    if not -ndim <= axis < ndim:
        raise OpError(f"{name}: axis {axis} is out of range for an input of shape {shape} "
                      f"(valid: {-ndim} to {ndim - 1}; axis=None scans the flattened input)")
    return axis % ndim


def _scan_input(name, x, axis):
    """(x, axis) for a scan: axis=None scans the flattened input along 0, as NumPy; a
    0-d input is read as 1-d (NumPy's scans do the same: ``np.cumsum(2.0, axis=0)``)."""
    x = operand(x)  # a Python list or number, as NumPy accepts
    if axis is None or not shape_of(x):
        x = flatten(x)
    return x, 0 if axis is None else _axis(name, x, axis)


@primitive(params="axis", jvp=LINEAR, numpy=np.cumsum, method=True)
class cumsum:
    """out_k = sum_{j<=k} x_j along ``axis``;  d out_k/dx_i = 1 for i <= k, else 0.

    The Jacobian is a lower-triangular block of ones, so its transpose is upper
    triangular: each x_i collects every g_k with k >= i, a cumulative sum of g taken from
    the far end of the axis. That is written with flips, so it records on Tensors
    (create_graph) like any other op.
    VJP: gx_i = sum_{k>=i} g_k = flip(cumsum(flip(g))).
    JVP: t_out = cumsum(tx)  (linear).
    """

    def call(x, axis=None, *, dim=None):
        """Cumulative sum along ``axis``; ``axis=None`` scans the flattened input (NumPy).
        ``dim=`` is PyTorch's name for the axis."""
        x, axis = _scan_input("cumsum", x, axis if dim is None else dim)
        return apply(cumsum, (x,), (axis,))

    def forward(x, axis):
        return np.cumsum(x, axis=axis)

    def vjp_x(g, out, x, axis):
        return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


@primitive(save="x out", params="axis", numpy=np.cumprod, method=True)
class cumprod:
    """out_k = prod_{j<=k} x_j;  d out_k/dx_i = prod_{j<=k, j != i} x_j for i <= k, else 0.

    Split that product at i: prod_{j<=k, j != i} x_j = E_i * prod_{i<j<=k} x_j, where
    E_i = prod_{j<i} x_j = out_{i-1} (E_0 = 1) is the *exclusive* cumulative product.
    Summing over k with the cotangent,

        gx_i = E_i * R_i,   R_i = sum_{k>=i} g_k prod_{i<j<=k} x_j,

    and R obeys the recurrence R_i = g_i + x_{i+1} R_{i+1} (R_{n-1} = g_{n-1}), run from
    the far end. Forward mode is the product rule on out_k = out_{k-1} x_k:
    T_k = x_k T_{k-1} + E_k tx_k (T_{-1} = 0), the same kind of recurrence run forward.
    Nothing is divided by x, so both are exact where some x are zero (the familiar
    flip(cumsum(flip(g * out))) / x is 0/0 there: after the first zero z, every out_k is
    0, and gx_z is E_z R_z, which the quotient cannot recover). The recurrences are solved
    by :func:`_recurrence` in ceil(log2 n) vectorised doubling steps (O(n log n) work per
    line, no Python loop over the elements), on arrays and on Tensors alike.
    VJP: gx = E * R,  R_i = g_i + x_{i+1} R_{i+1},  E = out shifted one place (1 first).
    JVP: t_out = T,  T_k = x_k T_{k-1} + E_k tx_k.
    """

    def call(x, axis=None, *, dim=None):
        """Cumulative product along ``axis`` (``axis=None``: of the flattened input;
        ``dim=`` is PyTorch's name).

        The gradient is exact also where elements are exactly zero.
        """
        x, axis = _scan_input("cumprod", x, axis if dim is None else dim)
        return apply(cumprod, (x,), (axis,))

    def forward(x, axis):
        return np.cumprod(x, axis=axis)

    def vjp_x(g, out, x, axis):
        exclusive = _shift(out, 1, axis, 1)
        # reversed, R is y_m = g'_m + a'_m y_{m-1} with a'_m = x_{n-m} (a'_0 unused: 0)
        coeffs = _shift(np.flip(x, axis), 1, axis, 0)
        r = np.flip(_recurrence(coeffs, np.flip(g, axis), axis), axis)
        return exclusive * r

    def jvp_x(tx, out, x, axis):
        return _recurrence(x, _shift(out, 1, axis, 1) * tx, axis)


def _shift(v, s, axis, fill):
    """``v`` moved ``s`` places up along ``axis``: out_k = v_{k-s}, ``fill`` for k < s.

    Slicing and a constant pad, so it records on Tensors; ``0 <= s`` (an empty axis
    comes back unchanged).
    """
    n = v.shape[axis]
    if n == 0 or s == 0:
        return v
    lead = (slice(None),) * axis
    kept = v[lead + (slice(0, max(n - s, 0)),)]
    widths = [(0, 0)] * v.ndim
    widths[axis] = (min(s, n), 0)
    return np.pad(kept, widths, constant_values=fill)


def _recurrence(a, b, axis):
    """y with y_k = b_k + a_k y_{k-1} along ``axis`` (y_{-1} = 0), for arrays or Tensors.

    Recursive doubling: after the step with window w, y_k holds the terms
    sum_{k-w<m<=k} b_m prod_{m<j<=k} a_j and A_k = prod_{k-w<j<=k} a_j; then
    y_k + A_k y_{k-w} and A_k A_{k-w} are the same for window 2w (the shifted-in values
    are 0 before the start). Only products and sums: exact wherever a has zeros.
    """
    n = b.shape[axis]
    y, coeff, w = b, a, 1
    while w < n:
        y = y + coeff * _shift(y, w, axis, 0)
        if 2 * w < n:
            coeff = coeff * _shift(coeff, w, axis, 0)
        w *= 2
    return y


_NOT_GIVEN = None


@op(numpy=np.diff)
def diff(x, n=1, axis=-1, prepend=_NOT_GIVEN, append=_NOT_GIVEN, *, dim=None):
    """The n-th discrete difference along ``axis``: out_k = x_{k+1} - x_k, applied n times.

    Linear, d out_k/dx_{k+1} = 1, d out_k/dx_k = -1: a composite of slicing and
    subtraction, whose VJP and JVP are theirs (VJP: gx_i = g_{i-1} - g_i with g zero
    outside its range, once per order; JVP: t_out = diff(tx)). ``prepend`` and
    ``append`` are joined on first (scalars broadcast to one slice), as ``np.diff``;
    ``n=0`` returns the input. Booleans give ``x_{k+1} != x_k``, as NumPy.
    """
    if dim is not None:  # PyTorch's name
        axis = dim
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"diff: the order n must be an integer, got {n!r}") from None
    if n < 0:
        raise OpError(f"diff: the order n must be non-negative, got {n}")
    x = operand(x)
    shape = shape_of(x)
    if not shape:
        raise OpError("diff: needs an input of at least 1 dimension, got a 0-d one")
    axis = _axis("diff", x, axis)
    if n == 0:
        return x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x))
    parts = []
    for extra in (prepend, x, append):
        if extra is _NOT_GIVEN:
            continue
        if extra is not x and not shape_of(extra):
            one = shape[:axis] + (1,) + shape[axis + 1:]
            extra = broadcast_to(extra, one)
        parts.append(extra)
    if len(parts) > 1:
        x = concatenate(parts, axis=axis)
    lead = (slice(None),) * axis
    upper, lower = lead + (slice(1, None),), lead + (slice(None, -1),)
    boolean = array_of(x).dtype == np.bool_
    for _ in range(n):
        a, b = getitem(x, upper), getitem(x, lower)
        x = not_equal(a, b) if boolean else sub(a, b)
    return x
