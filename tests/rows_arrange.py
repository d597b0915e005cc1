"""Op-table rows: arrangement (flip, roll, tile, ...), triangles and scans (cumsum, diff).

Part of the one op table (``op_table.ROWS``): every row runs through the same checks
(forward, VJP, JVP vs PyTorch; gradcheck; gradgradcheck).
"""

from __future__ import annotations

import numpy as np
import torch
from op_table import DISTINCT, Domain, T, names, row

import glassgrad as gg

names("cumsum", "cumprod", "diff", "vstack", "hstack", "array_split", "flip", "roll",
      "tile", "repeat", "diagonal", "trace", "tril", "triu", "sort")


def _weighted(pieces, cat):
    """Every piece used with its own weight, so each piece's gradient is distinct."""
    return cat([p * float(k + 1) for k, p in enumerate(pieces)])


def _t_flat(x):
    return x.reshape(-1)


# ---- cumsum -------------------------------------------------------------------------------
for _variant, _g, _t, _s in [
    ("1d-default", lambda x: gg.cumsum(x), lambda x: torch.cumsum(x, 0), (5,)),
    ("2d-axis=None-flattens", lambda x: gg.cumsum(x), lambda x: torch.cumsum(_t_flat(x), 0),
     (3, 4)),
    ("2d-axis=0", lambda x: gg.cumsum(x, 0), lambda x: torch.cumsum(x, 0), (3, 4)),
    ("2d-axis=1-kw", lambda x: gg.cumsum(x, axis=1), lambda x: torch.cumsum(x, 1), (3, 4)),
    ("3d-axis=-2", lambda x: gg.cumsum(x, axis=-2), lambda x: torch.cumsum(x, -2), (2, 3, 4)),
    ("3d-axis=2", lambda x: gg.cumsum(x, 2), lambda x: torch.cumsum(x, 2), (2, 3, 4)),
    ("method-axis=1", lambda x: x.cumsum(axis=1), lambda x: torch.cumsum(x, 1), (3, 4)),
    ("method-default", lambda x: x.cumsum(), lambda x: torch.cumsum(_t_flat(x), 0), (2, 3)),
    ("np.cumsum-axis=-1", lambda x: np.cumsum(x, axis=-1), lambda x: torch.cumsum(x, -1),
     (3, 4)),
    ("length-1-axis", lambda x: gg.cumsum(x, 0), lambda x: torch.cumsum(x, 0), (1, 3)),
    ("0d-axis=None", lambda x: gg.cumsum(x), lambda x: torch.cumsum(_t_flat(x), 0), ()),
]:
    row("cumsum", _variant, _g, _t, [_s])


# ---- cumprod ------------------------------------------------------------------------------
def _with_zeros(shape, where):
    """Values in [-2, 2] with exact zeros at the positions ``where`` (a list of indices)."""

    def make(rng):
        x = rng.uniform(-2.0, 2.0, size=shape)
        for i in where:
            x[i] = 0.0
        return [x]

    return make


for _variant, _g, _t, _s in [
    ("1d-default", lambda x: gg.cumprod(x), lambda x: torch.cumprod(x, 0), (5,)),
    ("2d-axis=None-flattens", lambda x: gg.cumprod(x),
     lambda x: torch.cumprod(_t_flat(x), 0), (3, 4)),
    ("2d-axis=0", lambda x: gg.cumprod(x, 0), lambda x: torch.cumprod(x, 0), (3, 4)),
    ("2d-axis=1-kw", lambda x: gg.cumprod(x, axis=1), lambda x: torch.cumprod(x, 1), (3, 4)),
    ("3d-axis=-2", lambda x: gg.cumprod(x, axis=-2), lambda x: torch.cumprod(x, -2),
     (2, 3, 4)),
    ("long-axis", lambda x: gg.cumprod(x, axis=-1), lambda x: torch.cumprod(x, -1), (2, 11)),
    ("method-axis=1", lambda x: x.cumprod(axis=1), lambda x: torch.cumprod(x, 1), (3, 4)),
    ("np.cumprod-axis=0", lambda x: np.cumprod(x, axis=0), lambda x: torch.cumprod(x, 0),
     (4, 3)),
    ("length-1-axis", lambda x: gg.cumprod(x, 0), lambda x: torch.cumprod(x, 0), (1, 3)),
]:
    row("cumprod", _variant, _g, _t, [_s])

