"""Elementwise primitives: arithmetic and the textbook functions.

Each card holds the forward (often the NumPy ufunc itself: no Python frame on the hot
path), one VJP rule per input (``vjp_x``, ``vjp_y``: the engine calls only those whose
input needs a gradient) and the derivation. Elementwise ops have a diagonal Jacobian,
so their JVP is their VJP with the tangent in place of ``g`` (``jvp=SAME``); only where
the two differ is a JVP rule written. Rules see ``g`` with the output's shape;
broadcasting is undone by the engine. Inputs may be Tensors, arrays or Python scalars.
"""

from __future__ import annotations

import numpy as np

from ..primitive import LINEAR, SAME, apply, primitive
from ..tensor import Tensor

__all__ = [
    "add", "sub", "mul", "div", "power", "neg", "abs", "exp", "log", "log1p", "sqrt",
    "sin", "cos", "tanh", "sigmoid", "relu", "maximum", "minimum", "clip", "where",
    "sign", "astype",
]


# --- arithmetic ------------------------------------------------------------------------

@primitive(jvp=SAME, numpy=np.add)
class add:
    """out = x + y;  d out/dx = 1, d out/dy = 1.

    VJP: gx = g, gy = g.            JVP: t_out = tx + ty.
    """

    forward = np.add

    def vjp_x(g, out, x, y):
        return g

    def vjp_y(g, out, x, y):
        return g


@primitive(jvp=SAME, numpy=np.subtract)
class sub:
    """out = x - y;  d out/dx = 1, d out/dy = -1.

    VJP: gx = g, gy = -g.           JVP: t_out = tx - ty.
    """

    forward = np.subtract

    def vjp_x(g, out, x, y):
        return g

    def vjp_y(g, out, x, y):
        return -g


@primitive(save="x y", jvp=SAME, numpy=np.multiply)
class mul:
    """out = x * y;  d out/dx = y, d out/dy = x  (product rule).

    VJP: gx = g * y, gy = g * x.     JVP: t_out = tx * y + x * ty.
    """

    forward = np.multiply

    def vjp_x(g, out, x, y):
        return g * y

    def vjp_y(g, out, x, y):
        return g * x



@primitive(save="y out", quiet=True, jvp=SAME, numpy=np.true_divide)
class div:
    """out = x / y;  d out/dx = 1/y,  d out/dy = -x/y**2 = -out/y  (quotient rule).

    At y = 0 the slopes are ±inf (NaN for 0/0), as in PyTorch; the forward warned about
    the user's division by zero, the rules do not warn again about their own.
    VJP: gx = g / y, gy = -g * out / y.     JVP: t_out = (tx - out * ty) / y.
    """

    forward = np.true_divide

    def vjp_x(g, out, x, y):
        return g / y

    def vjp_y(g, out, x, y):
        return -g * out / y


@primitive(save="x y out", quiet=True, jvp=SAME, numpy=np.power)
class power:
    """out = x ** y;  d out/dx = y * x**(y-1),  d out/dy = x**y * log(x) = out * log(x).

    At the singular points the values are PyTorch's:
    d out/dx is 0 wherever y == 0 (x**0 is the constant 1), also at x = 0 and x = ±inf
    where y * x**(y-1) would be 0 * inf;  d out/dy is 0 where x == 0 and y >= 0 (the
    limit from x > 0 for y > 0), while for x == 0 and y < 0 it is out * log(0) = ±inf.
    VJP: gx = g * y * x**(y-1),  gy = g * out * log(x)  (with those conventions).
    JVP: t_out = tx * y * x**(y-1) + ty * out * log(x).
    """

    forward = np.power

    def vjp_x(g, out, x, y):
        return g * _dpow_dx(x, y)

    def vjp_y(g, out, x, y):
        return g * _dpow_dy(out, x, y)

def _dpow_dx(x, y):
    """y * x**(y-1), and 0 wherever y == 0.

    Where y == 0 the power taken is x**1 instead of x**-1: the term is masked anyway,
    and x**-1 at x = 0 would be inf, whose 0 * inf = NaN would leak into the second
    derivative through the mask. x**(y-1) for y < 1 at x = 0 is inf on purpose (the
    slope of sqrt at 0, say): the engine runs rules under np.errstate(all='ignore').
    """
    if isinstance(y, (int, float)):  # a constant exponent, as in x**2
        return np.zeros_like(x) if y == 0 else y * x ** (y - 1)
    return np.where(y == 0, 0, y * x ** np.where(y == 0, 1, y - 1))


def _dpow_dy(out, x, y):
    """out * log(x), and 0 where x == 0 and y >= 0 (as PyTorch).

    log is taken of 1 where the result is masked (no log(0) there, so no NaN leaks into
    second derivatives); log(0) = -inf for y < 0 and log of a negative base = NaN are
    the answer (the engine runs rules under np.errstate(all='ignore')).
    """
    zero = np.logical_and(x == 0, y >= 0)
    return np.where(zero, 0, out * np.log(np.where(zero, 1, x)))


