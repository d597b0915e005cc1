"""Products: dot, tensordot, outer, inner, kron, cross.

Every product here is bilinear: linear in each operand with the other held fixed. So
each input's VJP contracts the cotangent with the *other* input (over the axes that
input did not share with the output), and the JVP is the product with one operand
replaced by its tangent, summed over both: t_out = P(ta, b) + P(a, tb).

``dot`` and ``cross`` are cards of their own (NumPy primitives, one node each);
``tensordot``, ``outer``, ``inner`` and ``kron`` are compositions of ``transpose``,
``reshape``, ``matmul`` and ``mul`` (the same steps NumPy's own Python code takes),
so they are differentiable through those, to any order and in forward mode.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import shape_of
from ..primitive import OpError, apply, op, primitive
from .elementwise import mul
from .linalg import matmul
from .shape import reshape, transpose

__all__ = ["dot", "tensordot", "outer", "inner", "kron", "cross"]



# --- dot ---------------------------------------------------------------------------------

@primitive(save="a b", numpy=np.dot, method=True)
class dot:
    """out = np.dot(a, b): a scalar operand multiplies; otherwise the sum over a's last
    axis and b's second-to-last (its only one if 1-d): out[I, K, m] = sum_j a[I, j] b[K, j, m].

    Unlike ``matmul`` there is no batching: the leading axes I of a and K of b both
    appear in the output (shape a.shape[:-1] + b.shape[:-2] + b.shape[-1:]).
    d out[I, K, m] / d a[I, j] = b[K, j, m] and d out[I, K, m] / d b[K, j, m] = a[I, j],
    so each gradient contracts g with the other operand over the axes it lacks:
    VJP: ga[I, j] = sum_{K, m} g[I, K, m] b[K, j, m],  gb[K, j, m] = sum_I a[I, j] g[I, K, m]
    (2-d: ga = g @ b.T, gb = a.T @ g; 1-d b: ga = g[..., None] * b; a scalar operand:
    ga = g * b, which the engine sums back to the scalar). The general case is one
    ``tensordot`` each (then a transpose putting j back before m for gb).
    JVP: t_out = dot(ta, b) + dot(a, tb) (bilinear).
    """

    def forward(a, b):
        return np.dot(a, b)

    def vjp_a(g, out, a, b):
        if a.ndim == 0 or b.ndim == 0:
            return g * b
        if b.ndim == 1:  # (..., n) . (n,) -> (...)
            return np.expand_dims(g, -1) * b
        if a.ndim == 2 and b.ndim == 2:
            return g @ b.T
        na, nb = a.ndim - 1, b.ndim - 2  # leading axes of a, of b (before j, m)
        # g's K and m axes against b's K and m axes -> a's shape (I..., j)
        return np.tensordot(g, b, axes=(list(range(na, na + nb + 1)),
                                        list(range(nb)) + [nb + 1]))

    def vjp_b(g, out, a, b):
        if a.ndim == 0 or b.ndim == 0:
            return g * a
        if b.ndim == 1:
            if a.ndim == 1:
                return g * a
            return np.tensordot(g, a, axes=g.ndim)  # sum over a's leading axes
        if a.ndim == 2 and b.ndim == 2:
            return a.T @ g
        na, nb = a.ndim - 1, b.ndim - 2
        # a's leading axes against g's -> (j, K..., m); move j back between K and m
        r = np.tensordot(a, g, axes=(list(range(na)), list(range(na))))
        if nb == 0:
            return r
        return np.transpose(r, list(range(1, nb + 1)) + [0, nb + 1])

    def jvp_a(ta, out, a, b):
        return np.dot(ta, b)

    def jvp_b(tb, out, a, b):
        return np.dot(a, tb)

    def explain(err, a, b):
        sa, sb = np.shape(a), np.shape(b)
        if sa and sb:
            ka = sa[-1]
            kb = sb[-2] if len(sb) > 1 else sb[0]
            if ka != kb:
                which = "second-to-last" if len(sb) > 1 else "only"
                return OpError(
                    f"dot: shapes {sa} and {sb} are not aligned ({ka} != {kb}): the last "
                    f"axis of the first must equal the {which} axis of the second "
                    "(for batched matrix products use matmul)"
                )
        return None


# --- tensordot, inner, outer, kron: compositions ------------------------------------------

def _axis_list(axes, ndim, which, shape):
    """``axes`` (an int or a sequence of ints) as a list of non-negative axes of ``which``."""
    items = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    out = []
    for ax in items:
        if not isinstance(ax, (int, np.integer)):
            raise OpError(f"tensordot: axes must be integers, got {ax!r}")
        if not -ndim <= ax < ndim:
            raise OpError(f"tensordot: axis {ax} is out of range for {which} of shape {shape}")
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise OpError(f"tensordot: axes {items} repeat an axis of {which} (shape {shape})")
    return out


def _tensordot_axes(sa, sb, axes):
    """NumPy's ``axes`` (int N, or a pair (axes_a, axes_b)) as two lists of axes."""
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > len(sa) or n > len(sb):
            raise OpError(
                f"tensordot: axes={n} needs both operands to have at least {n} axes "
                f"and n >= 0 (shapes {sa} and {sb})"
            )
        return list(range(len(sa) - n, len(sa))), list(range(n))
    try:
        axes_a, axes_b = axes
    except (TypeError, ValueError):
        raise OpError(
            f"tensordot: axes must be an int or a pair (axes_a, axes_b), got {axes!r}"
        ) from None
    la = _axis_list(axes_a, len(sa), "the first operand", sa)
    lb = _axis_list(axes_b, len(sb), "the second operand", sb)
    if len(la) != len(lb):
        raise OpError(f"tensordot: axes {axes!r} name {len(la)} axes of the first operand "
                      f"but {len(lb)} of the second: they are summed in pairs")
    for i, j in zip(la, lb):
        if sa[i] != sb[j]:
            raise OpError(
                f"tensordot: shape mismatch for sum: axis {i} of the first operand "
                f"(shape {sa}) has size {sa[i]}, axis {j} of the second (shape {sb}) has "
                f"size {sb[j]}"
            )
    return la, lb


