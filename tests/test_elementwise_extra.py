"""What the op-table rows cannot say about the trig / exp-log extras: the ``%`` operators,
the ``atan2`` alias, np.* dispatch recording, nan_to_num's replacement arguments, the
singular points the ``quiet`` cards evaluate on purpose, and gelu after erf moved."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import glassgrad as gg
import glassgrad.nn.functional as F

RTOL, ATOL = 1e-12, 1e-14


def _pair(x, y):
    """float64 leaves: (glassgrad, torch) for each of x, y."""
    return ([gg.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in (x, y)],
            [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in (x, y)])


def test_mod_operator_matches_torch_remainder():
    x = np.array([[2.3, -2.3, 0.4], [-0.4, 5.25, -5.25]])
    y = np.array([0.7, -0.9, 1.5])  # both signs: the result takes the divisor's sign
    (gx, gy), (tx, ty) = _pair(x, y)
    out = gx % gy
    ref = tx % ty
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(out.numpy(), np.mod(x, y), rtol=RTOL, atol=ATOL)
    assert out.grad_fn is not None
    g = np.arange(6.0).reshape(2, 3) - 2.5
    out.backward(gradient=gg.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(gy.grad.numpy(), ty.grad.numpy(), rtol=RTOL, atol=ATOL)
    # d/dy is minus the floor of the quotient: exact integers times g, summed over rows
    np.testing.assert_array_equal(gy.grad.numpy(), (-g * np.floor_divide(x, y)).sum(0))


def test_reflected_mod_of_a_python_scalar_matches_torch():
    y = np.array([0.8, 1.3, -0.9, -1.7])
    gy = gg.tensor(y, requires_grad=True)
    ty = torch.tensor(y, requires_grad=True)
    out = 2.0 % gy
    # torch's own 2.0 % t (remainder of a Scalar) has no derivative: a 0-d tensor instead
    ref = torch.remainder(torch.tensor(2.0, dtype=torch.float64), ty)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=RTOL, atol=ATOL)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(gy.grad.numpy(), ty.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_mod_of_a_scalar_divisor_and_an_ndarray_operand():
    x = np.array([-3.1, -0.2, 0.3, 4.6])
    gx = gg.tensor(x, requires_grad=True)
    for got, want in [(gx % 1.5, np.mod(x, 1.5)), (np.array([1.0, 2.0, 3.0, 4.0]) % gx,
                                                    np.mod([1.0, 2.0, 3.0, 4.0], x))]:
        assert isinstance(got, gg.Tensor) and got.requires_grad
        np.testing.assert_allclose(got.numpy(), want, rtol=RTOL, atol=ATOL)


def test_mod_second_derivative_is_zero():
    x = gg.tensor(np.array([2.3, -1.1]), requires_grad=True)
    y = gg.tensor(np.array([0.7, 0.9]), requires_grad=True)
    gx, gy = gg.autograd.grad(((x % y) * x).sum(), [x, y], create_graph=True)
    # d/dx [(x mod y) x] = x + (x mod y); its own derivative in x is 2, in y -floor(x/y)
    hx, hy = gg.autograd.grad(gx.sum(), [x, y])
    np.testing.assert_allclose(hx.numpy(), [2.0, 2.0])
    np.testing.assert_allclose(hy.numpy(), -np.floor_divide(x.numpy(), y.numpy()))


def test_atan2_is_arctan2():
    assert gg.atan2 is gg.arctan2
    assert "atan2" in gg.__all__ and "arctan2" in gg.__all__


def test_np_hypot_on_tensors_records_the_op():
    x = gg.tensor(np.array([3.0, -5.0, 1e200]), requires_grad=True)
    y = gg.tensor(np.array([4.0, 12.0, 1e200]), requires_grad=True)
    out = np.hypot(x, y)
    assert isinstance(out, gg.Tensor) and out.requires_grad and out.grad_fn is not None
    np.testing.assert_allclose(out.numpy(), [5.0, 13.0, math.sqrt(2) * 1e200], rtol=1e-15)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.6, -5 / 13, 1 / math.sqrt(2)], rtol=1e-15)
    np.testing.assert_allclose(y.grad.numpy(), [0.8, 12 / 13, 1 / math.sqrt(2)], rtol=1e-15)


def test_np_square_on_a_tensor_is_the_square_op():
    x = gg.tensor(np.array([1.5, -2.0]), requires_grad=True)
    out = np.square(x)
    assert out.grad_fn is not None and "square" in repr(out.grad_fn)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, -4.0])


_NON_FINITE = np.array([1.5, np.nan, np.inf, -np.inf, -0.25, np.nan])


@pytest.mark.parametrize("kwargs", [
    {}, {"nan": 0.5}, {"posinf": 7.0}, {"neginf": -7.0},
    {"nan": -1.0, "posinf": 1e3, "neginf": -1e3},
])
def test_nan_to_num_matches_numpy_and_stops_the_gradient(kwargs):
    x = gg.tensor(_NON_FINITE.copy(), requires_grad=True)
    out = gg.nan_to_num(x, **kwargs)
    np.testing.assert_array_equal(out.numpy(), np.nan_to_num(_NON_FINITE, **kwargs))
    np.testing.assert_array_equal(np.nan_to_num(x, **kwargs).numpy(), out.numpy())
    g = np.arange(1.0, 7.0)
    out.backward(gradient=gg.tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), np.where(np.isfinite(_NON_FINITE), g, 0.0))
    t = torch.tensor(_NON_FINITE, requires_grad=True)
    torch.nan_to_num(t, **kwargs).backward(torch.tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_nan_to_num_refuses_copy_false():
    with pytest.raises(gg.OpError, match="nan_to_num: copy=False"):
        gg.nan_to_num(gg.tensor(_NON_FINITE), copy=False)


@pytest.mark.parametrize("name, torch_fn, points", [
    ("arcsin", torch.asin, [-1.0, 1.0]),
    ("arccos", torch.acos, [-1.0, 1.0]),
    ("arctanh", torch.atanh, [-1.0, 1.0]),
    ("log2", torch.log2, [0.0]),
    ("log10", torch.log10, [0.0]),
    ("reciprocal", torch.reciprocal, [0.0]),
])
def test_singular_points_give_torchs_slopes_without_warnings(name, torch_fn, points):
    """quiet cards: the inf slope is the answer; the backward does not warn about it."""
    x = gg.tensor(np.array(points), requires_grad=True)
    with np.errstate(all="ignore"):  # the forward's warning is about the user's value
        out = getattr(gg, name)(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out.backward(gradient=gg.ones_like(out))
    t = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    torch_fn(t).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_erf_is_one_public_op_shared_with_nn():
    from glassgrad.nn import _activation_ops
    from glassgrad.primitive import NUMPY_MIRRORS, OPS

    assert _activation_ops.erf is gg.erf is OPS["erf"]
    assert gg.erf not in NUMPY_MIRRORS.values()  # NumPy has no erf to mirror
    x = np.linspace(-4.0, 4.0, 17)
    np.testing.assert_allclose(gg.erf(gg.tensor(x)).numpy(), [math.erf(v) for v in x],
                               rtol=2e-15, atol=1e-300)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_still_matches_torch(approximate):
    x = np.linspace(-5.0, 5.0, 23).reshape(1, 23)
    gx = gg.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    out = F.gelu(gx, approximate=approximate)
    ref = TF.gelu(tx, approximate=approximate)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = np.cos(np.arange(23.0)).reshape(1, 23)
    out.backward(gradient=gg.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert gg.autograd.gradgradcheck(lambda v: F.gelu(v, approximate=approximate),
                                     [gg.tensor(x[:, ::4].copy(), requires_grad=True)])
