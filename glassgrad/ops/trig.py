"""Trigonometric and hyperbolic functions, arctan2 and hypot.

Elementwise, so every Jacobian is diagonal and every JVP is its VJP with the tangent in
place of ``g`` (``jvp=SAME``). Each derivative is written in terms of what the card
saves: the output where that is cheapest (tan), else the input. The inverse functions
are singular at the ends of their domains (arcsin at ±1, arctanh at ±1): there the
slope is ±inf, as in PyTorch, and those cards are ``quiet``.
"""

from __future__ import annotations

import numpy as np

from ..primitive import SAME, primitive

__all__ = [
    "tan", "sinh", "cosh", "arcsin", "arccos", "arctan", "arctanh", "arctan2", "atan2",
    "hypot",
]


# --- circular and hyperbolic -------------------------------------------------------------

@primitive(save="out", jvp=SAME, numpy=np.tan)
class tan:
    """out = tan x;  d out/dx = 1/cos(x)**2 = 1 + tan(x)**2 = 1 + out**2.

    (sin/cos)' = (cos cos + sin sin)/cos**2 = 1 + tan**2, so the output alone suffices.
    VJP: gx = g * (1 + out**2).     JVP: t_out = tx * (1 + out**2).
    """

    forward = np.tan

    def vjp_x(g, out, x):
        return g * (1 + out * out)


@primitive(save="x", jvp=SAME, numpy=np.sinh)
class sinh:
    """out = sinh x = (e**x - e**-x)/2;  d out/dx = (e**x + e**-x)/2 = cosh x.

    VJP: gx = g * cosh(x).     JVP: t_out = tx * cosh(x).
    """

    forward = np.sinh

    def vjp_x(g, out, x):
        return g * np.cosh(x)


@primitive(save="x", jvp=SAME, numpy=np.cosh)
class cosh:
    """out = cosh x = (e**x + e**-x)/2;  d out/dx = (e**x - e**-x)/2 = sinh x.

    VJP: gx = g * sinh(x).     JVP: t_out = tx * sinh(x).
    """

    forward = np.cosh

    def vjp_x(g, out, x):
        return g * np.sinh(x)


# --- inverse functions -------------------------------------------------------------------

@primitive(save="x", quiet=True, jvp=SAME, numpy=np.arcsin)
class arcsin:
    """out = arcsin x  (|x| <= 1);  d out/dx = 1/sqrt(1 - x**2)  (inf at x = ±1).

    From sin(out) = x: cos(out) d out = dx, and cos(out) = sqrt(1 - x**2) >= 0 on the
    principal branch [-pi/2, pi/2].
    VJP: gx = g / sqrt(1 - x**2).     JVP: t_out = tx / sqrt(1 - x**2).
    """

    forward = np.arcsin  # |x| > 1 warns: the user's value

    def vjp_x(g, out, x):
        return g / np.sqrt(1 - x * x)


@primitive(save="x", quiet=True, jvp=SAME, numpy=np.arccos)
class arccos:
    """out = arccos x  (|x| <= 1);  d out/dx = -1/sqrt(1 - x**2)  (-inf at x = ±1).

    arccos x = pi/2 - arcsin x, so its slope is arcsin's negated.
    VJP: gx = -g / sqrt(1 - x**2).     JVP: t_out = -tx / sqrt(1 - x**2).
    """

    forward = np.arccos

    def vjp_x(g, out, x):
        return -g / np.sqrt(1 - x * x)


@primitive(save="x", jvp=SAME, numpy=np.arctan)
class arctan:
    """out = arctan x;  d out/dx = 1/(1 + x**2).

    From tan(out) = x: (1 + tan(out)**2) d out = dx, and 1 + tan(out)**2 = 1 + x**2.
    VJP: gx = g / (1 + x**2).     JVP: t_out = tx / (1 + x**2).
    """

    forward = np.arctan

    def vjp_x(g, out, x):
        return g / (1 + x * x)


@primitive(save="x", quiet=True, jvp=SAME, numpy=np.arctanh)
class arctanh:
    """out = arctanh x = ln((1 + x)/(1 - x))/2  (|x| < 1);  d out/dx = 1/(1 - x**2).

    Differentiating the log form: (1/(1 + x) + 1/(1 - x))/2 = 1/(1 - x**2); ±inf at
    x = ±1 (where the output is ±inf), as in PyTorch.
    VJP: gx = g / (1 - x**2).     JVP: t_out = tx / (1 - x**2).
    """

    forward = np.arctanh

    def vjp_x(g, out, x):
        return g / (1 - x * x)


# --- functions of two arguments ------------------------------------------------------------

@primitive(save="x y", quiet=True, jvp=SAME, numpy=np.arctan2)
class arctan2:
    """out = angle of (y, x);  d out/dx = y/r2,  d out/dy = -x/r2  (r2 = x**2 + y**2).

    NumPy's argument order: arctan2(x1, x2) is the angle in (-pi, pi] of the point
    (x2, x1), so the first argument is the ordinate (arctan(x1/x2) in the right half).
    Away from y = 0 the angle is arctan(x/y) plus a constant, whose partials are
    (1/y) / (1 + x**2/y**2) = y/r2 and (-x/y**2) / (1 + x**2/y**2) = -x/r2; by continuity
    they hold at y = 0 too, except on the ray x = 0, y < 0 where the angle jumps by
    2 pi. At the origin r2 = 0 and both are NaN, as in PyTorch.
    VJP: gx = g * y / r2,  gy = -g * x / r2.     JVP: t_out = (tx * y - ty * x) / r2.
    """

    forward = np.arctan2

    def vjp_x(g, out, x, y):
        return g * y / (x * x + y * y)

    def vjp_y(g, out, x, y):
        return -g * x / (x * x + y * y)


atan2 = arctan2
"""The same op under its C/PyTorch name (``torch.atan2``): an alias, not a second card."""


@primitive(save="x y out", quiet=True, jvp=SAME, numpy=np.hypot)
class hypot:
    """out = sqrt(x**2 + y**2);  d out/dx = x/out,  d out/dy = y/out.

    NumPy's forward scales first, so large x, y do not overflow. d sqrt(u) = du / (2 sqrt(u))
    with u = x**2 + y**2, du = 2x dx + 2y dy. At the origin both are 0/0 = NaN, as in
    PyTorch (hypot is not differentiable there: its graph is a cone).
    VJP: gx = g * x / out,  gy = g * y / out.     JVP: t_out = (tx * x + ty * y) / out.
    """

    forward = np.hypot

    def vjp_x(g, out, x, y):
        return g * x / out

    def vjp_y(g, out, x, y):
        return g * y / out