def _as_matrix(x, shape, first, second):
    """``x`` as a matrix whose rows run over the axes ``first`` and columns over ``second``.

    When ``x``'s axes already come in that order it is one reshape; in the opposite order
    (``second`` then ``first``: e.g. ``inner``'s second operand) a reshape and a 2-d
    transpose, a view matmul reads without copying; otherwise a transpose, then a
    reshape (which copies, as in np.tensordot).
    """
    rows = math.prod(shape[i] for i in first)
    cols = math.prod(shape[i] for i in second)
    identity = list(range(len(shape)))
    if first + second == identity:
        return reshape(x, (rows, cols))
    if second + first == identity:
        return transpose(reshape(x, (cols, rows)), (1, 0))
    return reshape(transpose(x, first + second), (rows, cols))


@op(numpy=np.tensordot)
def tensordot(a, b, axes=2):
    """out = sum over the paired axes of a and b of a * b (``np.tensordot``); the free
    axes of a, then those of b, in order.

    ``axes=N`` pairs a's last N axes with b's first N; ``axes=(axes_a, axes_b)`` pairs
    them explicitly (ints or sequences of ints). Computed as NumPy does: each operand is
    transposed to (free, summed) resp. (summed, free), reshaped to a matrix, and one
    matmul does the sum. VJP: gradient through transpose, reshape and matmul.
    JVP: likewise (forward mode through the same ops).
    """
    sa, sb = shape_of(a), shape_of(b)
    la, lb = _tensordot_axes(sa, sb, axes)
    free_a = [i for i in range(len(sa)) if i not in la]
    free_b = [i for i in range(len(sb)) if i not in lb]
    am = _as_matrix(a, sa, free_a, la)
    bm = _as_matrix(b, sb, lb, free_b)
    out_shape = tuple(sa[i] for i in free_a) + tuple(sb[i] for i in free_b)
    return reshape(matmul(am, bm), out_shape)


@op(numpy=np.inner)
def inner(a, b):
    """out[I, K] = sum_j a[I, j] b[K, j] (``np.inner``: over the last axes of both, any
    ndim; a scalar operand multiplies). Shape a.shape[:-1] + b.shape[:-1].

    Composite: ``tensordot(a, b, axes=([-1], [-1]))`` (or ``a * b`` for a scalar).
    VJP: gradient through tensordot (transpose, reshape, matmul) or mul.
    JVP: likewise.
    """
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        return mul(a, b)
    if sa[-1] != sb[-1]:
        raise OpError(f"inner: shapes {sa} and {sb} do not match in their last axes "
                      f"({sa[-1]} != {sb[-1]}): inner sums over the last axis of both")
    return tensordot(a, b, axes=([-1], [-1]))


@op(numpy=np.outer)
def outer(a, b):
    """out[i, j] = a.ravel()[i] * b.ravel()[j] (``np.outer``: inputs of any shape are
    flattened first); shape (a.size, b.size).

    Composite: a column times a row, broadcast: reshape(a, (-1, 1)) * reshape(b, (1, -1)).
    VJP: gradient through mul and reshape (ga = (g @ b.ravel()) reshaped to a's shape).
    JVP: likewise.
    """
    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


