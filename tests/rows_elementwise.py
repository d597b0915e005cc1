"""Op-table rows: trigonometric, hyperbolic, exp/log and arithmetic extras.

Part of the one op table (``op_table.ROWS``): every row runs through the same checks
(forward, VJP, JVP vs PyTorch; gradcheck; gradgradcheck).
"""

from __future__ import annotations

import numpy as np
import torch
from op_table import BROADCAST_PAIRS, NONZERO, POS, REAL, Domain, T, _gg, names, row

import glassgrad as gg

names("tan", "sinh", "cosh", "arcsin", "arccos", "arctan", "arctanh", "arctan2", "hypot",
      "expm1", "exp2", "log2", "log10", "logaddexp", "erf", "square", "reciprocal", "mod",
      "nan_to_num")

_C4 = np.array([0.75, -1.25, 1.5, -0.5])  # nonzero: a safe first argument of arctan2/hypot
_C23 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])

# ---- unary: (3,4), scalar-shaped, and np.<name>(tensor) ---------------------------------
# Domains stay inside each function's domain and away from its singular points (tan at
# ±pi/2, arcsin/arccos/arctanh at ±1, the logs at 0, reciprocal at 0).
UNARY = [
    ("tan", np.tan, torch.tan, Domain(-1.2, 1.2)),
    ("sinh", np.sinh, torch.sinh, REAL),
    ("cosh", np.cosh, torch.cosh, REAL),
    ("arcsin", np.arcsin, torch.asin, Domain(-0.9, 0.9)),
    ("arccos", np.arccos, torch.acos, Domain(-0.9, 0.9)),
    ("arctan", np.arctan, torch.atan, Domain(-3.0, 3.0)),
    ("arctanh", np.arctanh, torch.atanh, Domain(-0.9, 0.9)),
    ("expm1", np.expm1, torch.expm1, REAL),
    ("exp2", np.exp2, torch.exp2, REAL),
    ("log2", np.log2, torch.log2, POS),
    ("log10", np.log10, torch.log10, POS),
    ("erf", None, torch.erf, Domain(-3.0, 3.0)),  # both branches: |x| < 2 and |x| >= 2
    ("square", np.square, torch.square, REAL),
    ("reciprocal", np.reciprocal, torch.reciprocal, NONZERO),
    ("nan_to_num", np.nan_to_num, torch.nan_to_num, REAL),  # finite: fully checked
]
for _name, _np, _t, _d in UNARY:
    row(_name, "(3,4)", _gg(_name), _t, [(3, 4)], _d)
    row(_name, "scalar-shaped", _gg(_name), _t, [()], _d)
    if _np is not None:  # the np.* dispatch table (numpy= on the card)
        row(_name, f"np.{_np.__name__}(tensor)", lambda x, f=_np: f(x), _t, [(2, 3)], _d)

row("tan", "(2,3,4)-wider", _gg("tan"), torch.tan, [(2, 3, 4)], Domain(-1.45, 1.45))
row("sinh", "wide", _gg("sinh"), torch.sinh, [(3, 4)], Domain(-8.0, 8.0))
row("cosh", "wide", _gg("cosh"), torch.cosh, [(3, 4)], Domain(-8.0, 8.0))
row("arcsin", "near-ends", _gg("arcsin"), torch.asin, [(3, 4)],
    Domain(-0.99, 0.99, avoid=(0.0,), gap=0.9))
row("arctanh", "near-ends", _gg("arctanh"), torch.atanh, [(3, 4)],
    Domain(-0.98, 0.98, avoid=(0.0,), gap=0.88))
row("expm1", "tiny", _gg("expm1"), torch.expm1, [(3, 4)], Domain(-1e-3, 1e-3))
row("log2", "wide", _gg("log2"), torch.log2, [(3, 4)], Domain(0.05, 50.0))
row("log10", "wide", _gg("log10"), torch.log10, [(3, 4)], Domain(0.05, 50.0))
row("erf", "wide", _gg("erf"), torch.erf, [(4, 5)], Domain(-6.0, 6.0))
row("square", "(2,3,4)", _gg("square"), torch.square, [(2, 3, 4)])
row("reciprocal", "negative", _gg("reciprocal"), torch.reciprocal, [(3, 4)],
    Domain(-2.0, -0.4))


# ---- nan_to_num on NaN/±inf inputs -------------------------------------------------------
def _non_finite(rng):
    x = rng.uniform(-2.0, 2.0, size=(3, 4))
    x[0, 1], x[1, 2], x[2, 0], x[2, 3] = np.nan, np.inf, -np.inf, np.nan
    return [x]


