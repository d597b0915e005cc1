"""Dtypes (the default float dtype, promotion with Python scalars, gradients keep
their tensor's dtype), creation functions, tensor attributes and comparisons.

Part of the PyTorch autograd-semantics suite (split by topic; shared helpers in
``_autograd_helpers.py``). Where PyTorch has the same concept, torch is the oracle.
"""

import operator

import numpy as np
import pytest
from _autograd_helpers import (
    _arr,
    restore_default_dtype_fixture,  # noqa: F401 (fixtures)
)

import glassgrad as gg

# --------------------------------------------------------------------------------------
# Dtypes
# --------------------------------------------------------------------------------------


def test_default_float_dtype_is_float32():
    assert np.dtype(gg.get_default_dtype()) == np.float32
    assert gg.tensor(1.0).dtype == np.float32
    assert gg.tensor([1.0, 2.5]).dtype == np.float32
    assert gg.tensor([[1.0], [2.0]], requires_grad=True).dtype == np.float32


def test_set_default_dtype_float64(restore_default_dtype):
    gg.set_default_dtype(np.float64)
    assert np.dtype(gg.get_default_dtype()) == np.float64
    assert gg.tensor(1.0).dtype == np.float64
    assert gg.zeros((2,)).dtype == np.float64
    assert gg.ones((2,)).dtype == np.float64
    assert gg.randn(2).dtype == np.float64
    assert gg.rand(2).dtype == np.float64
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.dtype == np.float64


def test_numpy_arrays_keep_their_dtype(restore_default_dtype):
    assert gg.tensor(np.array([1.0, 2.0])).dtype == np.float64
    assert gg.tensor(np.array([1.0], dtype=np.float32)).dtype == np.float32
    gg.set_default_dtype(np.float64)
    assert gg.tensor(np.array([1.0], dtype=np.float32)).dtype == np.float32
    assert gg.tensor(np.array([1, 2], dtype=np.int32)).dtype == np.int32


def test_explicit_dtype_argument():
    assert gg.tensor([1.0, 2.0], dtype=np.float64).dtype == np.float64
    assert gg.tensor(np.ones(2), dtype=np.float32).dtype == np.float32


def test_python_ints_make_integer_tensors():
    assert np.issubdtype(gg.tensor([1, 2, 3]).dtype, np.integer)


@pytest.mark.parametrize(
    "make",
    [
        lambda: gg.tensor([1, 2, 3], requires_grad=True),
        lambda: gg.tensor(np.arange(3), requires_grad=True),
        lambda: gg.tensor(np.array([True, False]), requires_grad=True),
        lambda: gg.tensor([1, 2]).requires_grad_(),
        lambda: gg.tensor(np.arange(3, dtype=np.int32)).requires_grad_(True),
        lambda: gg.zeros((3,), dtype=np.int64, requires_grad=True),
        lambda: gg.arange(5, requires_grad=True),
    ],
    ids=["list", "ndarray", "bool", "requires_grad_", "requires_grad_int32", "zeros", "arange"],
)
def test_integer_tensor_requiring_grad_is_a_type_error(make):
    with pytest.raises(TypeError, match=r"(?i)float"):
        make()


def test_float64_works_throughout():
    rng = np.random.default_rng(5)
    w = gg.tensor(rng.normal(size=(3, 2)), requires_grad=True)
    x = gg.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    h = gg.tanh(x @ w) * 2.5 - 1.0
    out = (gg.exp(h) / (1.0 + h * h)).mean()
    assert h.dtype == np.float64 and out.dtype == np.float64
    out.backward()
    assert w.grad.dtype == np.float64 and x.grad.dtype == np.float64


def test_float32_stays_float32_with_python_scalars():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    for y in (x * 2.5, 2.5 * x, x + 1.0, 1.0 - x, x / 3.0, 3.0 / x, x**2, x**0.5, -x):
        assert y.dtype == np.float32
    (x * 2.5 + x**2).sum().backward()
    assert x.grad.dtype == np.float32


def test_mixed_precision_grads_have_their_tensors_dtype():
    a = gg.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    b = gg.tensor(np.array([3.0, 4.0], dtype=np.float64), requires_grad=True)
    y = a * b
    assert y.dtype == np.float64  # NumPy / torch promotion
    y.sum().backward()
    assert a.grad.dtype == np.float32
    assert b.grad.dtype == np.float64
    np.testing.assert_allclose(_arr(a.grad), [3.0, 4.0])
    np.testing.assert_allclose(_arr(b.grad), [1.0, 2.0])


# --------------------------------------------------------------------------------------
# Creation
# --------------------------------------------------------------------------------------


def test_creation_functions_values_shapes_and_default_dtype():
    z = gg.zeros((2, 3))
    o = gg.ones((4,))
    f = gg.full((2, 2), 7.5)
    e = gg.eye(3)
    for t in (z, o, f, e):
        assert isinstance(t, gg.Tensor)
        assert t.dtype == np.float32
        assert not t.requires_grad
    np.testing.assert_array_equal(_arr(z), np.zeros((2, 3)))
    np.testing.assert_array_equal(_arr(o), np.ones(4))
    np.testing.assert_array_equal(_arr(f), np.full((2, 2), 7.5))
    np.testing.assert_array_equal(_arr(e), np.eye(3))
    assert gg.zeros(3).shape == (3,)