@primitive(jvp=SAME, numpy=np.negative)
class neg:
    """out = -x;  d out/dx = -1.      VJP: gx = -g.      JVP: t_out = -tx."""

    forward = np.negative

    def vjp_x(g, out, x):
        return -g

# --- textbook functions ------------------------------------------------------------------


@primitive(save="x", jvp=SAME, numpy=np.absolute, method=True)
class abs:  # noqa: A001  (NumPy's name)
    """out = |x|;  d out/dx = sign(x)  (0 at x = 0, the subgradient PyTorch uses).

    VJP: gx = g * sign(x).     JVP: t_out = tx * sign(x).
    """

    forward = np.abs

    def vjp_x(g, out, x):
        return g * np.sign(x)


@primitive(save="out", jvp=SAME, numpy=np.exp, method=True)
class exp:
    """out = e**x;  d out/dx = e**x = out.

    VJP: gx = g * out.     JVP: t_out = tx * out.
    """

    forward = np.exp

    def vjp_x(g, out, x):
        return g * out


@primitive(save="x", quiet=True, jvp=SAME, numpy=np.log, method=True)
class log:
    """out = ln x;  d out/dx = 1/x  (inf at x = 0, as PyTorch, without a warning).

    VJP: gx = g / x.     JVP: t_out = tx / x.
    """

    forward = np.log  # log(0) and log(-1) warn: those are the user's values

    def vjp_x(g, out, x):
        return g / x


@primitive(save="x", quiet=True, jvp=SAME, numpy=np.log1p, method=True)
class log1p:
    """out = ln(1 + x), accurate for tiny x;  d out/dx = 1/(1 + x)  (inf at x = -1).

    VJP: gx = g / (1 + x).     JVP: t_out = tx / (1 + x).
    """

    forward = np.log1p

    def vjp_x(g, out, x):
        return g / (1 + x)


@primitive(save="out", quiet=True, jvp=SAME, numpy=np.sqrt, method=True)
class sqrt:
    """out = sqrt(x);  d out/dx = 1/(2 sqrt(x)) = 1/(2 out)  (inf at x = 0, as PyTorch).

    VJP: gx = g / (2 out).     JVP: t_out = tx / (2 out).
    """

    forward = np.sqrt  # sqrt(-1) warns: the user's value

    def vjp_x(g, out, x):
        return g / (2 * out)


@primitive(save="x", jvp=SAME, numpy=np.sin, method=True)
class sin:
    """out = sin x;  d out/dx = cos x.

    VJP: gx = g * cos(x).     JVP: t_out = tx * cos(x).
    """

    forward = np.sin

    def vjp_x(g, out, x):
        return g * np.cos(x)


@primitive(save="x", jvp=SAME, numpy=np.cos, method=True)
class cos:
    """out = cos x;  d out/dx = -sin x.

    VJP: gx = -g * sin(x).     JVP: t_out = -tx * sin(x).
    """

    forward = np.cos

    def vjp_x(g, out, x):
        return -g * np.sin(x)


@primitive(save="out", jvp=SAME, numpy=np.tanh, method=True)
class tanh:
    """out = tanh x;  d out/dx = 1 - tanh(x)**2 = 1 - out**2.

    VJP: gx = g * (1 - out**2).     JVP: t_out = tx * (1 - out**2).
    """

    forward = np.tanh

    def vjp_x(g, out, x):
        return g * (1 - out * out)


def logistic(x):
    """The stable logistic function exp(-log(1 + e**-x)): never e of a large number.
    Plain NumPy, so on Tensors (higher order) it records like any rule; ``sigmoid``'s
    forward and the softplus/BCE rules in nn all use this one."""
    return np.exp(-np.logaddexp(0, -x))


@primitive(save="out", jvp=SAME, method=True)
class sigmoid:
    """out = 1 / (1 + e**-x);  d out/dx = out * (1 - out).

    Computed as exp(-log(1 + e**-x)) with a stable log-add-exp, so no input overflows:
    sigmoid(-1000) = 0 and sigmoid(1000) = 1 without warnings.
    VJP: gx = g * out * (1 - out).     JVP: t_out = tx * out * (1 - out).
    """

    forward = logistic

    def vjp_x(g, out, x):
        return g * out * (1 - out)


@primitive(save="out", jvp=SAME, method=True)
class relu:
    """out = max(x, 0);  d out/dx = 1 where x > 0, else 0 (0 at x = 0, as PyTorch).

    VJP: gx = g * (out > 0).     JVP: t_out = tx * (out > 0).
    """

    def forward(x):
        return np.maximum(x, 0)

    def vjp_x(g, out, x):
        return g * (out > 0)  # a multiply by the mask: several times faster than where


@primitive(jvp=SAME, numpy=np.sign, method=True)
class sign:
    """out = sign(x);  d out/dx = 0 almost everywhere (the jump at 0 has no derivative).

    VJP: gx = 0 * g.     JVP: t_out = 0 * tx.
    """

    forward = np.sign

    def vjp_x(g, out, x):
        return g * 0

# --- selections -------------------------------------------------------------------------

def _share(x, y):
    """Fraction of the gradient x receives in max/min(x, y): 1, 0, or 1/2 on ties."""
    return (x > y) + 0.5 * (x == y)


