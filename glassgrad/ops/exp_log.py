"""Exponentials, logarithms and arithmetic extras: expm1, exp2, log2, log10, logaddexp,
erf, square, reciprocal, mod, nan_to_num.

Elementwise, so every Jacobian is diagonal and every JVP is its VJP with the tangent in
place of ``g`` (``jvp=SAME``). Ops whose rules are evaluated at their singular points on
purpose (log2 at 0, reciprocal at 0) are ``quiet``: the inf there is the answer, as in
PyTorch, and the forward already warned about the user's value.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import array_of, asarray
from ..primitive import SAME, OpError, apply, primitive

__all__ = [
    "expm1", "exp2", "log2", "log10", "logaddexp", "erf", "square", "reciprocal", "mod",
    "nan_to_num",
]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# --- exponentials and logarithms -----------------------------------------------------------

@primitive(save="out", jvp=SAME, numpy=np.expm1)
class expm1:
    """out = e**x - 1, accurate for tiny x;  d out/dx = e**x = out + 1.

    VJP: gx = g * (out + 1).     JVP: t_out = tx * (out + 1).
    """

    forward = np.expm1

    def vjp_x(g, out, x):
        return g * (out + 1)


@primitive(save="out", jvp=SAME, numpy=np.exp2)
class exp2:
    """out = 2**x;  d out/dx = 2**x ln 2 = out * ln 2  (2**x = e**(x ln 2)).

    VJP: gx = g * out * ln 2.     JVP: t_out = tx * out * ln 2.
    """

    forward = np.exp2

    def vjp_x(g, out, x):
        return g * out * _LN2


@primitive(save="x", quiet=True, jvp=SAME, numpy=np.log2)
class log2:
    """out = log2 x = ln x / ln 2;  d out/dx = 1/(x ln 2)  (inf at x = 0, as PyTorch).

    VJP: gx = g / (x ln 2).     JVP: t_out = tx / (x ln 2).
    """

    forward = np.log2  # log2(0) and log2(-1) warn: those are the user's values

    def vjp_x(g, out, x):
        return g / (x * _LN2)


@primitive(save="x", quiet=True, jvp=SAME, numpy=np.log10)
class log10:
    """out = log10 x = ln x / ln 10;  d out/dx = 1/(x ln 10)  (inf at x = 0, as PyTorch).

    VJP: gx = g / (x ln 10).     JVP: t_out = tx / (x ln 10).
    """

    forward = np.log10

    def vjp_x(g, out, x):
        return g / (x * _LN10)


@primitive(save="x y out", jvp=SAME, numpy=np.logaddexp)
class logaddexp:
    """out = ln(e**x + e**y);  d out/dx = e**(x - out),  d out/dy = e**(y - out).

    d out = (e**x dx + e**y dy) / (e**x + e**y), and 1/(e**x + e**y) = e**-out. NumPy's
    forward is stable (max(x, y) + log1p(e**-|x - y|)), and so are the rules: x - out
    and y - out are <= 0, so no exp overflows; the two slopes are softmax weights and
    add up to 1.
    VJP: gx = g * exp(x - out),  gy = g * exp(y - out).
    JVP: t_out = tx * exp(x - out) + ty * exp(y - out).
    """

    forward = np.logaddexp

    def vjp_x(g, out, x, y):
        return g * np.exp(x - out)

    def vjp_y(g, out, x, y):
        return g * np.exp(y - out)


# --- erf -------------------------------------------------------------------------------------

def _erf_array(x: np.ndarray) -> np.ndarray:
    """erf in float64, accurate to about 1e-15 relative everywhere (NumPy has none).

    * |x| < 2: erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)).
      Every term is positive (unlike the Maclaurin series, whose alternating terms
      cancel), so the sum is accurate; about 45 terms reach 1e-17 at |x| = 2.
    * |x| >= 2: erf(x) = 1 - erfc(x) with the continued fraction
      erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))),
      evaluated bottom-up from 40 levels (ample for x >= 2; erfc(2) = 0.0047, so any
      error in it is damped 200-fold in erf).
    erf is odd: computed on |x|, the sign restored at the end.
    """
    x64 = asarray(x).astype(np.float64, copy=False)  # keeps a registered array type
    a = np.abs(x64)
    out = np.empty_like(a)
    small = a < 2.0
    if small.any():
        s = a[small]
        term, total, a2 = s.copy(), s.copy(), 2.0 * s * s
        n = 0
        while True:
            term = term * a2 / (2 * n + 3)
            total += term
            n += 1
            if not np.any(term > 1e-17 * total):
                break
        out[small] = _TWO_OVER_SQRT_PI * np.exp(-s * s) * total
    large = ~small
    if large.any():
        s = a[large]
        with np.errstate(invalid="ignore", over="ignore"):  # inf and NaN inputs
            f = s.copy()
            for k in range(40, 0, -1):
                f = s + (0.5 * k) / f
            out[large] = 1.0 - np.exp(-s * s) / (math.sqrt(math.pi) * f)
    return np.copysign(out, x64).astype(np.result_type(x, np.float32), copy=False)


@primitive(save="x", quiet=True, jvp=SAME)
class erf:
    """out = erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt;  d out/dx = 2/sqrt(pi) e^(-x^2).

    The error function, elementwise, to about 1e-15 relative in float64 (NumPy has no
    erf, so there is no ``np.erf`` to mirror; the forward is :func:`_erf_array`). The
    slope is the integrand itself (fundamental theorem of calculus). gelu uses it.
    VJP: gx = g * 2/sqrt(pi) * exp(-x**2).     JVP: t_out = tx * 2/sqrt(pi) * exp(-x**2).

    >>> gg.erf(gg.tensor([0.0, 0.5, 10.0]))
    tensor([0.       , 0.5204999, 1.       ])
    """

    forward = _erf_array

    def vjp_x(g, out, x):
        return g * (_TWO_OVER_SQRT_PI * np.exp(-(x * x)))


# --- arithmetic extras ----------------------------------------------------------------------

@primitive(save="x", jvp=SAME, numpy=np.square)
class square:
    """out = x**2;  d out/dx = 2x.

    VJP: gx = g * 2x.     JVP: t_out = tx * 2x.
    """

    forward = np.square

    def vjp_x(g, out, x):
        return g * (2 * x)


@primitive(save="out", quiet=True, jvp=SAME, numpy=np.reciprocal)
class reciprocal:
    """out = 1/x;  d out/dx = -1/x**2 = -out**2  (-inf at x = 0, as PyTorch).

    VJP: gx = -g * out**2.     JVP: t_out = -tx * out**2.
    """

    forward = np.reciprocal  # 1/0 warns: the user's value

    def vjp_x(g, out, x):
        return -g * (out * out)


def _floor_quotient(x, y):
    """floor(x / y) as a constant array: the multiple of y that mod took away.

    ``np.floor_divide`` is the quotient ``np.divmod`` pairs with ``np.remainder`` (so it
    agrees with mod's output next to the jumps too); torch's ``div(rounding_mode='floor')``. It is
    piecewise constant, its derivative 0 wherever it exists, so on Tensors
    (create_graph) it is taken on their values as a constant, as ``array_of`` does for
    det's sign in decomp.py: nothing to record.
    """
    return np.floor_divide(array_of(x), array_of(y))


@primitive(save="x y", quiet=True, jvp=SAME, numpy=np.remainder)
class mod:
    """out = x mod y = x - y floor(x/y);  d out/dx = 1,  d out/dy = -floor(x/y).

    NumPy's (and Python's) convention: the result has the divisor's sign (or is 0), as
    ``np.mod``/``np.remainder`` (one ufunc: ``np.mod is np.remainder``) and
    ``torch.remainder``. floor(x/y) is constant between its jumps (where x/y is an
    integer: there mod is not differentiable, and jumps by |y|), so the slopes are those
    of x - y k for a constant k. At y = 0 the output is NaN and so are the slopes.
    VJP: gx = g,  gy = -g * floor(x/y).     JVP: t_out = tx - ty * floor(x/y).
    """

    forward = np.remainder  # mod by 0 warns: the user's value

    def vjp_x(g, out, x, y):
        return g

    def vjp_y(g, out, x, y):
        return -g * _floor_quotient(x, y)


def _finite(x):
    """Where x is finite: -inf < x < inf (false for ±inf and for NaN, which compares
    false with everything). Comparisons, so it runs on Tensors too."""
    return (x > -np.inf) & (x < np.inf)


@primitive(save="x", params="nan posinf neginf", jvp=SAME, numpy=np.nan_to_num)
class nan_to_num:
    """out = x where x is finite, else its replacement;  d out/dx = 1 where x is finite,
    0 where it was replaced.

    As ``np.nan_to_num``: NaN becomes ``nan`` (0.0), +inf ``posinf`` and -inf ``neginf``
    (None: the largest / most negative finite value of x's dtype). The replaced entries
    are constants, so no gradient reaches them (PyTorch's rule too).
    VJP: gx = where(isfinite(x), g, 0).     JVP: t_out = where(isfinite(x), tx, 0).
    """

    def call(x, copy=True, nan=0.0, posinf=None, neginf=None):
        """Replace NaN and ±inf by finite numbers (NumPy's arguments; the result is new)."""
        if not copy:
            raise OpError("nan_to_num: copy=False (replacing in place) is not supported on "
                          "glassgrad Tensors; use the returned Tensor (copy=True)")
        return apply(nan_to_num, (x,), (nan, posinf, neginf))

    def forward(x, nan, posinf, neginf):
        return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    def vjp_x(g, out, x, nan, posinf, neginf):
        return np.where(_finite(x), g, 0)