def test_like_functions_follow_their_argument():
    base = gg.tensor(np.ones((2, 5)), requires_grad=True)
    zl = gg.zeros_like(base)
    ol = gg.ones_like(base)
    assert zl.shape == ol.shape == (2, 5)
    assert zl.dtype == ol.dtype == np.float64
    assert not zl.requires_grad and not ol.requires_grad
    np.testing.assert_array_equal(_arr(zl), 0.0)
    np.testing.assert_array_equal(_arr(ol), 1.0)
    assert gg.zeros_like(base, dtype=np.float32).dtype == np.float32
    assert gg.ones_like(base, requires_grad=True).requires_grad


def test_arange():
    a = gg.arange(5)
    np.testing.assert_array_equal(_arr(a), np.arange(5))
    assert np.issubdtype(a.dtype, np.integer)
    b = gg.arange(0.0, 1.0, 0.25)
    assert np.issubdtype(b.dtype, np.floating)
    np.testing.assert_allclose(_arr(b), [0.0, 0.25, 0.5, 0.75])
    c = gg.arange(1, 4, dtype=np.float64, requires_grad=True)
    assert c.dtype == np.float64 and c.requires_grad and c.is_leaf
    (c * c).sum().backward()
    np.testing.assert_allclose(_arr(c.grad), [2.0, 4.0, 6.0])


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: gg.zeros((2, 3), **kw),
        lambda **kw: gg.ones((2, 3), **kw),
        lambda **kw: gg.full((2, 3), 0.5, **kw),
        lambda **kw: gg.zeros_like(gg.ones((2, 3)), **kw),
        lambda **kw: gg.ones_like(gg.ones((2, 3)), **kw),
        lambda **kw: gg.arange(0.0, 6.0, 1.0, **kw),
        lambda **kw: gg.eye(3, **kw),
        lambda **kw: gg.randn(2, 3, **kw),
        lambda **kw: gg.rand(2, 3, **kw),
    ],
    ids=["zeros", "ones", "full", "zeros_like", "ones_like", "arange", "eye", "randn", "rand"],
)
def test_creation_accepts_requires_grad_and_dtype(make):
    t = make(requires_grad=True, dtype=np.float64)
    assert t.dtype == np.float64
    assert t.requires_grad and t.is_leaf and t.grad_fn is None
    (t * t).sum().backward()
    np.testing.assert_allclose(_arr(t.grad), 2 * _arr(t))
    assert t.grad.dtype == np.float64
    t32 = make(dtype=np.float32)
    assert t32.dtype == np.float32 and not t32.requires_grad


def test_randn_and_rand_shapes_and_ranges():
    gg.manual_seed(0)
    n = gg.randn(200, 50)
    u = gg.rand(200, 50)
    assert n.shape == (200, 50) and u.shape == (200, 50)
    assert n.dtype == np.float32 and u.dtype == np.float32
    assert abs(float(_arr(n).mean())) < 0.05
    assert 0.9 < float(_arr(n).std()) < 1.1
    assert _arr(u).min() >= 0.0 and _arr(u).max() < 1.0
    assert abs(float(_arr(u).mean()) - 0.5) < 0.02


def test_manual_seed_makes_random_draws_reproducible():
    gg.manual_seed(42)
    a1, b1 = _arr(gg.randn(5, 3)), _arr(gg.rand(4))
    gg.manual_seed(42)
    a2, b2 = _arr(gg.randn(5, 3)), _arr(gg.rand(4))
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    gg.manual_seed(43)
    assert not np.array_equal(_arr(gg.randn(5, 3)), a1)
    # consecutive draws differ
    gg.manual_seed(42)
    assert not np.array_equal(_arr(gg.randn(5, 3)), _arr(gg.randn(5, 3)))


# --------------------------------------------------------------------------------------
# Attributes and comparisons
# --------------------------------------------------------------------------------------


def test_attributes():
    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    t = gg.tensor(a, requires_grad=True)
    assert isinstance(t.data, np.ndarray)
    np.testing.assert_array_equal(t.data, a)
    assert isinstance(t.numpy(), np.ndarray)
    np.testing.assert_array_equal(t.numpy(), a)
    np.testing.assert_array_equal(np.asarray(t), a)
    assert np.asarray(t).dtype == np.float64
    assert t.shape == (2, 3, 4) and isinstance(t.shape, tuple)
    assert t.ndim == 3
    assert t.size == 24 and isinstance(t.size, int)
    assert t.dtype == np.float64
    assert len(t) == 2
    s = (t * 1.0).sum()
    v = s.item()
    assert isinstance(v, float) and v == float(a.sum())
    assert gg.tensor([3.5]).item() == 3.5


def test_len_of_0d_tensor_raises_type_error():
    with pytest.raises(TypeError):
        len(gg.tensor(1.0))


@pytest.mark.parametrize(
    "op", [operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne]
)
def test_comparisons_return_bool_tensors_without_grad(op):
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([2.0, 2.0, 2.0])
    x = gg.tensor(a, requires_grad=True)
    y = gg.tensor(b, requires_grad=True)
    for r, expected in ((op(x, 2.0), op(a, 2.0)), (op(x, y), op(a, b))):
        assert isinstance(r, gg.Tensor)
        assert r.dtype == np.bool_
        assert not r.requires_grad
        assert r.grad_fn is None
        np.testing.assert_array_equal(_arr(r), expected)
