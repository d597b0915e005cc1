"""Forward mode, driven by the op table: every op's JVP against PyTorch's forward mode
(``torch.func.jvp``) and against our own VJP through the dot-product identity
<u, J v> = <J^T u, v>."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _fn_helpers import gg_const, of_inputs, positions, torch_const
from op_table import ROWS, OpRow

import glassgrad as gg

RTOL, ATOL = 1e-7, 1e-10


def _split(row: OpRow, arrays):
    """(glassgrad fn of the differentiable inputs, torch fn of them, those inputs)."""
    moving = positions(row.diff_mask(len(arrays)))
    return (of_inputs(row.gg_fn, arrays, moving, gg_const),
            of_inputs(row.torch_fn, arrays, moving, torch_const),
            [arrays[i] for i in moving])


def _rows():
    return [pytest.param(r, id=r.id) for r in ROWS if any(r.diff_mask(len(r.inputs())))]


def _tangents(row: OpRow, diff):
    rng = np.random.default_rng(row.seed + 1)
    return [rng.standard_normal(a.shape) for a in diff]


@pytest.mark.parametrize("row", _rows())
def test_jvp_matches_torch_forward_mode(row: OpRow):
    gg_fn, torch_fn, diff = _split(row, row.inputs())
    tangents = _tangents(row, diff)
    out, t_out = gg.func.jvp(gg_fn, tuple(gg.tensor(a.copy()) for a in diff),
                             tuple(gg.tensor(t) for t in tangents))
    if not isinstance(out, gg.Tensor):
        pytest.skip("op returns a sequence")
    t_primals = tuple(torch.tensor(a) for a in diff)
    t_tangents = tuple(torch.tensor(t) for t in tangents)
    try:
        ref_out, ref_t = torch.func.jvp(torch_fn, t_primals, t_tangents)
    except (RuntimeError, NotImplementedError) as err:  # torch lacks a forward rule
        pytest.skip(f"torch.func.jvp unsupported here: {err}")
    np.testing.assert_allclose(out.numpy(), ref_out.detach().numpy(), rtol=RTOL, atol=ATOL)
    assert t_out.shape == out.shape
    np.testing.assert_allclose(t_out.numpy(), ref_t.detach().numpy(), rtol=RTOL, atol=ATOL,
                               err_msg=f"{row.id}: JVP differs from torch")


@pytest.mark.parametrize("row", _rows())
def test_jvp_and_vjp_agree_dot_product(row: OpRow):
    """<u, J v> (our forward mode) == sum_i <(J^T u)_i, v_i> (our reverse mode)."""
    gg_fn, _, diff = _split(row, row.inputs())
    vs = _tangents(row, diff)
    out, jv = gg.func.jvp(gg_fn, tuple(gg.tensor(a.copy()) for a in diff),
                          tuple(gg.tensor(v) for v in vs))
    if not isinstance(out, gg.Tensor):
        pytest.skip("op returns a sequence")
    u = np.random.default_rng(row.seed + 2).standard_normal(out.shape)
    _, vjp_fn = gg.func.vjp(gg_fn, *[gg.tensor(a.copy()) for a in diff])
    jtu = vjp_fn(gg.tensor(u))
    lhs = float(np.sum(u * jv.numpy()))
    rhs = float(sum(np.sum(g.numpy() * v) for g, v in zip(jtu, vs)))
    assert np.isclose(lhs, rhs, rtol=1e-8, atol=1e-10), f"{row.id}: {lhs} != {rhs}"


def test_forward_mode_builds_no_graph_and_works_under_no_grad():
    x = gg.tensor(np.array([0.1, 0.2, 0.3]))
    with gg.no_grad():
        out, t = gg.func.jvp(lambda x: gg.tanh(x * x).sum(), (x,), (gg.ones_like(x),))
    assert out.grad_fn is None and t.grad_fn is None
    ref = torch.func.jvp(lambda x: torch.tanh(x * x).sum(), (torch.tensor(x.numpy()),),
                         (torch.ones(3, dtype=torch.float64),))
    np.testing.assert_allclose(t.numpy(), ref[1].numpy(), rtol=1e-12)


def test_every_primitive_has_a_jvp_rule():
    from glassgrad.primitive import PRIMITIVES

    missing = [name for name, p in PRIMITIVES.items() if p.jvp is None]
    assert not missing, f"primitives without a JVP rule: {missing}"
    undocumented = [name for name, p in PRIMITIVES.items() if "JVP" not in (p.__doc__ or "")]
    assert not undocumented, f"primitives whose docstring derives no JVP: {undocumented}"


def _assign_into(lib, x):
    """In-place writes inside a jvp: a dual written into a plain tensor, an element of a
    dual overwritten by a constant, and ``+=`` through a slice."""
    zeros = gg.zeros if lib is gg else lambda n, dtype: torch.zeros(n, dtype=torch.float64)
    t = zeros(4, dtype=np.float64)
    t[1:3] = x[:2] * 2
    y = x * 1.0
    y[0] = 5.0
    z = x * 1.0
    z[2:] += x[:2]
    w = zeros(4, dtype=np.float64)
    w += x * x
    return t + y + z + w


def test_index_assignment_and_inplace_ops_carry_tangents_as_torch_func():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    v = np.array([1.0, 10.0, 100.0, 1000.0])
    out, tangent = gg.func.jvp(lambda a: _assign_into(gg, a), (gg.tensor(x),), (gg.tensor(v),))
    ref_out, ref_tangent = torch.func.jvp(lambda a: _assign_into(torch, a),
                                          (torch.tensor(x),), (torch.tensor(v),))
    np.testing.assert_allclose(out.numpy(), ref_out.numpy(), rtol=1e-12)
    np.testing.assert_allclose(tangent.numpy(), ref_tangent.numpy(), rtol=1e-12)