# exact zeros: d out_k/dx_i is the product of the others, not out_k / x_i
for _variant, _g, _t, _s, _where in [
    ("one-zero-1d", lambda x: gg.cumprod(x), lambda x: torch.cumprod(x, 0), (6,), [2]),
    ("zero-first-1d", lambda x: gg.cumprod(x), lambda x: torch.cumprod(x, 0), (5,), [0]),
    ("zero-last-1d", lambda x: gg.cumprod(x), lambda x: torch.cumprod(x, 0), (5,), [4]),
    ("two-zeros-1d", lambda x: gg.cumprod(x), lambda x: torch.cumprod(x, 0), (7,), [1, 4]),
    ("two-adjacent-zeros-1d", lambda x: gg.cumprod(x), lambda x: torch.cumprod(x, 0), (6,),
     [2, 3]),
    ("zeros-2d-axis=1", lambda x: gg.cumprod(x, axis=1), lambda x: torch.cumprod(x, 1),
     (3, 5), [(0, 1), (1, 2), (1, 4)]),
    ("zeros-2d-axis=0", lambda x: gg.cumprod(x, axis=0), lambda x: torch.cumprod(x, 0),
     (5, 3), [(0, 0), (2, 1), (3, 1)]),
    ("zeros-3d-axis=-1", lambda x: gg.cumprod(x, axis=-1), lambda x: torch.cumprod(x, -1),
     (2, 2, 6), [(0, 0, 1), (1, 1, 0), (1, 1, 5)]),
    ("zeros-method-axis=None", lambda x: x.cumprod(), lambda x: torch.cumprod(_t_flat(x), 0),
     (2, 4), [(0, 2), (1, 1)]),
]:
    row("cumprod", _variant, _g, _t, make=_with_zeros(_s, _where))


# ---- diff ---------------------------------------------------------------------------------
_PRE = np.array([[0.5], [-1.0], [2.0]])
_APP = np.array([[1.5, -0.5], [0.25, 1.0], [-2.0, 0.0]])
for _variant, _g, _t, _s in [
    ("1d-default", lambda x: gg.diff(x), lambda x: torch.diff(x), (6,)),
    ("2d-default-axis=-1", lambda x: gg.diff(x), lambda x: torch.diff(x), (3, 5)),
    ("2d-axis=0", lambda x: gg.diff(x, axis=0), lambda x: torch.diff(x, dim=0), (4, 3)),
    ("n=2", lambda x: gg.diff(x, 2), lambda x: torch.diff(x, n=2), (3, 6)),
    ("n=3-3d-axis=1", lambda x: gg.diff(x, n=3, axis=1),
     lambda x: torch.diff(x, n=3, dim=1), (2, 5, 3)),
    ("n-equals-length", lambda x: gg.diff(x, 4), lambda x: torch.diff(x, n=4), (2, 4)),
    ("np.diff-axis=-2", lambda x: np.diff(x, axis=-2), lambda x: torch.diff(x, dim=-2),
     (2, 4, 3)),
    ("prepend-scalar", lambda x: gg.diff(x, prepend=0.5),
     lambda x: torch.diff(x, prepend=torch.full((3, 1), 0.5, dtype=x.dtype)), (3, 4)),
    ("prepend-append-arrays", lambda x: gg.diff(x, prepend=_PRE, append=_APP),
     lambda x: torch.diff(x, prepend=T(_PRE), append=T(_APP)), (3, 4)),
]:
    row("diff", _variant, _g, _t, [_s])
row("diff", "tensor-prepend", lambda x, p: gg.diff(x, axis=0, prepend=p),
    lambda x, p: torch.diff(x, dim=0, prepend=p), [(3, 4), (2, 4)])
row("diff", "n=0-identity", lambda x: gg.diff(x, 0) * 1.0, lambda x: x * 1.0, [(3, 4)])


# ---- vstack, hstack -----------------------------------------------------------------------
for _variant, _shapes in [
    ("1d+1d", [(4,), (4,)]),
    ("1d+2d", [(3,), (2, 3)]),
    ("2d+2d+2d", [(2, 3), (1, 3), (4, 3)]),
    ("3d", [(2, 3, 2), (1, 3, 2)]),
    ("0d+0d", [(), ()]),
]:
    row("vstack", _variant, lambda *xs: gg.vstack(xs), lambda *xs: torch.vstack(xs), _shapes)
row("vstack", "np.vstack-list", lambda x, y: np.vstack([x, y]),
    lambda x, y: torch.vstack([x, y]), [(2, 3), (3,)])
