"""gg.linalg's norms: ``vector_norm`` (a card) and ``norm`` (NumPy's ``np.linalg.norm``:
vector norms through ``vector_norm``, matrix norms through max/min/sum and ``svdvals``).

The gradient of every norm is finite at x = 0 (there the 2-norm has no derivative; its
subgradient 0 is PyTorch's value), never NaN.
"""

from __future__ import annotations

import numpy as np

from ..backend import shape_of
from ..primitive import OpError, apply, op, primitive
from .decomp import svdvals
from .reduction import _axes, _keep
from .reduction import max as _amax
from .reduction import min as _amin
from .reduction import sum as _sum
from .shape import transpose as _transpose

__all__: list[str] = ["norm", "vector_norm"]


def _norm_slope(x, out, p, axes, keepdims, shape):
    """d out / dx for ``out = vector_norm(x, p)`` (shape of x): the cotangent is ``g`` times
    this, and the tangent the sum of ``tx`` times it. 0 where the norm is 0 (a
    subgradient of the 2-norm at 0, as PyTorch): finite everywhere, never NaN."""
    o = _keep(out, axes, keepdims, shape)
    if p == 1:
        return np.sign(x)
    if p == 0:  # the count of nonzeros is piecewise constant
        return x * 0
    if p in (np.inf, -np.inf):  # d max|x| / dx: sign at the extreme(s), ties split evenly
        hit = np.abs(x) == o
        return np.sign(x) * hit / np.sum(hit, axis=axes, keepdims=True)
    zero = o == 0
    safe = np.where(zero, 1.0, o)  # no 0/0, also in a create_graph backward
    if p == 2:
        return np.where(zero, 0.0, x / safe)
    a = np.abs(x)
    num = np.sign(x) * a ** (p - 1)
    if p < 1:  # |x|^(p-1) is inf at x = 0, where the slope is taken as 0 (PyTorch)
        num = np.where(x == 0, 0.0, num)
    return np.where(zero, 0.0, num / safe ** (p - 1))


def _check_ord(name: str, ord):
    if ord is None:
        return 2
    if isinstance(ord, (bool, str)) or not isinstance(ord, (int, float, np.integer,
                                                            np.floating)):
        raise OpError(f"gg.linalg.{name}: ord must be a number (2, 1, inf, -inf, 0 or any "
                      f"p), got {ord!r}" + ("; matrix norms are gg.linalg.norm(x, ord, "
                                            "axis=(r, c))" if isinstance(ord, str) else ""))
    return float(ord)


@primitive(save="x out", quiet=True, params="p axes keepdims shape",
           numpy=np.linalg.vector_norm, name="linalg.vector_norm")
class vector_norm:
    """out = (sum_i |x_i|^p)^(1/p) over axes;  d out/dx_i = sign(x_i) |x_i|^(p-1) / out^(p-1).

    The chain rule through the sum and the 1/p power gives the slope above: for p = 2
    it is x_i / out, for p = 1 sign(x_i); p = inf (max |x|) and -inf (min |x|) send it
    to the extreme entries, ties sharing it evenly; p = 0 (the count of nonzeros) is
    piecewise constant, slope 0. Where out = 0 the slope is taken as 0 (PyTorch's
    subgradient of the 2-norm at the origin): finite, never NaN.
    VJP: gx = g * slope (g broadcast back over the reduced axes).
    JVP: t_out = sum(tx * slope, axes).
    torch.linalg.vector_norm semantics: axis=None reduces over all entries, any ndim.
    """

    def call(x, ord=2, axis=None, keepdims=False):
        """The ``ord``-norm of ``x`` over ``axis`` (None: all axes; int or tuple)."""
        p = _check_ord("vector_norm", ord)
        axes = _axes("gg.linalg.vector_norm", x, axis)
        return apply(vector_norm, (x,), (p, axes, bool(keepdims), shape_of(x)))

    def forward(x, p, axes, keepdims, shape):
        if x.dtype.kind not in "fc":
            x = x.astype(np.float64)
        if p == 2:
            return np.sqrt(np.add.reduce(x * x, axis=axes, keepdims=keepdims))
        a = np.abs(x)
        if p == 1:
            return np.add.reduce(a, axis=axes, keepdims=keepdims)
        if p == np.inf:
            return np.max(a, axis=axes, keepdims=keepdims)
        if p == -np.inf:
            return np.min(a, axis=axes, keepdims=keepdims)
        if p == 0:
            return np.add.reduce((x != 0).astype(x.dtype), axis=axes, keepdims=keepdims)
        with np.errstate(divide="ignore"):  # a zero entry with p < 0: the norm is 0
            return np.add.reduce(a ** p, axis=axes, keepdims=keepdims) ** (1.0 / p)

    def vjp_x(g, out, x, p, axes, keepdims, shape):
        return _keep(g, axes, keepdims, shape) * _norm_slope(x, out, p, axes, keepdims, shape)

    def jvp_x(tx, out, x, p, axes, keepdims, shape):
        slope = _norm_slope(x, out, p, axes, keepdims, shape)
        return np.sum(tx * slope, axis=axes, keepdims=keepdims)