@primitive(save="x y", jvp=SAME, numpy=np.maximum, method=True)
class maximum:
    """out = max(x, y) elementwise;  d out/dx = 1 where x > y, 1/2 on ties, else 0.

    Ties split the gradient evenly, as PyTorch does.
    VJP: gx = g * s, gy = g * (1 - s) with s = [x > y] + [x == y] / 2.
    JVP: t_out = tx * s + ty * (1 - s).
    """

    forward = np.maximum

    def vjp_x(g, out, x, y):
        return g * _share(x, y)

    def vjp_y(g, out, x, y):
        return g * _share(y, x)


@primitive(save="x y", jvp=SAME, numpy=np.minimum, method=True)
class minimum:
    """out = min(x, y) elementwise;  d out/dx = 1 where x < y, 1/2 on ties, else 0.

    VJP: gx = g * s, gy = g * (1 - s) with s = [x < y] + [x == y] / 2.
    JVP: t_out = tx * s + ty * (1 - s).
    """

    forward = np.minimum

    def vjp_x(g, out, x, y):
        return g * _share(y, x)

    def vjp_y(g, out, x, y):
        return g * _share(x, y)


@primitive(save="x lo hi", jvp=SAME, numpy=np.clip, method=True)
class clip:
    """out = min(max(x, lo), hi);  d out/dx = 1 where lo <= x <= hi, else 0;
    d out/d lo = 1 where x < lo <= hi;  d out/d hi = 1 where x > hi or lo > hi.

    Inclusive at the bounds, as ``torch.clamp``. A bound may be None (open), a constant
    or a Tensor (then it gets a gradient too). Where lo > hi the output is hi whatever
    x is (the min is taken last), so the whole gradient goes to hi there.
    VJP: gx = g * [lo <= x <= hi],  g_lo = g * [x < lo <= hi],
         g_hi = g * [x > hi or lo > hi].
    JVP: t_out = tx * [lo <= x <= hi] + t_lo * [x < lo <= hi] + t_hi * [x > hi or lo > hi].
    """

    def call(x, min=None, max=None):  # noqa: A002  (NumPy's argument names)
        """Limit values to ``[min, max]`` (either may be None; Tensor bounds get gradients)."""
        if min is None and max is None:
            raise ValueError("clip: give at least one of min and max")
        return apply(clip, (x, min, max))

    def forward(x, lo, hi):
        return np.clip(x, lo, hi)

    def vjp_x(g, out, x, lo, hi):
        return np.where(_inside(x, lo, hi), g, 0)

    def vjp_lo(g, out, x, lo, hi):
        return np.where(_at_lo(x, lo, hi), g, 0)

    def vjp_hi(g, out, x, lo, hi):
        return np.where(_at_hi(x, lo, hi), g, 0)

def _at_lo(x, lo, hi):
    """Where clip's output is the lower bound: x below it, and the bounds in order."""
    return x < lo if hi is None else (x < lo) & (lo <= hi)


def _at_hi(x, lo, hi):
    """Where clip's output is the upper bound: x above it, or lo > hi (hi wins)."""
    return x > hi if lo is None else (x > hi) | (lo > hi)


def _inside(x, lo, hi):
    keep = True
    if lo is not None:
        keep = x >= lo
    if hi is not None:
        keep = (x <= hi) if lo is None else keep & (x <= hi)
    return keep


@primitive(save="cond", jvp=SAME, numpy=np.where)
class where:
    """out = x where cond else y;  d out/dx = [cond], d out/dy = [not cond].

    ``cond`` is a boolean constant (no gradient). With ``cond`` alone, as NumPy, it is
    ``nonzero(cond)``: a tuple of integer index Tensors (no gradient).
    VJP: gx = where(cond, g, 0), gy = where(cond, 0, g).
    JVP: t_out = where(cond, tx, ty).
    """

    def call(condition, x=None, y=None):
        """Pick ``x`` where ``condition`` is true, else ``y`` (NumPy broadcasting)."""
        c = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
        if x is None and y is None:
            return tuple(Tensor._wrap(i) for i in np.nonzero(c))
        if x is None or y is None:
            raise TypeError("where: give both x and y, or neither (the indices of cond)")
        if c.dtype != np.bool_:
            c = c.astype(bool)
        return apply(where, (c, x, y))

    def forward(cond, x, y):
        return np.where(cond, x, y)

    def vjp_x(g, out, cond, x, y):
        return np.where(cond, g, 0)

    def vjp_y(g, out, cond, x, y):
        return np.where(cond, 0, g)


@primitive(params="dtype", jvp=LINEAR, method=True)
class astype:
    """out = x converted to another dtype;  d out/dx = 1.

    VJP: gx = g converted back to x's dtype (the engine casts).     JVP: t_out = tx.
    """

    def call(x, dtype):
        """Convert to ``dtype``; the gradient is converted back."""
        return apply(astype, (x,), (np.dtype(dtype),))

    def forward(x, dtype):
        return x.astype(dtype)

    def vjp_x(g, out, x, dtype):
        return g