row("vstack", "with-ndarray", lambda x: gg.vstack([x, np.array([1.0, 2.0])]),
    lambda x: torch.vstack([x, T(np.array([1.0, 2.0]))]), [(2,)])
row("vstack", "same-input-twice", lambda x: gg.vstack([x, x * 2.0]),
    lambda x: torch.vstack([x, x * 2.0]), [(2, 3)])

for _variant, _shapes in [
    ("1d+1d", [(4,), (2,)]),
    ("0d+1d", [(), (3,)]),
    ("2d+2d", [(2, 3), (2, 1)]),
    ("3d", [(2, 1, 2), (2, 3, 2)]),
    ("three-1d", [(1,), (3,), (2,)]),
]:
    row("hstack", _variant, lambda *xs: gg.hstack(xs), lambda *xs: torch.hstack(xs), _shapes)
row("hstack", "np.hstack-tuple", lambda x, y: np.hstack((x, y)),
    lambda x, y: torch.hstack((x, y)), [(3, 2), (3, 4)])


# ---- array_split --------------------------------------------------------------------------
for _variant, _ios, _axis, _piece, _s in [
    ("sections=3-unequal,piece0", 3, 0, 0, (7, 2)),
    ("sections=3-unequal,piece2", 3, 0, 2, (7, 2)),
    ("sections=4,axis=-1,piece1", 4, -1, 1, (2, 3, 6)),
    ("sections=1", 1, 1, 0, (2, 3)),
    ("indices=[1,3],axis=1,piece1", [1, 3], 1, 1, (3, 5)),
    ("indices=[-2],piece0", [-2], 0, 0, (5, 2)),
    ("indices-past-end,piece1", [2, 10], 0, 1, (4, 3)),
    ("1d-sections=2,piece0", 2, 0, 0, (5,)),
]:
    row("array_split", _variant,
        lambda x, s=_ios, a=_axis, k=_piece: gg.array_split(x, s, axis=a)[k],
        lambda x, s=_ios, a=_axis, k=_piece: torch.tensor_split(x, s, dim=a)[k], [_s])
row("array_split", "all-pieces-weighted",
    lambda x: _weighted(gg.array_split(x, 3, axis=1), lambda ps: gg.concatenate(ps, 1)),
    lambda x: _weighted(torch.tensor_split(x, 3, dim=1), lambda ps: torch.cat(ps, 1)),
    [(2, 8)])
row("array_split", "np.array_split-indices-weighted",
    lambda x: _weighted(np.array_split(x, [1, 1, 3]), lambda ps: gg.concatenate(ps, 0)),
    lambda x: _weighted(torch.tensor_split(x, [1, 1, 3]), lambda ps: torch.cat(ps, 0)),
    [(5, 2)])


# ---- flip, roll ---------------------------------------------------------------------------
for _variant, _g, _t, _s in [
    ("1d-default", lambda x: gg.flip(x), lambda x: torch.flip(x, (0,)), (5,)),
    ("2d-axis=None", lambda x: gg.flip(x), lambda x: torch.flip(x, (0, 1)), (3, 4)),
    ("2d-axis=0", lambda x: gg.flip(x, 0), lambda x: torch.flip(x, (0,)), (3, 4)),
    ("3d-axis=-1-kw", lambda x: gg.flip(x, axis=-1), lambda x: torch.flip(x, (-1,)),
     (2, 3, 4)),
    ("3d-axes=(0,2)", lambda x: gg.flip(x, (0, 2)), lambda x: torch.flip(x, (0, 2)),
     (2, 3, 4)),
    ("np.flip-axis=1", lambda x: np.flip(x, axis=1), lambda x: torch.flip(x, (1,)), (3, 4)),
    ("empty-axes", lambda x: gg.flip(x, ()), lambda x: x * 1.0, (3, 2)),
]:
    row("flip", _variant, _g, _t, [_s])

for _variant, _g, _t, _s in [
    ("1d", lambda x: gg.roll(x, 2), lambda x: torch.roll(x, 2), (5,)),
    ("2d-axis=None-flattens", lambda x: gg.roll(x, 5), lambda x: torch.roll(x, 5), (3, 4)),
    ("2d-axis=0", lambda x: gg.roll(x, 1, 0), lambda x: torch.roll(x, 1, 0), (3, 4)),
    ("2d-negative-shift-axis=-1-kw", lambda x: gg.roll(x, -3, axis=-1),
     lambda x: torch.roll(x, -3, -1), (3, 4)),
    ("shift-past-length", lambda x: gg.roll(x, 7, axis=1), lambda x: torch.roll(x, 7, 1),
     (2, 3)),
    ("3d-tuple-shifts", lambda x: gg.roll(x, (1, -2), axis=(0, 2)),
     lambda x: torch.roll(x, (1, -2), (0, 2)), (2, 3, 4)),
    ("np.roll-axis=1", lambda x: np.roll(x, 1, axis=1), lambda x: torch.roll(x, 1, 1),
     (3, 4)),
]:
    row("roll", _variant, _g, _t, [_s])


