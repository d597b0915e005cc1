"""Products beyond the op table: exact agreement with NumPy's outputs (shapes, values,
dtypes, keyword forms) and the errors for inputs NumPy refuses or we do not support."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import OpError

_rng = np.random.default_rng(7)


def _r(*shape):
    return _rng.standard_normal(shape)


CASES = [
    ("dot", ((), (2, 3)), {}),
    ("dot", ((4,), (4,)), {}),
    ("dot", ((2, 3, 4), (2, 4, 5)), {}),
    ("dot", ((4,), (2, 4, 3)), {}),
    ("dot", ((2, 3, 4), (4,)), {}),
    ("tensordot", ((2, 3, 4), (3, 4, 2)), {}),
    ("tensordot", ((2, 3), (4,)), {"axes": 0}),
    ("tensordot", ((3, 2, 4), (4, 5, 3)), {"axes": ([0, 2], [2, 0])}),
    ("tensordot", ((2, 3), (3, 4)), {"axes": [1, 0]}),
    ("outer", ((2, 3), (2, 2)), {}),
    ("outer", ((), ()), {}),
    ("inner", ((2, 3, 4), (5, 4)), {}),
    ("inner", ((2, 3), ()), {}),
    ("kron", ((2, 1, 3), (1, 2)), {}),
    ("kron", ((), ()), {}),
    ("cross", ((2, 1, 3), (4, 3)), {}),
    ("cross", ((3, 4), (3,)), {"axis": 0}),
    ("cross", ((3, 2), (2, 3)), {"axisa": 0, "axisb": -1, "axisc": 0}),
    ("cross", ((5, 3, 4), (3,)), {"axisa": 1, "axisb": 0}),
]


@pytest.mark.parametrize("name,shapes,kw", CASES, ids=lambda c: str(c))
def test_matches_numpy_exactly(name, shapes, kw):
    xs = [_r(*s) for s in shapes]
    want = getattr(np, name)(*xs, **kw)
    for got in (getattr(gg, name)(*map(gg.tensor, xs), **kw),
                getattr(np, name)(*map(gg.tensor, xs), **kw),  # the np.* mirror
                getattr(gg, name)(xs[0], gg.tensor(xs[1]), **kw)):  # ndarray operand
        assert isinstance(got, gg.Tensor)
        assert got.shape == np.shape(want)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-13, atol=1e-13)


def test_integer_inputs_keep_numpy_dtype():
    a, b = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    for name, args, kw in [("dot", (a, b), {}), ("tensordot", (a, b), {"axes": 1}),
                           ("outer", (a, b), {}), ("inner", (a, b.T), {}),
                           ("kron", (a, b), {}), ("cross", (a, a[::-1]), {})]:
        want = getattr(np, name)(*args, **kw)
        got = getattr(gg, name)(*map(gg.tensor, args), **kw)
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got.numpy(), want)


def test_dot_method_is_the_card_and_not_matmul():
    a, b = gg.tensor(_r(2, 3, 4), requires_grad=True), gg.tensor(_r(2, 4, 5))
    out = a.dot(b)
    assert out.shape == (2, 3, 2, 5)  # np.dot: no batching (matmul would be (2, 3, 5))
    assert out.grad_fn.prim.name == "dot"
    out.sum().backward()
    want = np.tensordot(np.ones((2, 3, 2, 5)), b.numpy(), axes=([2, 3], [0, 2]))
    np.testing.assert_allclose(a.grad.numpy(), want)


def test_dot_misaligned_names_the_axes():
    with pytest.raises(OpError, match=r"dot: shapes \(3, 4\) and \(3, 4\) are not aligned"):
        gg.dot(gg.ones((3, 4)), gg.ones((3, 4)))
    with pytest.raises(OpError, match="only axis"):
        gg.dot(gg.ones((3, 4)), gg.ones(3))


@pytest.mark.parametrize("axes,match", [
    (3, "axes=3 needs both operands"),
    (-1, "n >= 0"),
    (([0], [0]), "shape mismatch for sum: axis 0"),
    (([0, 1], [1]), "name 2 axes of the first operand but 1"),
    (([2], [0]), "axis 2 is out of range"),
    (([0, 0], [1, 1]), "repeat an axis"),
    ("ij", "axes must be"),
])
def test_tensordot_bad_axes(axes, match):
    with pytest.raises(OpError, match=match):
        gg.tensordot(gg.ones((3, 4)), gg.ones((4, 2)), axes=axes)


def test_inner_mismatch():
    with pytest.raises(OpError, match=r"inner: .*last axes \(4 != 2\)"):
        gg.inner(gg.ones((3, 4)), gg.ones((4, 2)))


def test_cross_refuses_two_vectors_and_other_sizes():
    with pytest.raises(OpError, match="2-vector form of np.cross is deprecated in NumPy 2"):
        gg.cross(gg.ones(2), gg.ones(3))
    with pytest.raises(OpError, match="must have 3 components"):
        gg.cross(gg.ones((2, 4)), gg.ones((2, 4)))
    with pytest.raises(OpError, match="cannot be broadcast together outside the vector axis"):
        gg.cross(gg.ones((2, 3)), gg.ones((4, 3)))
    with pytest.raises(OpError, match="axis 2 is out of range"):
        gg.cross(gg.ones((3, 3)), gg.ones((3, 3)), axis=2)
    with pytest.raises(OpError, match="at least 1-d"):
        gg.cross(gg.tensor(1.0), gg.ones(3))


def test_cross_second_order_through_broadcast_axes():
    # d/da of sum(cross(a, b) * w), then its gradient in b: the rules run on Tensors
    a = gg.tensor(_r(3, 4), requires_grad=True)
    b = gg.tensor(_r(3,), requires_grad=True)
    w = _r(3, 4)
    (ga,) = gg.autograd.grad((gg.cross(a, b, axis=0) * w).sum(), [a], create_graph=True)
    (gb,) = gg.autograd.grad(ga.sum(), [b])
    # ga = b x w along axis 0; sum over ga = sum_cols (b x w_col) summed, d/db = sum w x 1
    want = np.cross(w, np.ones((3, 4)), axis=0).sum(axis=1)
    np.testing.assert_allclose(gb.numpy(), want)
