"""Every array op, driven by the op table (`op_table.ROWS`), checked against PyTorch.

Per row, in float64: forward values, VJP (random upstream gradient) for every
differentiable input, gradient shapes, gradcheck (central differences) and gradgradcheck
(second order); for rows with a ``composite``, value and VJP against that composite of
simpler ops. Plus the primitive registry and the public names of every op.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _fn_helpers import gg_const, of_inputs, positions
from op_table import OP_NAMES, OPERATOR_OPS, ROWS, TENSOR_METHODS, OpRow

import glassgrad as gg

RTOL, ATOL = 1e-7, 1e-10


def _params(rows: list[OpRow]):
    return [pytest.param(r, id=r.id) for r in rows]


def _gg_inputs(row: OpRow, arrays: list[np.ndarray], with_grad: bool) -> list[gg.Tensor]:
    mask = row.diff_mask(len(arrays))
    return [gg.tensor(a.copy(), requires_grad=with_grad and d) for a, d in zip(arrays, mask)]


def _torch_inputs(row: OpRow, arrays: list[np.ndarray]) -> list[torch.Tensor]:
    mask = row.diff_mask(len(arrays))
    return [torch.tensor(a, dtype=torch.float64, requires_grad=d) for a, d in zip(arrays, mask)]


def _differentiable_part(row: OpRow, arrays: list[np.ndarray]):
    """(fn of the differentiable inputs only, those inputs as leaves) for gradcheck:
    the non-differentiable inputs become constants inside fn."""
    moving = positions(row.diff_mask(len(arrays)))
    leaves = [gg.tensor(arrays[i].copy(), requires_grad=True) for i in moving]
    return of_inputs(row.gg_fn, arrays, moving, gg_const), leaves


def _assert_close(actual, expected, what: str) -> None:
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


# --------------------------------------------------------------------------- per-row checks
@pytest.mark.parametrize("row", _params(ROWS))
def test_forward_matches_torch(row: OpRow):
    arrays = row.inputs()
    out = row.gg_fn(*_gg_inputs(row, arrays, with_grad=False))
    expected = row.torch_fn(*[torch.tensor(a) for a in arrays]).numpy()
    assert isinstance(out, gg.Tensor), f"returned {type(out).__name__}, not a Tensor"
    assert out.dtype == np.float64, f"float64 inputs gave {out.dtype}"
    assert tuple(out.shape) == expected.shape
    _assert_close(out.numpy(), expected, "forward")


@pytest.mark.parametrize("row", _params(ROWS))
def test_vjp_matches_torch(row: OpRow):
    """Backward with a random upstream gradient; every differentiable input's .grad
    equals PyTorch's and has exactly that input's shape (broadcasting undone)."""
    arrays = row.inputs()
    xs = _gg_inputs(row, arrays, with_grad=True)
    out = row.gg_fn(*xs)
    g = np.asarray(np.random.default_rng(row.seed + 1).standard_normal(tuple(out.shape)))
    out.backward(gradient=gg.tensor(g))

    txs = _torch_inputs(row, arrays)
    wrt = [t for t in txs if t.requires_grad]
    tgrads = torch.autograd.grad(
        row.torch_fn(*txs), wrt, grad_outputs=torch.tensor(g), allow_unused=True
    )
    expected = iter(tgrads)
    for i, (x, t) in enumerate(zip(xs, txs)):
        if not t.requires_grad:
            assert x.grad is None, f"input {i} does not require grad but got a .grad"
            continue
        want = next(expected)
        want = np.zeros(t.shape) if want is None else want.numpy()
        assert x.grad is not None, f"input {i} got no gradient"
        assert isinstance(x.grad, gg.Tensor), f"input {i}: .grad is {type(x.grad).__name__}"
        assert tuple(x.grad.shape) == tuple(x.shape), (
            f"input {i}: gradient shape {tuple(x.grad.shape)} != input shape {tuple(x.shape)}"
        )
        _assert_close(x.grad.numpy(), want, f"gradient of input {i}")


@pytest.mark.parametrize("row", _params([r for r in ROWS if r.gradcheck]))
def test_gradcheck(row: OpRow):
    fn, leaves = _differentiable_part(row, row.inputs())
    assert gg.autograd.gradcheck(fn, leaves)


@pytest.mark.parametrize("row", _params([r for r in ROWS if r.second_order]))
def test_gradgradcheck(row: OpRow):
    fn, leaves = _differentiable_part(row, row.inputs())
    assert gg.autograd.gradgradcheck(fn, leaves)


COMPOSITE_RTOL, COMPOSITE_ATOL = 1e-9, 1e-12


@pytest.mark.parametrize("row", _params([r for r in ROWS if r.composite is not None]))
def test_fused_op_matches_its_composite(row: OpRow):
    """A fused op and the same function written with simpler glassgrad ops (the row's
    ``composite``) agree to rounding, in float64: forward values, and the VJP of every
    differentiable input for one fixed random cotangent. Nothing here involves torch:
    it checks the derivation of the fused rule against the rules of its parts."""
    arrays = row.inputs()
    moving = positions(row.diff_mask(len(arrays)))
    fused = of_inputs(row.gg_fn, arrays, moving, gg_const)
    composite = of_inputs(row.composite, arrays, moving, gg_const)

    def run(fn):
        return gg.func.vjp(fn, *[gg.tensor(arrays[i].copy()) for i in moving])

    out, vjp_fused = run(fused)
    ref, vjp_composite = run(composite)
    assert tuple(out.shape) == tuple(ref.shape), f"shape {out.shape} != {ref.shape}"
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=COMPOSITE_RTOL,
                               atol=COMPOSITE_ATOL, err_msg="forward vs composite")
    if not moving:
        return
    g = gg.tensor(np.random.default_rng(row.seed + 3).standard_normal(tuple(out.shape)))
    for i, got, want in zip(moving, vjp_fused(g), vjp_composite(g)):
        assert tuple(got.shape) == arrays[i].shape, f"input {i}: gradient shape {got.shape}"
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=COMPOSITE_RTOL,
                                   atol=COMPOSITE_ATOL,
                                   err_msg=f"gradient of input {i} vs composite")


COMPARISONS = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


@pytest.mark.parametrize("op", COMPARISONS)
def test_comparison_is_a_bool_tensor_outside_the_graph(op: str):
    """Comparisons are not differentiable: bool Tensors as NumPy, with broadcasting and
    Python scalars, that do not require grad even when an operand does."""
    cmp = COMPARISONS[op]
    a = np.array([[0.5, -1.0, 2.0], [1.0, 1.0, -0.5]])
    b = np.array([1.0, -1.0, 0.0])
    x = gg.tensor(a, requires_grad=True)
    for got, want in [
        (cmp(x, gg.tensor(b)), cmp(a, b)),
        (cmp(x, 1.0), cmp(a, 1.0)),
        (cmp(gg.tensor(b), x), cmp(b, a)),
    ]:
        assert isinstance(got, gg.Tensor)
        assert got.dtype == np.bool_
        assert not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), want)


# --------------------------------------------------------------------------- registry, names
def test_every_primitive_documents_its_vjp():
    from glassgrad.primitive import PRIMITIVES

    assert isinstance(PRIMITIVES, dict) and PRIMITIVES, "no primitives registered"
    undocumented = [n for n, p in PRIMITIVES.items() if "VJP" not in (p.__doc__ or "")]
    assert not undocumented, f"primitives without a VJP derivation: {undocumented}"


def _recorded_primitives(out) -> set[str]:
    """Names of the primitives in the graph that produced ``out``."""
    found: set[str] = set()
    seen: set[int] = set()
    stack = [getattr(out, "grad_fn", None)]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or not hasattr(node, "prim"):
            continue  # no node, one visited already, or a leaf Tensor
        seen.add(id(node))
        found.add(node.prim.name)
        stack.extend(node.parents)
    return found


def test_every_primitive_is_recorded_by_some_row():
    """Each primitive (including the internal ones: the fused nn ops, scatter_add,
    im2col/col2im) appears in the graph of at least one row, so the per-row checks above
    reach its rules. A row that raises is skipped here (its own tests report it)."""
    from glassgrad.primitive import PRIMITIVES

    recorded: set[str] = set()
    for r in ROWS:
        arrays = r.inputs()
        try:
            recorded |= _recorded_primitives(r.gg_fn(*_gg_inputs(r, arrays, with_grad=True)))
        except Exception:
            continue
    # the library's own primitives (test modules may declare throwaway cards)
    ours = {n for n, p in PRIMITIVES.items() if p.where().startswith("glassgrad")}
    missing = sorted(ours - recorded)
    assert not missing, f"primitives no op-table row records (add rows for them): {missing}"


@pytest.mark.parametrize("name", OP_NAMES)
def test_op_is_a_gg_function(name: str):
    obj = gg
    for part in name.split("."):  # "linalg.norm" is gg.linalg.norm
        obj = getattr(obj, part, None)
    assert callable(obj), f"gg.{name} is missing"


@pytest.mark.parametrize("name", TENSOR_METHODS)
def test_ndarray_method_is_a_tensor_method(name: str):
    assert callable(getattr(gg.Tensor, name, None)), f"Tensor.{name} is missing"


def test_table_covers_every_op():
    covered = {r.op for r in ROWS}
    missing = [n for n in (*OP_NAMES, *OPERATOR_OPS) if n not in covered]
    assert not missing, f"ops with no row in the op table: {missing}"