# ---- tile, repeat -------------------------------------------------------------------------
for _variant, _reps, _s in [
    ("2d-int", 3, (2, 3)),
    ("2d-pair", (2, 3), (2, 3)),
    ("1d-reps-longer", (2, 1, 3), (4,)),
    ("3d-reps-shorter", (2, 2), (2, 3, 2)),
    ("reps-zero", (1, 0), (2, 3)),
]:
    row("tile", _variant, lambda x, r=_reps: gg.tile(x, r),
        lambda x, r=_reps: torch.tile(x, (r,) if isinstance(r, int) else r), [_s])
row("tile", "np.tile", lambda x: np.tile(x, (2, 1)), lambda x: torch.tile(x, (2, 1)), [(3, 2)])

_REPS3 = np.array([2, 0, 3])
for _variant, _g, _t, _s in [
    ("int-axis=None-flattens", lambda x: gg.repeat(x, 2),
     lambda x: torch.repeat_interleave(x, 2), (2, 3)),
    ("int-axis=1", lambda x: gg.repeat(x, 3, axis=1),
     lambda x: torch.repeat_interleave(x, 3, dim=1), (2, 3)),
    ("int-axis=-1-3d", lambda x: gg.repeat(x, 2, axis=-1),
     lambda x: torch.repeat_interleave(x, 2, dim=-1), (2, 3, 2)),
    ("per-element-axis=0", lambda x: gg.repeat(x, _REPS3, axis=0),
     lambda x: torch.repeat_interleave(x, T(_REPS3), dim=0), (3, 2)),
    ("per-element-list-1d", lambda x: gg.repeat(x, [1, 3, 2]),
     lambda x: torch.repeat_interleave(x, T([1, 3, 2])), (3,)),
    ("per-element-3d-axis=1", lambda x: gg.repeat(x, [3, 1, 0], axis=1),
     lambda x: torch.repeat_interleave(x, T([3, 1, 0]), dim=1), (2, 3, 2)),
    ("one-count-list", lambda x: gg.repeat(x, [2], axis=0),
     lambda x: torch.repeat_interleave(x, 2, dim=0), (2, 3)),
    ("method-int", lambda x: x.repeat(2, axis=0),
     lambda x: torch.repeat_interleave(x, 2, dim=0), (2, 3)),
    ("method-per-element", lambda x: x.repeat(_REPS3, 1),
     lambda x: torch.repeat_interleave(x, T(_REPS3), dim=1), (2, 3)),
    ("np.repeat", lambda x: np.repeat(x, 2, axis=1),
     lambda x: torch.repeat_interleave(x, 2, dim=1), (2, 2)),
]:
    row("repeat", _variant, _g, _t, [_s])


# ---- diagonal, trace ----------------------------------------------------------------------
for _variant, _g, _t, _s in [
    ("2d-default", lambda x: gg.diagonal(x), lambda x: torch.diagonal(x), (4, 4)),
    ("2d-rect-offset=1", lambda x: gg.diagonal(x, 1), lambda x: torch.diagonal(x, 1), (3, 5)),
    ("2d-offset=-2-kw", lambda x: gg.diagonal(x, offset=-2),
     lambda x: torch.diagonal(x, -2), (4, 3)),
    ("3d-axes=(1,2)", lambda x: gg.diagonal(x, 0, 1, 2),
     lambda x: torch.diagonal(x, 0, 1, 2), (2, 3, 3)),
    ("3d-axes=(2,0)-reversed", lambda x: gg.diagonal(x, 1, axis1=2, axis2=0),
     lambda x: torch.diagonal(x, 1, 2, 0), (3, 2, 4)),
    ("3d-negative-axes", lambda x: gg.diagonal(x, -1, axis1=-1, axis2=-3),
     lambda x: torch.diagonal(x, -1, -1, -3), (3, 2, 4)),
    ("method", lambda x: x.diagonal(1), lambda x: torch.diagonal(x, 1), (3, 3)),
    ("np.diagonal-4d", lambda x: np.diagonal(x, 0, 1, 3),
     lambda x: torch.diagonal(x, 0, 1, 3), (2, 3, 2, 3)),
]:
    row("diagonal", _variant, _g, _t, [_s])