@op(numpy=np.kron)
def kron(a, b):
    """Kronecker product (``np.kron``): out[i*nb + k, ...] = a[i, ...] * b[k, ...] per axis,
    shape a.shape * b.shape elementwise; an operand with fewer axes gets leading 1s.

    Composite: a reshaped to (a0, 1, a1, 1, ...) times b reshaped to (1, b0, 1, b1, ...)
    (every product a[i] b[k], laid out as (a0, b0, a1, b1, ...)), then reshaped to
    (a0*b0, a1*b1, ...). VJP: gradient through reshape and mul (the broadcast sum gives
    ga[i] = sum_k g[i, k] b[k]). JVP: likewise.
    """
    sa, sb = shape_of(a), shape_of(b)
    nd = max(len(sa), len(sb))
    sa = (1,) * (nd - len(sa)) + tuple(sa)
    sb = (1,) * (nd - len(sb)) + tuple(sb)
    a2 = reshape(a, tuple(v for n in sa for v in (n, 1)))
    b2 = reshape(b, tuple(v for n in sb for v in (1, n)))
    return reshape(mul(a2, b2), tuple(p * q for p, q in zip(sa, sb)))


# --- cross -------------------------------------------------------------------------------

def _cross_axis(ax, ndim, which, shape):
    if not isinstance(ax, (int, np.integer)):
        raise OpError(f"cross: axis must be an integer, got {ax!r}")
    if not -ndim <= ax < ndim:
        raise OpError(f"cross: axis {ax} is out of range for {which} of shape {shape}")
    return int(ax) % ndim - ndim  # negative: counted from the end, as broadcasting aligns


@primitive(save="a b", params="axisa axisb axisc", numpy=np.cross)
class cross:
    """out = a x b, the cross product of 3-vectors along an axis (``np.cross``):
    out = (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0); other axes broadcast.

    The cross product is bilinear, and the scalar triple product is cyclic:
    g . (da x b) = da . (b x g) and g . (a x db) = db . (g x a). So
    VJP: ga = b x g, gb = g x a (along the same axes; broadcast axes are summed by the
    engine: the result's vector axis is put at the input's position counted from the
    end, so it lines up with the input's shape as broadcasting does).
    JVP: t_out = ta x b + a x tb.
    """

    def call(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, *, dim=None):
        """Cross product of 3-vectors along ``axis`` (or ``axisa``/``axisb`` of the inputs
        and ``axisc`` of the output, as np.cross); the other axes broadcast."""
        if dim is not None:  # PyTorch's name (torch.linalg.cross(dim=))
            axis = dim
        if axis is not None:
            axisa = axisb = axisc = axis
        sa, sb = shape_of(a), shape_of(b)
        if not sa or not sb:
            raise OpError(f"cross: operands must be at least 1-d, got shapes {sa} and {sb}")
        axisa = _cross_axis(axisa, len(sa), "the first operand", sa)
        axisb = _cross_axis(axisb, len(sb), "the second operand", sb)
        na, nb = sa[axisa], sb[axisb]
        if (na, nb) != (3, 3):
            if na in (2, 3) and nb in (2, 3):
                raise OpError(
                    f"cross: shapes {sa} and {sb} hold 2-element vectors along the axis "
                    f"({na} and {nb} components); the 2-vector form of np.cross is "
                    "deprecated in NumPy 2 and not supported: pad the vectors with a zero "
                    "third component (gg.pad) and take component 2 of the result"
                )
            raise OpError(f"cross: vectors must have 3 components along the axis, got "
                          f"{na} and {nb} (shapes {sa} and {sb})")
        rest_a = sa[:axisa] + sa[len(sa) + axisa + 1:]
        rest_b = sb[:axisb] + sb[len(sb) + axisb + 1:]
        try:
            rest = np.broadcast_shapes(rest_a, rest_b)
        except ValueError:
            raise OpError(
                f"cross: shapes {sa} and {sb} cannot be broadcast together outside the "
                f"vector axis ({rest_a} and {rest_b})"
            ) from None
        axisc = _cross_axis(axisc, len(rest) + 1, "the output", rest + (3,))
        return apply(cross, (a, b), (axisa, axisb, axisc))

    def forward(a, b, axisa, axisb, axisc):
        return np.cross(a, b, axisa=axisa, axisb=axisb, axisc=axisc)

    def vjp_a(g, out, a, b, axisa, axisb, axisc):
        return np.cross(b, g, axisa=axisb, axisb=axisc, axisc=axisa)

    def vjp_b(g, out, a, b, axisa, axisb, axisc):
        return np.cross(g, a, axisa=axisc, axisb=axisa, axisc=axisb)

    def jvp_a(ta, out, a, b, axisa, axisb, axisc):
        return np.cross(ta, b, axisa=axisa, axisb=axisb, axisc=axisc)

    def jvp_b(tb, out, a, b, axisa, axisb, axisc):
        return np.cross(a, tb, axisa=axisa, axisb=axisb, axisc=axisc)