# Central differences cannot step across NaN/inf: these rows check forward, VJP and JVP
# (gradient 0 at replaced entries) against torch; the finite rows above are gradchecked.
_NO_FD = dict(gradcheck=False, second_order=False)
row("nan_to_num", "nan-inf-defaults", _gg("nan_to_num"), torch.nan_to_num,
    make=_non_finite, **_NO_FD)
row("nan_to_num", "nan-inf-keywords",
    lambda x: gg.nan_to_num(x, nan=0.5, posinf=3.0, neginf=-4.0),
    lambda x: torch.nan_to_num(x, nan=0.5, posinf=3.0, neginf=-4.0), make=_non_finite, **_NO_FD)
row("nan_to_num", "nan-inf-posinf-only", lambda x: gg.nan_to_num(x, posinf=9.0),
    lambda x: torch.nan_to_num(x, posinf=9.0), make=_non_finite, **_NO_FD)
row("nan_to_num", "np.nan_to_num(tensor,nan=)", lambda x: np.nan_to_num(x, nan=-1.0),
    lambda x: torch.nan_to_num(x, nan=-1.0), make=_non_finite, **_NO_FD)
row("nan_to_num", "finite-keywords", lambda x: gg.nan_to_num(x, nan=0.5, posinf=3.0),
    lambda x: torch.nan_to_num(x, nan=0.5, posinf=3.0), [(2, 3)])


# ---- binary: broadcasting, Python scalars, ndarray and no-grad operands -------------------
def _mod_pair(shape_x, shape_y):
    """mod inputs whose quotient x/y stays >= 0.05 from every integer (mod's jumps).

    y takes values in {±0.5, ±1, ±2}, x = k/2 + f with f in [0.1, 0.4]: then x is at least
    0.1 from every multiple of 0.5, so x/y is at least 0.05 from every integer, for every
    pairing broadcasting makes.
    """

    def make(rng):
        y = rng.choice([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0], size=shape_y)
        x = 0.5 * rng.integers(-6, 6, size=shape_x) + rng.uniform(0.1, 0.4, size=shape_x)
        return [x, y]

    return make


def _mod_same_shape(rng):
    """x = y (k + f) with f in [0.1, 0.9]: any divisor in ±[0.5, 2], and x/y = k + f."""
    y = rng.uniform(0.5, 2.0, size=(3, 4)) * rng.choice([-1.0, 1.0], size=(3, 4))
    x = y * (rng.integers(-3, 3, size=(3, 4)) + rng.uniform(0.1, 0.9, size=(3, 4)))
    return [x, y]


_NZ = Domain(avoid=(0.0,), gap=0.3)  # a first argument away from 0: arctan2 and hypot
BINARY = [  # name, torch, domains (None: mod's joint builder)
    ("arctan2", torch.atan2, (_NZ, REAL)),
    ("hypot", torch.hypot, (_NZ, REAL)),
    ("logaddexp", torch.logaddexp, (REAL, Domain(-3.0, 3.0))),
    ("mod", torch.remainder, None),
]
for _name, _t, _doms in BINARY:
    for _variant, _sx, _sy in BROADCAST_PAIRS:
        if _doms is None:
            row(_name, _variant, _gg(_name), _t, make=_mod_pair(_sx, _sy))
        else:
            row(_name, _variant, _gg(_name), _t, [_sx, _sy], _doms)

# the other argument a plain ndarray constant (either side), or a Tensor without grad
row("arctan2", "ndarray-second", lambda x: gg.arctan2(x, _C23),
    lambda x: torch.atan2(x, T(_C23)), [(3,)], _NZ)
row("arctan2", "ndarray-first", lambda y: gg.arctan2(_C4, y),
    lambda y: torch.atan2(T(_C4), y), [(3, 4)])
row("arctan2", "y-no-grad", _gg("arctan2"), torch.atan2, [(3, 4), (4,)], (_NZ, REAL),
    diff=(True, False))
row("arctan2", "python-scalar", lambda x: gg.arctan2(x, -1.5),
    lambda x: torch.atan2(x, T(-1.5)), [(3, 4)], _NZ)
row("arctan2", "np.arctan2(tensor,tensor)", lambda x, y: np.arctan2(x, y), torch.atan2,
    [(3, 4), (3, 4)], (_NZ, REAL))
row("arctan2", "all-quadrants", _gg("arctan2"), torch.atan2, [(4, 5), (4, 5)],
    (_NZ, Domain(-2.0, 2.0, avoid=(0.0,), gap=0.3)))
row("arctan2", "atan2-alias", lambda x, y: gg.atan2(x, y), torch.atan2, [(2, 3), (3,)],
    (_NZ, REAL))

row("hypot", "ndarray-second", lambda x: gg.hypot(x, _C23),
    lambda x: torch.hypot(x, T(_C23)), [(3,)])