@op(numpy=np.linalg.norm, name="linalg.norm")
def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm, as ``np.linalg.norm`` (composed of differentiable ops).

    ``axis=None``: with ``ord=None`` the 2-norm of all entries (any ndim); with an
    ``ord``, a vector norm of a 1-d input or a matrix norm of a 2-d one. An int axis
    takes vector norms along it (``ord``: 2, 1, inf, -inf, 0, any p); a pair of axes
    takes matrix norms: 'fro' (default), 'nuc' (sum of singular values), 1 / -1 (max /
    min column sum of |x|), inf / -inf (max / min row sum), 2 / -2 (largest / smallest
    singular value). The gradient is finite at x = 0 (0 there, as PyTorch).
    """
    nd = len(shape_of(x))
    if axis is None:
        if ord is None:
            return vector_norm(x, 2, None, keepdims)
        if nd == 1:
            axis = (0,)
        elif nd == 2:
            axis = (0, 1)
        else:
            raise OpError(f"gg.linalg.norm: ord={ord!r} with axis=None needs a 1-d or 2-d "
                          f"input, got {nd}-d; pass axis= (an int for vector norms, a pair "
                          "for matrix norms)")
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    axis = tuple(axis)
    if len(axis) == 1:
        if isinstance(ord, str):
            raise OpError(f"gg.linalg.norm: invalid norm order {ord!r} for vectors")
        return vector_norm(x, ord, axis, keepdims)
    if len(axis) == 2:
        return _matrix_norm(x, ord, axis, keepdims)
    raise OpError(f"gg.linalg.norm: axis must be None, an int or a pair, got {axis}")


def _matrix_norm(x, ord, axis, keepdims):
    nd = len(shape_of(x))
    r, c = _axes("gg.linalg.norm", x, axis[0])[0], _axes("gg.linalg.norm", x, axis[1])[0]
    if r == c:
        raise OpError(f"gg.linalg.norm: duplicate axes {axis}")
    if ord is None or ord == "fro":
        return vector_norm(x, 2, (r, c), keepdims)
    if ord in (1, -1, np.inf, -np.inf):
        # 1: the largest column sum of |x| (sum over rows r, then extreme over columns c);
        # inf: the largest row sum (sum over c, extreme over r).
        summed, over = (r, c) if ord in (1, -1) else (c, r)
        sums = vector_norm(x, 1, summed, True)
        out = (_amax if ord > 0 else _amin)(sums, over, True)
    elif ord in (2, -2, "nuc"):
        perm = tuple(a for a in range(nd) if a not in (r, c)) + (r, c)
        s = svdvals(_transpose(x, perm))
        out = _sum(s, -1) if ord == "nuc" else (_amax if ord == 2 else _amin)(s, -1)
        shape = list(shape_of(x))
        shape[r] = shape[c] = 1
        out = out.reshape(tuple(shape))  # the reduced axes back in place, size 1
    else:
        raise OpError(f"gg.linalg.norm: invalid norm order {ord!r} for matrices (use "
                      "None/'fro', 'nuc', 1, -1, 2, -2, inf or -inf)")
    if keepdims:
        return out
    return out.reshape(tuple(n for i, n in enumerate(shape_of(x)) if i not in (r, c)))
