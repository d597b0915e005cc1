"""The op table: every array operation of API.md, one row per (op, configuration).

Each row says how to build the inputs (shapes and a value domain, or a custom builder),
how to call the op in glassgrad and how to compute the same thing in PyTorch (the oracle).
`test_ops.py` runs every row through the same checks: forward vs PyTorch, VJP vs PyTorch,
gradient shapes, gradcheck and gradgradcheck. Adding an op is adding rows here.

Conventions
-----------
- A row's callables take exactly one Tensor per input, in order, and return one Tensor.
  Everything that is not a differentiable input (axes, index arrays, masks, pad widths,
  Python scalars) is a constant inside the callables.
- The glassgrad callable uses NumPy semantics (`axis=`, `keepdims=`, `ddof=`, `np.pad`
  widths, `np.split` sections); the torch callable translates them (`dim=`, `amax`,
  `correction=`, reversed `F.pad` widths, split sizes, `flip` for negative steps).
- Domains keep inputs away from points where the op is not differentiable (|x| at 0, relu
  at 0, clip at its bounds, ties in max/min), so central differences are meaningful.
  Rows that test behaviour exactly *at* such points (ties) set ``gradcheck=False``.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as TF

import glassgrad as gg

Shape = tuple[int, ...]


# --------------------------------------------------------------------------- domains
@dataclasses.dataclass(frozen=True)
class Domain:
    """How to draw one input's values: uniform on [low, high], at least `gap` away from
    every point in `avoid`; with `distinct`, all values pairwise >= ~gap apart (no ties)."""

    low: float = -2.0
    high: float = 2.0
    avoid: tuple[float, ...] = ()
    gap: float = 0.05
    distinct: bool = False

    def sample(self, rng: np.random.Generator, shape: Shape) -> np.ndarray:
        n = int(np.prod(shape, dtype=np.int64))
        if self.distinct:
            step = (self.high - self.low) / max(n, 1)
            slots = rng.permutation(n) + 0.5 + rng.uniform(-0.25, 0.25, size=n)
            return (self.low + slots * step).reshape(shape)
        x = np.array(rng.uniform(self.low, self.high, size=shape), dtype=np.float64)
        for _ in range(1000):
            bad = np.zeros(x.shape, dtype=bool)
            for p in self.avoid:
                bad |= np.abs(x - p) < self.gap
            if not bad.any():
                return x
            x[bad] = rng.uniform(self.low, self.high, size=int(bad.sum()))
        raise RuntimeError(f"could not sample {self} for shape {shape}")


REAL = Domain()
POS = Domain(0.5, 2.0)  # log, sqrt, pow bases, ...
NONZERO = Domain(avoid=(0.0,), gap=0.3)  # divisors, abs, relu, sign
DISTINCT = Domain(distinct=True)  # max/min reductions: no ties within reach of eps


# --------------------------------------------------------------------------- rows
@dataclasses.dataclass(frozen=True)
class OpRow:
    """One configuration of one op.

    op:       the API name (``add``, ``sum``, ``getitem``, ...); the coverage test checks
              every op of API.md has rows.
    variant:  what this row exercises; ``id`` is ``op-variant``.
    gg_fn / torch_fn: the same computation in glassgrad and in PyTorch.
    shapes:   one shape per input.
    domain:   one Domain for all inputs, or one per input.
    make:     custom input builder ``rng -> list of float64 arrays`` (overrides shapes).
    diff:     which inputs require grad (default: all).
    gradcheck / second_order: run central-difference checks of order 1 / 2.
    composite: optional glassgrad callable (same arguments as gg_fn) computing the same
              function from other, simpler glassgrad ops (softmax as
              ``exp(z - logsumexp(z))``, conv2d as a sum of shifted einsums): the fused
              op's value and VJP must equal the composite's to rounding (float64).
    """

    op: str
    variant: str
    gg_fn: Callable[..., Any]
    torch_fn: Callable[..., Any]
    shapes: tuple[Shape, ...] = ()
    domain: Domain | tuple[Domain, ...] = REAL
    make: Callable[[np.random.Generator], list[np.ndarray]] | None = None
    diff: tuple[bool, ...] | None = None
    gradcheck: bool = True
    second_order: bool = True
    composite: Callable[..., Any] | None = None

    @property
    def id(self) -> str:
        return f"{self.op}-{self.variant}"

    @property
    def seed(self) -> int:
        return zlib.crc32(self.id.encode())

    def inputs(self) -> list[np.ndarray]:
        """Fresh float64 input arrays, the same on every call."""
        rng = np.random.default_rng(self.seed)
        if self.make is not None:
            return [np.asarray(a, dtype=np.float64) for a in self.make(rng)]
        doms = self.domain if isinstance(self.domain, tuple) else (self.domain,) * len(self.shapes)
        return [d.sample(rng, s) for d, s in zip(doms, self.shapes, strict=True)]

    def diff_mask(self, n_inputs: int) -> tuple[bool, ...]:
        return self.diff if self.diff is not None else (True,) * n_inputs


ROWS: list[OpRow] = []


def row(op: str, variant: str, gg_fn, torch_fn, shapes=(), domain=REAL, **kw) -> None:
    ROWS.append(OpRow(op, variant, gg_fn, torch_fn, tuple(shapes), domain, **kw))


def _gg(name: str) -> Callable[..., Any]:
    """``gg.<name>``, looked up at call time: a missing op fails its own rows, not the import."""

    def call(*args, **kwargs):
        return getattr(gg, name)(*args, **kwargs)

    call.__name__ = name
    return call


def T(a) -> torch.Tensor:
    """A float64 / int / bool constant as a torch tensor (a copy: glassgrad may have
    made the array read-only while a graph saves it, which torch warns about)."""
    return torch.tensor(np.array(a))


# --------------------------------------------------------------------------- torch translations
def _dims(x: torch.Tensor, axis) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(x.ndim))
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _t_prod(x: torch.Tensor, axis, keepdims: bool) -> torch.Tensor:
    # torch.prod reduces one dim at a time; go from the last so indices stay valid.
    for d in sorted((d % x.ndim for d in _dims(x, axis)), reverse=True):
        x = torch.prod(x, dim=d, keepdim=keepdims)
    return x


def t_reduce(name: str, axis, keepdims: bool, ddof: int = 0) -> Callable[[torch.Tensor], Any]:
    def f(x):
        d = _dims(x, axis)
        if name == "sum":
            return torch.sum(x, dim=d, keepdim=keepdims)
        if name == "mean":
            return torch.mean(x, dim=d, keepdim=keepdims)
        if name == "max":  # amax/amin split the gradient evenly between ties, as API.md
            return torch.amax(x, dim=d, keepdim=keepdims)
        if name == "min":
            return torch.amin(x, dim=d, keepdim=keepdims)
        if name == "var":
            return torch.var(x, dim=d, correction=ddof, keepdim=keepdims)
        if name == "std":
            return torch.std(x, dim=d, correction=ddof, keepdim=keepdims)
        if name == "logsumexp":
            return torch.logsumexp(x, dim=d, keepdim=keepdims)
        if name == "prod":
            return _t_prod(x, axis, keepdims)
        raise KeyError(name)

    return f


def t_pad_width(pad_width, ndim: int) -> tuple[int, ...]:
    """NumPy pad_width (int, (b, a), or ((b0, a0), (b1, a1), ...)) -> F.pad's flat tuple,
    which lists the LAST axis first."""
    pw = np.broadcast_to(np.asarray(pad_width, dtype=int), (ndim, 2))
    return tuple(int(v) for pair in pw[::-1] for v in pair)


def t_split(x: torch.Tensor, indices_or_sections, axis: int = 0) -> list[torch.Tensor]:
    """np.split semantics (equal sections, or split *indices*) -> torch.split sizes."""
    n = x.shape[axis]
    if isinstance(indices_or_sections, int):
        assert n % indices_or_sections == 0
        sizes = [n // indices_or_sections] * indices_or_sections
    else:
        bounds = [0, *(min(max(i, 0), n) for i in indices_or_sections), n]
        sizes = [max(b - a, 0) for a, b in zip(bounds[:-1], bounds[1:])]
    return list(torch.split(x, sizes, dim=axis))


# --------------------------------------------------------------------------- composites
# The same function from simpler glassgrad ops: a row's ``composite`` (see OpRow).
def _axes(x, axis) -> tuple[int, ...]:
    nd = len(x.shape)
    if axis is None:
        return tuple(range(nd))
    return tuple(a % nd for a in ((axis,) if isinstance(axis, int) else axis))


def c_reduce(name: str, axis, keepdims: bool, ddof: int = 0) -> Callable[[Any], Any] | None:
    """The reduction ``name`` written with ``sum`` (and exp/log/sqrt/max); None where
    there is no natural composite (sum itself, max, min, prod)."""

    def count(x):
        return int(np.prod([x.shape[a] for a in _axes(x, axis)], dtype=np.int64))

    def mean(x):
        return gg.sum(x, axis=axis, keepdims=keepdims) / count(x)

    def var(x):
        d = x - gg.sum(x, axis=axis, keepdims=True) / count(x)
        return gg.sum(d * d, axis=axis, keepdims=keepdims) / (count(x) - ddof)

    def std(x):
        return gg.sqrt(var(x))

    def logsumexp(x):
        # shifted by the (constant) max, so large inputs do not overflow the exp
        m = gg.max(x, axis=axis, keepdims=True).detach()
        s = gg.log(gg.sum(gg.exp(x - m), axis=axis, keepdims=keepdims))
        return s + (m if keepdims else gg.reshape(m, s.shape))

    return {"mean": mean, "var": var, "std": std, "logsumexp": logsumexp}.get(name)


C_UNARY: dict[str, Callable[[Any], Any]] = {
    "sigmoid": lambda x: 1.0 / (1.0 + gg.exp(-x)),
    "tanh": lambda x: (1.0 - gg.exp(-2.0 * x)) / (1.0 + gg.exp(-2.0 * x)),
}


# =========================================================================== the table
# ---- operators, with broadcasting shape pairs -------------------------------------
BROADCAST_PAIRS: list[tuple[str, Shape, Shape]] = [
    ("same", (3, 4), (3, 4)),
    ("(3,1,4)x(5,4)", (3, 1, 4), (5, 4)),
    ("(3,)x(2,3)", (3,), (2, 3)),
    ("()x(2,3)", (), (2, 3)),
    ("(2,3)x()", (2, 3), ()),
    ("(4,1)x(1,3)", (4, 1), (1, 3)),
]

BINARY: list[tuple[str, Callable, Callable, Domain, Domain]] = [
    ("add", lambda x, y: x + y, lambda x, y: x + y, REAL, REAL),
    ("sub", lambda x, y: x - y, lambda x, y: x - y, REAL, REAL),
    ("mul", lambda x, y: x * y, lambda x, y: x * y, REAL, REAL),
    ("truediv", lambda x, y: x / y, lambda x, y: x / y, REAL, NONZERO),
    ("pow", lambda x, y: x**y, lambda x, y: x**y, POS, REAL),
    ("maximum", _gg("maximum"), torch.maximum, REAL, REAL),
    ("minimum", _gg("minimum"), torch.minimum, REAL, REAL),
]

for _name, _g, _t, _dx, _dy in BINARY:
    for _variant, _sx, _sy in BROADCAST_PAIRS:
        row(_name, _variant, _g, _t, [_sx, _sy], (_dx, _dy))

# one input constant (requires_grad=False): its .grad must stay None
row("mul", "y-no-grad", lambda x, y: x * y, lambda x, y: x * y, [(2, 3), (3,)], diff=(True, False))
row("add", "x-no-grad", lambda x, y: x + y, lambda x, y: x + y, [(3,), (2, 3)], diff=(False, True))
row("neg", "unary", lambda x: -x, lambda x: -x, [(3, 4)])
row("neg", "scalar-shaped", lambda x: -x, lambda x: -x, [()])

# Python scalars on either side
_S = 2.5
for _op, _variant, _g, _t, _d in [
    ("add", "x+s", lambda x: x + _S, lambda x: x + _S, REAL),
    ("add", "s+x", lambda x: _S + x, lambda x: _S + x, REAL),
    ("sub", "x-s", lambda x: x - _S, lambda x: x - _S, REAL),
    ("sub", "s-x", lambda x: _S - x, lambda x: _S - x, REAL),
    ("mul", "x*s", lambda x: x * _S, lambda x: x * _S, REAL),
    ("mul", "s*x", lambda x: _S * x, lambda x: _S * x, REAL),
    ("mul", "x*int", lambda x: x * 3, lambda x: x * 3, REAL),
    ("truediv", "x/s", lambda x: x / _S, lambda x: x / _S, REAL),
    ("truediv", "s/x", lambda x: _S / x, lambda x: _S / x, NONZERO),
    ("pow", "x**3", lambda x: x**3, lambda x: x**3, REAL),
    ("pow", "x**2", lambda x: x**2, lambda x: x**2, REAL),
    ("pow", "x**2.5", lambda x: x**2.5, lambda x: x**2.5, POS),
    ("pow", "x**0.5", lambda x: x**0.5, lambda x: x**0.5, POS),
    ("pow", "x**-1.5", lambda x: x**-1.5, lambda x: x**-1.5, POS),
    ("pow", "2**x", lambda x: 2**x, lambda x: 2**x, REAL),
    ("pow", "2.5**x", lambda x: _S**x, lambda x: _S**x, REAL),
]:
    row(_op, "scalar:" + _variant, _g, _t, [(3, 4)], _d)

def _with_exact_zeros(rng):
    x = rng.uniform(-2.0, 2.0, size=(3, 4))
    x[0, :2] = 0.0
    return [x]


# x**0 is the constant 1: its derivative is 0 everywhere, also at x == 0 (PyTorch: 0).
row("pow", "scalar:x**0-at-zero", lambda x: x**0, lambda x: x**0, make=_with_exact_zeros)
row("pow", "scalar:x**2-at-zero", lambda x: x**2, lambda x: x**2, make=_with_exact_zeros)

# NumPy arrays on either side ("reflected forms with ... arrays"): result is a Tensor
_C4 = np.linspace(-1.5, 1.5, 4)
_C23 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
_C34 = np.linspace(-1.0, 2.0, 12).reshape(3, 4)
row("mul", "ndarray*x", lambda x: _C4 * x, lambda x: T(_C4) * x, [(3, 4)])
row("sub", "ndarray-x", lambda x: _C4 - x, lambda x: T(_C4) - x, [(3, 4)])
row("truediv", "ndarray/x", lambda x: _C4 / x, lambda x: T(_C4) / x, [(3, 4)], NONZERO)
row("add", "ndarray(2,3)+x(3,)", lambda x: _C23 + x, lambda x: T(_C23) + x, [(3,)])
row("add", "x(3,)+ndarray(2,3)", lambda x: x + _C23, lambda x: x + T(_C23), [(3,)])
row("matmul", "ndarray@x", lambda x: _C34 @ x, lambda x: T(_C34) @ x, [(4, 2)])
row("pow", "ndarray**x", lambda x: np.abs(_C4) ** x, lambda x: T(np.abs(_C4)) ** x, [(3, 4)])

# ---- elementwise ------------------------------------------------------------------
UNARY: list[tuple[str, Callable, Domain]] = [
    ("abs", torch.abs, NONZERO),
    ("exp", torch.exp, REAL),
    ("log", torch.log, POS),
    ("log1p", torch.log1p, Domain(-0.5, 2.0)),
    ("sqrt", torch.sqrt, POS),
    ("sin", torch.sin, Domain(-4.0, 4.0)),
    ("cos", torch.cos, Domain(-4.0, 4.0)),
    ("tanh", torch.tanh, REAL),
    ("sigmoid", torch.sigmoid, Domain(-4.0, 4.0)),
    ("relu", torch.relu, NONZERO),
    ("sign", torch.sign, NONZERO),
]
for _name, _t, _d in UNARY:
    row(_name, "(3,4)", _gg(_name), _t, [(3, 4)], _d, composite=C_UNARY.get(_name))
    row(_name, "scalar-shaped", _gg(_name), _t, [()], _d, composite=C_UNARY.get(_name))
row("abs", "builtin-abs", lambda x: abs(x), torch.abs, [(2, 3)], NONZERO)
row("sigmoid", "wide-range", _gg("sigmoid"), torch.sigmoid, [(4, 5)], Domain(-40.0, 40.0),
    composite=C_UNARY["sigmoid"])
row("exp", "(2,3,4)", _gg("exp"), torch.exp, [(2, 3, 4)])

row("maximum", "python-scalar", lambda x: gg.maximum(x, 0.3),
    lambda x: torch.clamp_min(x, 0.3), [(3, 4)], Domain(avoid=(0.3,)))
row("minimum", "python-scalar", lambda x: gg.minimum(x, 0.3),
    lambda x: torch.clamp_max(x, 0.3), [(3, 4)], Domain(avoid=(0.3,)))
row("maximum", "python-scalar-first", lambda x: gg.maximum(0.3, x),
    lambda x: torch.clamp_min(x, 0.3), [(3, 4)], Domain(avoid=(0.3,)))


def _int_valued(shape_x: Shape, shape_y: Shape):
    # Small integers: many exact ties (the tie rule: 0.5 to each side, as PyTorch).
    return lambda rng: [rng.integers(-1, 2, size=shape_x), rng.integers(-1, 2, size=shape_y)]


row("maximum", "ties", _gg("maximum"), torch.maximum, make=_int_valued((3, 4), (3, 4)),
    gradcheck=False, second_order=False)
row("minimum", "ties", _gg("minimum"), torch.minimum, make=_int_valued((3, 4), (3, 4)),
    gradcheck=False, second_order=False)
row("maximum", "ties-broadcast", _gg("maximum"), torch.maximum, make=_int_valued((3, 1), (3, 4)),
    gradcheck=False, second_order=False)

def _C_CLIP(x):
    return gg.minimum(gg.maximum(x, -0.5), 0.8)


for _variant, _g, _t, _d in [
    ("fn(-0.5,0.8)", lambda x: gg.clip(x, -0.5, 0.8), lambda x: torch.clamp(x, -0.5, 0.8),
     Domain(avoid=(-0.5, 0.8))),
    ("method(-0.5,0.8)", lambda x: x.clip(-0.5, 0.8), lambda x: torch.clamp(x, -0.5, 0.8),
     Domain(avoid=(-0.5, 0.8))),
    ("lower-only", lambda x: gg.clip(x, -0.5, None), lambda x: torch.clamp(x, min=-0.5),
     Domain(avoid=(-0.5,))),
    ("upper-only", lambda x: gg.clip(x, None, 0.3), lambda x: torch.clamp(x, max=0.3),
     Domain(avoid=(0.3,))),
]:
    row("clip", _variant, _g, _t, [(3, 4)], _d, composite=_C_CLIP if "0.8" in _variant else None)

# Array bounds (NumPy allows them, broadcasting; torch.clamp takes tensor bounds too).
_LO4 = np.array([-0.5, -0.4, -0.6, -0.3])
_HI31 = np.array([[0.5], [0.8], [1.0]])


def _clip_inputs(rng):
    x = Domain(avoid=(-0.6, -0.5, -0.4, -0.3, 0.5, 0.8, 1.0)).sample(rng, (3, 4))
    return [x, _LO4.copy(), _HI31.copy()]


row("clip", "ndarray-bounds", lambda x: gg.clip(x, _LO4, _HI31),
    lambda x: torch.clamp(x, T(_LO4), T(_HI31)), make=lambda rng: _clip_inputs(rng)[:1])
row("clip", "tensor-bounds-constant", _gg("clip"), torch.clamp, make=_clip_inputs,
    diff=(True, False, False))
row("clip", "tensor-bounds-differentiable", _gg("clip"), torch.clamp, make=_clip_inputs)

_COND34 = np.array([[1, 0, 0, 1], [0, 1, 1, 1], [0, 0, 1, 0]], dtype=bool)
row("where", "same-shape", lambda x, y: gg.where(gg.tensor(_COND34), x, y),
    lambda x, y: torch.where(T(_COND34), x, y), [(3, 4), (3, 4)])
row("where", "broadcast-all", lambda x, y: gg.where(gg.tensor(_COND34[:, :1]), x, y),
    lambda x, y: torch.where(T(_COND34[:, :1]), x, y), [(1, 4), (3, 4)])
row("where", "scalar-shaped-x", lambda x, y: gg.where(gg.tensor(_COND34), x, y),
    lambda x, y: torch.where(T(_COND34), x, y), [(), (3, 4)])
row("where", "ndarray-cond", lambda x, y: gg.where(_COND34, x, y),
    lambda x, y: torch.where(T(_COND34), x, y), [(3, 4), (4,)])
row("where", "python-scalar-x", lambda y: gg.where(gg.tensor(_COND34), 0.5, y),
    lambda y: torch.where(T(_COND34), 0.5, y), [(3, 4)])
row("where", "cond-from-comparison", lambda x, y: gg.where(x > 0, x, y),
    lambda x, y: torch.where(x > 0, x, y), [(3, 4), (3, 4)], (NONZERO, REAL))

# ---- reductions -------------------------------------------------------------------
REDUCTIONS = ["sum", "mean", "max", "min", "var", "std", "logsumexp", "prod"]
REDUCTION_CONFIGS: list[tuple[Any, bool]] = [
    (None, False), (None, True), (1, False), (-1, True), ((0, 2), False), ((0, 2), True),
    ((-1, 0), True),
]
_RED_DOMAIN = {"max": DISTINCT, "min": DISTINCT, "prod": Domain(-1.6, 1.6)}


def _red_variant(axis, keepdims, ddof=None) -> str:
    s = f"axis={axis}".replace(" ", "")
    s += ",keepdims" if keepdims else ""
    return s + (f",ddof={ddof}" if ddof is not None else "")


for _name in REDUCTIONS:
    _fn = _gg(_name)
    for _axis, _keep in REDUCTION_CONFIGS:
        row(_name, _red_variant(_axis, _keep),
            lambda x, f=_fn, a=_axis, k=_keep: f(x, axis=a, keepdims=k),
            t_reduce(_name, _axis, _keep), [(2, 3, 4)], _RED_DOMAIN.get(_name, REAL),
            composite=c_reduce(_name, _axis, _keep))
for _name in ("var", "std"):
    _fn = _gg(_name)
    for _axis, _keep in [(None, False), (1, True), ((0, 2), False)]:
        row(_name, _red_variant(_axis, _keep, ddof=1),
            lambda x, f=_fn, a=_axis, k=_keep: f(x, axis=a, keepdims=k, ddof=1),
            t_reduce(_name, _axis, _keep, ddof=1), [(2, 3, 4)],
            composite=c_reduce(_name, _axis, _keep, ddof=1))

# Tensor-method forms (NumPy: these are ndarray methods), defaults and positional axis
for _name in ("sum", "mean", "max", "min", "var", "std", "prod"):
    _d = _RED_DOMAIN.get(_name, REAL)
    row(_name, "method()", lambda x, n=_name: getattr(x, n)(), t_reduce(_name, None, False),
        [(3, 4)], _d, composite=c_reduce(_name, None, False))
    row(_name, "method(axis=0,keepdims)",
        lambda x, n=_name: getattr(x, n)(axis=0, keepdims=True),
        t_reduce(_name, 0, True), [(3, 4)], _d, composite=c_reduce(_name, 0, True))
row("sum", "method(1)", lambda x: x.sum(1), t_reduce("sum", 1, False), [(3, 4)])
row("var", "method(ddof=1)", lambda x: x.var(ddof=1), t_reduce("var", None, False, 1), [(3, 4)],
    composite=c_reduce("var", None, False, 1))
row("logsumexp", "large-values", lambda x: gg.logsumexp(x, axis=1),
    t_reduce("logsumexp", 1, False), [(3, 4)], Domain(998.0, 1002.0),
    composite=c_reduce("logsumexp", 1, False))
row("logsumexp", "very-negative", lambda x: gg.logsumexp(x, axis=-1),
    t_reduce("logsumexp", -1, False), [(3, 4)], Domain(-1002.0, -998.0),
    composite=c_reduce("logsumexp", -1, False))


def _with_zeros(n_zeros: int):
    def make(rng):
        x = rng.uniform(-1.6, 1.6, size=(3, 4))
        x[1, :n_zeros] = 0.0  # row 1 holds the zeros; row 0 has one too when n_zeros == 1
        if n_zeros == 1:
            x[0, 2] = 0.0
        return [x]

    return make


row("prod", "one-zero", lambda x: gg.prod(x, axis=1), t_reduce("prod", 1, False),
    make=_with_zeros(1))
row("prod", "two-zeros", lambda x: gg.prod(x, axis=1), t_reduce("prod", 1, False),
    make=_with_zeros(2))
row("prod", "one-zero-all", lambda x: gg.prod(x), t_reduce("prod", None, False),
    make=lambda rng: [np.concatenate([[0.0], rng.uniform(0.5, 1.5, size=5)])])


def _constant_row(rng):
    x = rng.uniform(-2.0, 2.0, size=(3, 4))
    x[1] = 0.7  # zero variance: std is not differentiable there; PyTorch's convention is 0
    return [x]


row("std", "zero-variance-row", lambda x: gg.std(x, axis=1), t_reduce("std", 1, False),
    make=_constant_row, second_order=False)
row("var", "zero-variance-row", lambda x: gg.var(x, axis=1), t_reduce("var", 1, False),
    make=_constant_row, composite=c_reduce("var", 1, False))


def _ties(rng):
    # Values from {0, 1, 2}: every row/column has repeated maxima and minima.
    return [rng.integers(0, 3, size=(3, 4))]


for _name in ("max", "min"):
    for _axis in (None, 1, 0):
        row(_name, f"ties,axis={_axis}", lambda x, n=_name, a=_axis: getattr(gg, n)(x, axis=a),
            t_reduce(_name, _axis, False), make=_ties, gradcheck=False, second_order=False)

# ---- shape ------------------------------------------------------------------------
_X = [(2, 3, 4)]
for _variant, _g, _t, _s in [
    ("method(4,6)", lambda x: x.reshape(4, 6), lambda x: x.reshape(4, 6), _X),
    ("method((6,-1))", lambda x: x.reshape((6, -1)), lambda x: x.reshape(6, -1), _X),
    ("fn(x,(2,12))", lambda x: gg.reshape(x, (2, 12)), lambda x: x.reshape(2, 12), _X),
    ("to-1d", lambda x: x.reshape(-1), lambda x: x.reshape(-1), _X),
    ("to-scalar", lambda x: x.reshape(()), lambda x: x.reshape(()), [(1, 1)]),
    ("from-scalar", lambda x: x.reshape(1, 1, 1), lambda x: x.reshape(1, 1, 1), [()]),
]:
    row("reshape", _variant, _g, _t, _s)

for _variant, _g, _t in [
    ("method()", lambda x: x.transpose(), lambda x: x.permute(2, 1, 0)),
    ("method(*axes)", lambda x: x.transpose(1, 0, 2), lambda x: x.permute(1, 0, 2)),
    ("method(axes)", lambda x: x.transpose((2, 0, 1)), lambda x: x.permute(2, 0, 1)),
    ("method(neg-axes)", lambda x: x.transpose(-1, 0, 1), lambda x: x.permute(2, 0, 1)),
    ("fn(x)", lambda x: gg.transpose(x), lambda x: x.permute(2, 1, 0)),
    ("fn(x,axes=)", lambda x: gg.transpose(x, axes=(1, 2, 0)), lambda x: x.permute(1, 2, 0)),
    (".T-3d", lambda x: x.T, lambda x: x.permute(2, 1, 0)),
]:
    row("transpose", _variant, _g, _t, _X)
row("transpose", ".T-2d", lambda x: x.T, lambda x: x.t(), [(3, 5)])
row("transpose", ".T-1d", lambda x: x.T, lambda x: x, [(4,)])
# axes as one int (1-d input), as np.transpose(a, 0); negative axes in a list
row("transpose", "fn(x,int)-1d", lambda x: gg.transpose(x, 0), lambda x: x.permute(0), [(4,)])
row("transpose", "fn(x,-1)-1d", lambda x: gg.transpose(x, -1), lambda x: x.permute(-1), [(4,)])
row("transpose", "fn(x,[neg])", lambda x: gg.transpose(x, [-1, -3, 1]),
    lambda x: x.permute(2, 0, 1), [(2, 3, 4)])
row("swapaxes", "method(0,2)", lambda x: x.swapaxes(0, 2), lambda x: x.swapaxes(0, 2), _X)
row("swapaxes", "fn(-1,1)", lambda x: gg.swapaxes(x, -1, 1), lambda x: x.swapaxes(-1, 1), _X)

_SQ = [(1, 3, 1, 4)]
row("squeeze", "method()", lambda x: x.squeeze(), lambda x: x.squeeze(), _SQ)
row("squeeze", "method(axis=2)", lambda x: x.squeeze(axis=2), lambda x: x.squeeze(2), _SQ)
row("squeeze", "method(-4)", lambda x: x.squeeze(-4), lambda x: x.squeeze(0), _SQ)
row("squeeze", "fn(axis=(0,2))", lambda x: gg.squeeze(x, axis=(0, 2)),
    lambda x: x.squeeze(2).squeeze(0), _SQ)
row("squeeze", "scalar", lambda x: gg.squeeze(x), lambda x: x.squeeze(), [(1, 1)])
row("expand_dims", "axis=0", lambda x: gg.expand_dims(x, 0), lambda x: x.unsqueeze(0), [(3, 4)])
row("expand_dims", "axis=-1", lambda x: gg.expand_dims(x, -1), lambda x: x.unsqueeze(-1),
    [(3, 4)])
row("expand_dims", "axis=1", lambda x: gg.expand_dims(x, axis=1), lambda x: x.unsqueeze(1),
    [(3, 4)])
row("expand_dims", "axis=(0,3)", lambda x: gg.expand_dims(x, (0, 3)),
    lambda x: x.unsqueeze(0).unsqueeze(3), [(3, 4)])
row("broadcast_to", "(3,1)->(2,3,4)", lambda x: gg.broadcast_to(x, (2, 3, 4)),
    lambda x: torch.broadcast_to(x, (2, 3, 4)), [(3, 1)])
row("broadcast_to", "()->(2,3)", lambda x: gg.broadcast_to(x, (2, 3)),
    lambda x: torch.broadcast_to(x, (2, 3)), [()])
row("broadcast_to", "(4,)->(3,4)", lambda x: gg.broadcast_to(x, (3, 4)),
    lambda x: torch.broadcast_to(x, (3, 4)), [(4,)])
row("flatten", "method()", lambda x: x.flatten(), lambda x: x.flatten(), _X)
row("flatten", "fn(x)", lambda x: gg.flatten(x), lambda x: x.flatten(), _X)
row("flatten", "scalar", lambda x: x.flatten(), lambda x: x.reshape(1), [()])

# ---- indexing ---------------------------------------------------------------------
_IDX = np.array([0, 2, 2, 1, 0, 2])  # repeated: the gradient must accumulate
_IDX2D = np.array([[0, 1], [1, 1], [2, 0]])
_MASK_ROWS = np.array([True, False, True, True])
_MASK_COLS = np.array([False, True, True, False, True])
_MASK_FULL = np.array([[1, 0, 1, 1, 0], [0, 0, 1, 0, 1], [1, 1, 1, 0, 0], [0, 1, 0, 0, 1]],
                      dtype=bool)
_I = T
for _variant, _g, _t, _s in [
    # basic
    ("int", lambda x: x[1], lambda x: x[1], [(3, 4)]),
    ("neg-int", lambda x: x[-1], lambda x: x[-1], [(3, 4)]),
    ("slice", lambda x: x[1:3], lambda x: x[1:3], [(4, 5)]),
    ("slice-past-end", lambda x: x[2:100], lambda x: x[2:100], [(4, 5)]),
    ("step", lambda x: x[:, ::2], lambda x: x[:, ::2], [(4, 5)]),
    ("neg-step", lambda x: x[::-1], lambda x: torch.flip(x, (0,)), [(4, 5)]),
    ("neg-step-2", lambda x: x[:, 3:0:-2], lambda x: x[:, [3, 1]], [(4, 5)]),
    ("ellipsis", lambda x: x[..., 1], lambda x: x[..., 1], [(2, 3, 4)]),
    ("newaxis", lambda x: x[None, :, 1:], lambda x: x[None, :, 1:], [(3, 4)]),
    ("int+slice", lambda x: x[1, :, -2:], lambda x: x[1, :, -2:], [(2, 3, 4)]),
    ("all-ints", lambda x: x[1, 2, 3], lambda x: x[1, 2, 3], [(2, 3, 4)]),
    # advanced: integer arrays
    ("int-array-repeats", lambda x: x[_IDX], lambda x: x[_I(_IDX)], [(3, 4)]),
    ("int-list-repeats", lambda x: x[[2, 2, 2]], lambda x: x[[2, 2, 2]], [(3, 4)]),
    ("int-array-neg", lambda x: x[np.array([-1, -1, 0, -3])], lambda x: x[[2, 2, 0, 0]],
     [(3, 4)]),
    ("int-array-2d", lambda x: x[_IDX2D], lambda x: x[_I(_IDX2D)], [(3, 4)]),
    ("slice+int-array", lambda x: x[:, [3, 0, 3]], lambda x: x[:, [3, 0, 3]], [(3, 4)]),
    ("int-array+slice", lambda x: x[np.array([1, 1]), 1:3], lambda x: x[[1, 1], 1:3],
     [(3, 4)]),
    ("two-int-arrays", lambda x: x[[0, 1, 1], [2, 2, 0]], lambda x: x[[0, 1, 1], [2, 2, 0]],
     [(3, 4)]),
    ("int-arrays-broadcast", lambda x: x[_IDX2D[:, :1], np.array([1, 3, 3])],
     lambda x: x[_I(_IDX2D[:, :1]), _I(np.array([1, 3, 3]))], [(3, 4)]),
    ("split-advanced", lambda x: x[[0, 1, 1], :, [1, 1, 3]],
     lambda x: x[[0, 1, 1], :, [1, 1, 3]], [(2, 3, 4)]),
    ("tensor-index", lambda x: x[gg.tensor(_IDX)], lambda x: x[_I(_IDX)], [(3, 4)]),
    ("empty-list", lambda x: x[[]], lambda x: x[torch.zeros(0, dtype=torch.long)], [(3, 4)]),
    # advanced: boolean masks
    ("mask-full", lambda x: x[_MASK_FULL], lambda x: x[_I(_MASK_FULL)], [(4, 5)]),
    ("mask-rows", lambda x: x[_MASK_ROWS], lambda x: x[_I(_MASK_ROWS)], [(4, 5)]),
    ("slice+mask", lambda x: x[:, _MASK_COLS], lambda x: x[:, _I(_MASK_COLS)], [(4, 5)]),
    ("mask-from-comparison", lambda x: x[x > 0], lambda x: x[x > 0], [(4, 5)]),
]:
    row("getitem", _variant, _g, _t, _s, NONZERO if "comparison" in _variant else REAL)


# ``y[index] = v`` on a non-leaf (the index_put op): values and gradients to x and v
def _setitem(index, clone):
    def f(x, v):
        y = clone(x)
        y[index] = v
        return y

    return f


for _variant, _ix, _vs in [
    ("int", 0, (4,)),
    ("int-broadcast", 0, (1,)),
    ("slice", slice(1, 3), (2, 4)),
    # v with extra leading length-1 axes, which NumPy and PyTorch drop
    ("int-lead-1s", 0, (1, 1, 4)),
    ("slice-lead-1", slice(1, 3), (1, 2, 4)),
    ("slice-lead-1s-broadcast", slice(1, 3), (1, 1, 1, 4)),
    ("int-array-lead-1", np.array([2, 0]), (1, 2, 4)),
]:
    row("setitem", _variant, _setitem(_ix, lambda x: x * 1.0),
        _setitem(torch.tensor(_ix) if isinstance(_ix, np.ndarray) else _ix,
                 lambda x: x.clone()),
        [(3, 4), _vs])

# ---- joining, padding, splitting --------------------------------------------------
row("concatenate", "axis=0-default", lambda x, y: gg.concatenate([x, y]),
    lambda x, y: torch.cat([x, y]), [(2, 3), (4, 3)])
row("concatenate", "axis=1", lambda x, y: gg.concatenate([x, y], axis=1),
    lambda x, y: torch.cat([x, y], dim=1), [(2, 3), (2, 1)])
row("concatenate", "axis=-1,three,tuple", lambda x, y, z: gg.concatenate((x, y, z), axis=-1),
    lambda x, y, z: torch.cat([x, y, z], dim=-1), [(2, 2, 1), (2, 2, 3), (2, 2, 2)])
row("concatenate", "same-input-twice", lambda x: gg.concatenate([x, x * 2.0], axis=0),
    lambda x: torch.cat([x, x * 2.0], dim=0), [(2, 3)])
row("concatenate", "with-ndarray", lambda x: gg.concatenate([x, _C23], axis=0),
    lambda x: torch.cat([x, T(_C23)], dim=0), [(1, 3)])
row("stack", "axis=0-default", lambda x, y: gg.stack([x, y]),
    lambda x, y: torch.stack([x, y]), [(2, 3), (2, 3)])
row("stack", "axis=1", lambda x, y: gg.stack([x, y], axis=1),
    lambda x, y: torch.stack([x, y], dim=1), [(2, 3), (2, 3)])
row("stack", "axis=-1,three", lambda x, y, z: gg.stack([x, y, z], axis=-1),
    lambda x, y, z: torch.stack([x, y, z], dim=-1), [(2, 3), (2, 3), (2, 3)])
row("stack", "scalars", lambda x, y: gg.stack([x, y]), lambda x, y: torch.stack([x, y]),
    [(), ()])
for _variant, _pw, _s in [
    ("pairs", ((1, 2), (0, 1)), (2, 3)),
    ("int", 1, (2, 3)),
    ("one-pair-all-axes", (2, 1), (2, 3)),
    ("3d", ((0, 0), (2, 0), (1, 1)), (2, 2, 3)),
]:
    row("pad", _variant, lambda x, p=_pw: gg.pad(x, p),
        lambda x, p=_pw: TF.pad(x, t_pad_width(p, x.ndim)), [_s])

for _variant, _ios, _axis, _piece in [
    ("sections=3,piece1", 3, 0, 1),
    ("sections=2,axis=-1,piece0", 2, -1, 0),
    ("indices=[1,3],axis=1,piece2", [1, 3], 1, 2),
    ("indices=[1,3],axis=1,piece1", [1, 3], 1, 1),
]:
    row("split", _variant, lambda x, s=_ios, a=_axis, k=_piece: gg.split(x, s, axis=a)[k],
        lambda x, s=_ios, a=_axis, k=_piece: t_split(x, s, a)[k], [(6, 4)])


def _weighted_pieces(pieces: Sequence[Any], cat) -> Any:
    # Uses every piece with a different weight, so each piece's gradient is distinct.
    return cat([p * float(k + 1) for k, p in enumerate(pieces)])


row("split", "all-pieces-weighted",
    lambda x: _weighted_pieces(gg.split(x, [2, 3], axis=1), lambda ps: gg.concatenate(ps, 1)),
    lambda x: _weighted_pieces(t_split(x, [2, 3], 1), lambda ps: torch.cat(ps, 1)), [(3, 5)])
row("split", "unused-pieces-zero-grad", lambda x: gg.split(x, 3)[0] * 2.0,
    lambda x: t_split(x, 3)[0] * 2.0, [(3, 2)])

# ---- linear algebra ---------------------------------------------------------------
for _variant, _sx, _sy in [
    ("2d@2d", (3, 4), (4, 2)),
    ("batched-3d", (2, 3, 4), (2, 4, 5)),
    ("batch-broadcast", (2, 1, 3, 4), (3, 4, 2)),
    ("batch-broadcast-both", (2, 1, 3, 4), (1, 5, 4, 2)),
    ("3d@2d", (2, 3, 4), (4, 5)),
    ("1d@2d", (4,), (4, 3)),
    ("2d@1d", (3, 4), (4,)),
    ("1d@1d", (4,), (4,)),
    ("1d@3d", (4,), (2, 4, 3)),
    ("3d@1d", (2, 3, 4), (4,)),
]:
    row("matmul", "op:" + _variant, lambda x, y: x @ y, torch.matmul, [_sx, _sy])
row("matmul", "fn:batch-broadcast", _gg("matmul"), torch.matmul, [(3, 4, 2), (2, 1, 2, 3)])
row("matmul", "fn:1d@1d", _gg("matmul"), torch.matmul, [(5,), (5,)])
row("matmul", "y-no-grad", lambda x, y: x @ y, torch.matmul, [(3, 4), (4, 2)],
    diff=(True, False))

for _sub, _shapes in [
    ("ij,jk->ik", [(3, 4), (4, 2)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->ji", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ii->i", [(4, 4)]),
    # a letter repeated three or more times in one operand: any diagonal, any count
    ("iii->i", [(3, 3, 3)]),
    ("iiij->j", [(2, 2, 2, 4)]),
    ("iii->", [(3, 3, 3)]),
    ("iij,j->i", [(3, 3, 4), (4,)]),
    ("iji,jj->ij", [(3, 2, 3), (2, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij,jk", [(3, 4), (4, 2)]),  # implicit output
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 2)]),
]:
    row("einsum", _sub, lambda *xs, s=_sub: gg.einsum(s, *xs),
        lambda *xs, s=_sub: torch.einsum(s, *xs), _shapes)


# =========================================================================== names
# Every array op of API.md. Each must exist as gg.<name>; those that are ndarray methods
# in NumPy must also be Tensor methods. Row modules of newer families add theirs with
# ``names(...)``.
OP_NAMES: list[str] = [
    "abs", "exp", "log", "log1p", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu",
    "maximum", "minimum", "clip", "where", "sign",
    "sum", "mean", "max", "min", "var", "std", "logsumexp", "prod",
    "reshape", "transpose", "swapaxes", "squeeze", "expand_dims", "broadcast_to", "flatten",
    "concatenate", "stack", "pad", "split", "matmul", "einsum",
]


def names(*ops: str) -> None:
    """Declare ops covered by a row module (each must then have rows and exist in gg)."""
    OP_NAMES.extend(ops)


# Families added under the one-card-one-row rule keep their rows in their own module
# (``rows_<family>.py``, written with ``row`` and ``names`` above): still one table, ROWS.
import rows_arrange  # noqa: E402,F401
import rows_elementwise  # noqa: E402,F401
import rows_linalg  # noqa: E402,F401
import rows_nn  # noqa: E402,F401
import rows_products  # noqa: E402,F401

NOT_METHODS = {"sort"}  # Tensor.sort is PyTorch's (values, indices), not gg.sort
TENSOR_METHODS: tuple[str, ...] = tuple(
    n for n in OP_NAMES if "." not in n and hasattr(np.ndarray, n) and n not in NOT_METHODS)
OPERATOR_OPS: tuple[str, ...] = ("add", "sub", "mul", "truediv", "pow", "neg", "getitem")

_ids = [r.id for r in ROWS]
assert len(_ids) == len(set(_ids)), sorted({i for i in _ids if _ids.count(i) > 1})
