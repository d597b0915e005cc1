"""Op-table rows: products: dot, tensordot, outer, inner, kron, cross.

Part of the one op table (``op_table.ROWS``): every row runs through the same checks
(forward, VJP, JVP vs PyTorch; gradcheck; gradgradcheck).
"""

from __future__ import annotations

import numpy as np
import torch
from op_table import T, _gg, names, row

import glassgrad as gg

names("dot", "tensordot", "outer", "inner", "kron", "cross")

_C3 = np.array([0.5, -1.25, 2.0])
_C4 = np.linspace(-1.5, 1.5, 4)
_C34 = np.linspace(-1.0, 2.0, 12).reshape(3, 4)
_C243 = np.linspace(-2.0, 1.0, 24).reshape(2, 4, 3)


# ---- dot: NumPy's semantics translated to torch ---------------------------------------
def t_dot(a, b):
    """np.dot in torch: a scalar multiplies; 1-d/2-d is matmul; otherwise the sum over a's
    last axis and b's second-to-last (its only one if 1-d), with no batching."""
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim <= 2 and b.ndim <= 2:
        return torch.matmul(a, b)
    return torch.tensordot(a, b, dims=([a.ndim - 1], [max(b.ndim - 2, 0)]))


for _variant, _sa, _sb in [
    ("scalar.2d", (), (2, 3)),
    ("2d.scalar", (3, 2), ()),
    ("scalar.scalar", (), ()),
    ("1d.1d", (4,), (4,)),
    ("2d.2d", (3, 4), (4, 2)),
    ("1d.2d", (4,), (4, 3)),
    ("2d.1d", (3, 4), (4,)),
    ("3d.1d", (2, 3, 4), (4,)),
    ("1d.3d", (4,), (2, 4, 3)),
    ("3d.3d-no-batching", (2, 3, 4), (2, 4, 5)),
    ("2d.3d", (3, 4), (2, 4, 5)),
    ("4d.2d", (2, 1, 3, 4), (4, 2)),
    ("3d.4d", (2, 1, 3), (2, 1, 3, 2)),
]:
    row("dot", "fn:" + _variant, _gg("dot"), t_dot, [_sa, _sb])
row("dot", "method:2d.2d", lambda x, y: x.dot(y), t_dot, [(3, 4), (4, 2)])
row("dot", "method:3d.3d", lambda x, y: x.dot(y), t_dot, [(2, 2, 3), (1, 3, 2)])
row("dot", "method:1d.1d", lambda x, y: x.dot(y), t_dot, [(5,), (5,)])
row("dot", "np.dot(tensor)", lambda x, y: np.dot(x, y), t_dot, [(2, 3, 4), (4, 2)])
row("dot", "ndarray.x", lambda x: gg.dot(_C34, x), lambda x: t_dot(T(_C34), x), [(4, 2)])
row("dot", "x.ndarray-3d", lambda x: x.dot(_C243), lambda x: t_dot(x, T(_C243)), [(3, 4)])
row("dot", "x.ndarray-1d", lambda x: gg.dot(x, _C4), lambda x: t_dot(x, T(_C4)), [(2, 3, 4)])
row("dot", "y-no-grad", _gg("dot"), t_dot, [(2, 3, 4), (3, 4, 2)], diff=(True, False))

# ---- tensordot -------------------------------------------------------------------------
for _variant, _axes, _sa, _sb in [
    ("axes=2-default", None, (2, 3, 4), (3, 4, 5)),
    ("axes=1", 1, (2, 3), (3, 4)),
    ("axes=0-outer", 0, (2, 3), (4,)),
    ("axes=0-scalar", 0, (), (2, 3)),
    ("axes=3-full", 3, (2, 3, 2), (2, 3, 2)),
    ("axes=(1,0)-ints", (1, 0), (2, 3, 4), (3, 5)),
    ("axes=([0,2],[2,0])-reordered", ([0, 2], [2, 0]), (3, 2, 4), (4, 5, 3)),
    ("axes=([-1],[-2])-negative", ([-1], [-2]), (2, 3, 4), (5, 4, 3)),
    ("axes=((1,),(0,))-tuples", ((1,), (0,)), (2, 3), (3, 2, 2)),
]:
    if _axes is None:
        row("tensordot", _variant, _gg("tensordot"),
            lambda x, y: torch.tensordot(x, y, dims=2), [_sa, _sb])
    else:
        _dims = _axes if isinstance(_axes, int) else tuple(
            [a] if isinstance(a, int) else list(a) for a in _axes)
        row("tensordot", _variant, lambda x, y, ax=_axes: gg.tensordot(x, y, axes=ax),
            lambda x, y, d=_dims: torch.tensordot(x, y, dims=d), [_sa, _sb])
row("tensordot", "np.tensordot(tensor)", lambda x, y: np.tensordot(x, y, axes=([1], [0])),
    lambda x, y: torch.tensordot(x, y, dims=([1], [0])), [(2, 3), (3, 4)])
row("tensordot", "ndarray-operand", lambda x: gg.tensordot(x, _C243, axes=([0, 1], [1, 2])),
    lambda x: torch.tensordot(x, T(_C243), dims=([0, 1], [1, 2])), [(4, 3, 2)])

# ---- outer (NumPy flattens its inputs; torch.outer takes 1-d) ---------------------------
row("outer", "1d,1d", _gg("outer"), torch.outer, [(3,), (4,)])
row("outer", "2d,2d-flattened", _gg("outer"),
    lambda x, y: torch.outer(x.flatten(), y.flatten()), [(2, 3), (2, 2)])