for _variant, _g, _t, _s in [
    ("2d", lambda x: gg.trace(x), lambda x: torch.trace(x), (4, 4)),
    ("2d-rect-offset=-1", lambda x: gg.trace(x, -1), lambda x: torch.diagonal(x, -1).sum(-1),
     (4, 3)),
    ("3d-axes=(1,2)-kw", lambda x: gg.trace(x, axis1=1, axis2=2),
     lambda x: torch.diagonal(x, 0, 1, 2).sum(-1), (2, 3, 3)),
    ("3d-offset=1-axes=(0,-1)", lambda x: gg.trace(x, 1, 0, -1),
     lambda x: torch.diagonal(x, 1, 0, -1).sum(-1), (3, 2, 4)),
    ("method", lambda x: x.trace(), lambda x: torch.trace(x), (3, 3)),
    ("np.trace", lambda x: np.trace(x, offset=1), lambda x: torch.diagonal(x, 1).sum(-1),
     (3, 4)),
]:
    row("trace", _variant, _g, _t, [_s])


# ---- tril, triu ---------------------------------------------------------------------------
def _t_square(x):
    """NumPy reads a 1-d input of length n as n copies of itself (an (n, n) matrix)."""
    return x.unsqueeze(0).expand(x.shape[0], x.shape[0]) if x.ndim == 1 else x


for _name, _gfn, _tfn in [("tril", gg.tril, torch.tril), ("triu", gg.triu, torch.triu),
                          ("tril", np.tril, torch.tril), ("triu", np.triu, torch.triu)]:
    _prefix = "np-" if _gfn in (np.tril, np.triu) else ""
    for _variant, _k, _s in [
        ("2d-default", None, (4, 4)),
        ("2d-k=1", 1, (3, 4)),
        ("2d-k=-1", -1, (4, 3)),
        ("3d-batched-k=2", 2, (2, 3, 5)),
        ("1d", 0, (4,)),
    ]:
        if _prefix and _variant not in ("2d-k=1", "1d"):
            continue
        if _k is None:
            _g, _t = (lambda x, f=_gfn: f(x)), (lambda x, f=_tfn: f(_t_square(x)))
        else:
            _g = lambda x, f=_gfn, k=_k: f(x, k=k)  # noqa: E731
            _t = lambda x, f=_tfn, k=_k: f(_t_square(x), k)  # noqa: E731
        row(_name, _prefix + _variant, _g, _t, [_s])


# ---- sort (values) ------------------------------------------------------------------------
# Distinct values: at a tie the sort is not differentiable, and PyTorch may route tied
# elements' gradients differently (our order is the stable argsort's).
for _variant, _g, _t, _s in [
    ("1d-default", lambda x: gg.sort(x), lambda x: torch.sort(x).values, (6,)),
    ("2d-default-axis=-1", lambda x: gg.sort(x), lambda x: torch.sort(x, -1).values, (3, 4)),
    ("2d-axis=0-kw", lambda x: gg.sort(x, axis=0), lambda x: torch.sort(x, 0).values, (4, 3)),
    ("2d-axis=None-flattens", lambda x: gg.sort(x, axis=None),
     lambda x: torch.sort(_t_flat(x)).values, (3, 4)),
    ("3d-axis=1", lambda x: gg.sort(x, 1), lambda x: torch.sort(x, 1).values, (2, 4, 3)),
    ("3d-axis=-3", lambda x: gg.sort(x, axis=-3), lambda x: torch.sort(x, 0).values,
     (3, 2, 2)),
    ("np.sort-axis=0", lambda x: np.sort(x, axis=0), lambda x: torch.sort(x, 0).values,
     (4, 3)),
    ("kind=mergesort", lambda x: gg.sort(x, kind="mergesort"),
     lambda x: torch.sort(x).values, (2, 5)),
]:
    row("sort", _variant, _g, _t, [_s], DISTINCT)
# after an elementwise op, so the permutation is taken of a non-leaf's values
row("sort", "of-nonleaf", lambda x: gg.sort(gg.exp(x) * x), lambda x: torch.sort(
    torch.exp(x) * x).values, [(5,)], Domain(0.1, 2.0, distinct=True))