row("hypot", "ndarray-first", lambda y: gg.hypot(_C4, y),
    lambda y: torch.hypot(T(_C4), y), [(3, 4)])
row("hypot", "x-no-grad", _gg("hypot"), torch.hypot, [(3, 4), (3, 4)], (_NZ, REAL),
    diff=(False, True))
row("hypot", "python-scalar", lambda x: gg.hypot(x, 0.5), lambda x: torch.hypot(x, T(0.5)),
    [(3, 4)])
row("hypot", "np.hypot(tensor,tensor)", lambda x, y: np.hypot(x, y), torch.hypot,
    [(2, 3), (2, 3)], (_NZ, REAL))

row("logaddexp", "ndarray-second", lambda x: gg.logaddexp(x, _C23),
    lambda x: torch.logaddexp(x, T(_C23)), [(3,)])
row("logaddexp", "ndarray-first", lambda y: gg.logaddexp(_C4, y),
    lambda y: torch.logaddexp(T(_C4), y), [(3, 4)])
row("logaddexp", "y-no-grad", _gg("logaddexp"), torch.logaddexp, [(3, 4), (3, 1)],
    diff=(True, False))
row("logaddexp", "python-scalar-0", lambda x: gg.logaddexp(x, 0.0),
    lambda x: torch.logaddexp(x, T(0.0)), [(3, 4)], Domain(-6.0, 6.0))
row("logaddexp", "np.logaddexp(tensor,tensor)", lambda x, y: np.logaddexp(x, y),
    torch.logaddexp, [(3, 4), (4,)])
# stable: no exp overflows or underflows to a 0/0, far from 0 or far apart
row("logaddexp", "large", _gg("logaddexp"), torch.logaddexp, [(3, 4), (3, 4)],
    Domain(998.0, 1002.0))
row("logaddexp", "very-negative", _gg("logaddexp"), torch.logaddexp, [(3, 4), (3, 4)],
    Domain(-1002.0, -998.0))
row("logaddexp", "far-apart", _gg("logaddexp"), torch.logaddexp, [(3, 4), (3, 4)],
    (Domain(-40.0, -30.0), Domain(30.0, 40.0)))

row("mod", "continuous-divisors", _gg("mod"), torch.remainder, make=_mod_same_shape)
row("mod", "op:x%y", lambda x, y: x % y, torch.remainder, make=_mod_pair((3, 4), (4,)))
row("mod", "op:x%s", lambda x: x % 0.7, lambda x: torch.remainder(x, 0.7), [(3, 4)],
    Domain(-2.0, 2.0, avoid=(-2.1, -1.4, -0.7, 0.0, 0.7, 1.4, 2.1), gap=0.1))
row("mod", "op:x%int", lambda x: x % 2, lambda x: torch.remainder(x, 2), [(3, 4)],
    Domain(-3.0, 3.0, avoid=(-2.0, 0.0, 2.0), gap=0.1))
row("mod", "op:x%negative", lambda x: x % -1.5, lambda x: torch.remainder(x, -1.5),
    [(3, 4)], Domain(-2.0, 2.0, avoid=(-1.5, 0.0, 1.5), gap=0.1))
# s % x: 2/x away from integers (x = 1 gives 2, x = 2/3 would give 3)
row("mod", "op:s%x", lambda y: 2.0 % y, lambda y: torch.remainder(T(2.0), y), [(3, 4)],
    Domain(0.75, 1.9, avoid=(1.0,), gap=0.08))
row("mod", "op:s%x-negative-divisor", lambda y: 2.0 % y,
    lambda y: torch.remainder(T(2.0), y), [(3, 4)], Domain(-1.9, -0.75, avoid=(-1.0,), gap=0.08))
row("mod", "op:ndarray%x", lambda y: _C23 % y, lambda y: torch.remainder(T(_C23), y),
    [(3,)], Domain(1.2, 1.4))  # C / y in ±(0.17..0.84) or (1.07..1.67): no integer
row("mod", "op:x%ndarray", lambda x: x % _C23, lambda x: torch.remainder(x, T(_C23)),
    make=lambda rng: [0.25 * rng.integers(-8, 8, size=(2, 3)) + rng.uniform(0.05, 0.2, (2, 3))])
row("mod", "y-no-grad", _gg("mod"), torch.remainder, make=_mod_pair((2, 3), (3,)),
    diff=(True, False))
row("mod", "x-no-grad", _gg("mod"), torch.remainder, make=_mod_pair((2, 3), (2, 3)),
    diff=(False, True))
row("mod", "np.mod(tensor,tensor)", lambda x, y: np.mod(x, y), torch.remainder,
    make=_mod_pair((3, 4), (3, 4)))