row("outer", "scalar,1d", _gg("outer"), lambda x, y: torch.outer(x.reshape(1), y), [(), (3,)])
row("outer", "np.outer(tensor)", lambda x, y: np.outer(x, y), torch.outer, [(2,), (3,)])
row("outer", "ndarray-operand", lambda x: gg.outer(_C34, x),
    lambda x: torch.outer(T(_C34).flatten(), x.flatten()), [(2, 2)])

# ---- inner: over the last axes of both ------------------------------------------------
for _variant, _sa, _sb in [
    ("1d,1d", (4,), (4,)),
    ("2d,2d", (3, 4), (2, 4)),
    ("3d,2d", (2, 3, 4), (5, 4)),
    ("1d,3d", (4,), (2, 3, 4)),
    ("scalar,2d", (), (2, 3)),
    ("2d,scalar", (2, 3), ()),
]:
    row("inner", _variant, _gg("inner"), torch.inner, [_sa, _sb])
row("inner", "np.inner(tensor)", lambda x, y: np.inner(x, y), torch.inner, [(2, 3), (3,)])
row("inner", "ndarray-operand", lambda x: gg.inner(x, _C34),
    lambda x: torch.inner(x, T(_C34)), [(2, 4)])

# ---- kron -------------------------------------------------------------------------------
for _variant, _sa, _sb in [
    ("2d,2d", (2, 3), (3, 2)),
    ("1d,1d", (3,), (4,)),
    ("2d,1d-ndims-differ", (2, 3), (4,)),
    ("1d,3d-ndims-differ", (3,), (2, 2, 2)),
    ("with-size-1-axes", (2, 1, 3), (1, 2)),
    ("scalar,2d", (), (2, 3)),
]:
    row("kron", _variant, _gg("kron"), torch.kron, [_sa, _sb])
row("kron", "np.kron(tensor)", lambda x, y: np.kron(x, y), torch.kron, [(2, 2), (2, 3)])
row("kron", "ndarray-operand", lambda x: gg.kron(_C34, x),
    lambda x: torch.kron(T(_C34), x), [(2, 1)])


# ---- cross: 3-vectors along an axis, other axes broadcast --------------------------------
def t_cross(axis_a: int = -1, axis_b: int = -1, axis_c: int = -1):
    """np.cross(a, b, axisa=, axisb=, axisc=) in torch: NumPy moves each vector axis to
    the end, then broadcasts the rest; torch.linalg.cross wants equal ndims and one dim.
    So move the vector axes last, prepend 1s to the shorter operand, cross, move back."""

    def f(a, b):
        a, b = a.movedim(axis_a, -1), b.movedim(axis_b, -1)
        a = a.reshape((1,) * (b.ndim - a.ndim) + a.shape)
        b = b.reshape((1,) * (a.ndim - b.ndim) + b.shape)
        return torch.linalg.cross(a, b, dim=-1).movedim(-1, axis_c)

    return f


for _variant, _axis, _sa, _sb in [
    ("single-vectors", None, (3,), (3,)),
    ("batch-axis=-1-default", None, (4, 3), (4, 3)),
    ("axis=0", 0, (3, 4), (3, 4)),
    ("axis=1-middle", 1, (2, 3, 4), (2, 3, 4)),
    ("broadcast-(2,1,3)x(1,4,3)", None, (2, 1, 3), (1, 4, 3)),
    ("broadcast-axis=0-(3,4)x(3,1)", 0, (3, 4), (3, 1)),
]:
    if _axis is None:
        row("cross", _variant, _gg("cross"), lambda x, y: torch.linalg.cross(x, y, dim=-1),
            [_sa, _sb])
    else:
        row("cross", _variant, lambda x, y, k=_axis: gg.cross(x, y, axis=k),
            lambda x, y, k=_axis: torch.linalg.cross(x, y, dim=k), [_sa, _sb])
# operands of different ndims (torch.linalg.cross needs equal ones: t_cross pads)
row("cross", "broadcast-(2,1,3)x(4,3)", _gg("cross"), t_cross(), [(2, 1, 3), (4, 3)])
row("cross", "broadcast-(3,)x(4,3)", _gg("cross"), t_cross(), [(3,), (4, 3)])
row("cross", "broadcast-(2,4,3)x(3,)", _gg("cross"), t_cross(), [(2, 4, 3), (3,)])
row("cross", "broadcast-axis=0-ndims-differ", lambda x, y: gg.cross(x, y, axis=0),
    t_cross(0, 0, 0), [(3, 4), (3,)])
row("cross", "broadcast-axis=1-(2,3,4)x(4,3)", lambda x, y: gg.cross(x, y, axis=1),
    t_cross(1, 1, 1), [(2, 3, 4), (4, 3)])
row("cross", "axisa=0,axisb=-1,axisc=0",
    lambda x, y: gg.cross(x, y, axisa=0, axisb=-1, axisc=0), t_cross(0, -1, 0),
    [(3, 2), (2, 3)])
row("cross", "axisa=1,axisb=0,axisc=-1-broadcast",
    lambda x, y: gg.cross(x, y, axisa=1, axisb=0, axisc=-1), t_cross(1, 0, -1),
    [(2, 3, 4), (3, 1)])
row("cross", "np.cross(tensor)", lambda x, y: np.cross(x, y), lambda x, y:
    torch.linalg.cross(x, y, dim=-1), [(2, 3), (2, 3)])
row("cross", "ndarray-operand", lambda x: gg.cross(_C3, x),
    lambda x: t_cross()(T(_C3), x), [(4, 3)])
row("cross", "y-no-grad", _gg("cross"), lambda x, y: torch.linalg.cross(x, y, dim=-1),
    [(2, 3), (2, 3)], diff=(True, False))
