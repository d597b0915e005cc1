"""Reductions at the edges: equal values, huge finite values, size-0 inputs, Python
scalars; and no RuntimeWarnings from our own rules. All against torch or NumPy."""

import warnings

import numpy as np
import pytest
import torch

import glassgrad as gg

F = gg.nn.functional


@pytest.mark.parametrize("n", [2, 3, 7, 10, 100])
@pytest.mark.parametrize("value", [0.1, 0.3, 1e-3, 123.456])
@pytest.mark.parametrize("name", ["std", "var"])
def test_spread_of_equal_float32_values_is_exactly_zero_with_zero_gradient(name, value, n):
    # Equal values have no spread: std = 0 and, by the convention torch documents for
    # std at 0, gradient 0. (torch itself rounds the float32 mean of 7 copies of 0.1,
    # so its std is ~7e-9 and its gradient -1/7: the ±1/N the issue reported.)
    x = gg.tensor(np.full(n, value, np.float32), requires_grad=True)
    out = getattr(gg, name)(x)
    out.backward()
    assert out.item() == 0.0
    np.testing.assert_array_equal(x.grad.data, np.zeros(n, np.float32))
    # the float64 answer torch gives for the same (exactly equal) values agrees
    xt = torch.full((n,), float(np.float32(value)), dtype=torch.float64, requires_grad=True)
    getattr(torch, name)(xt, correction=0).backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), atol=1e-7)


HUGE = [np.array([1e20, -1e20, 3e20], np.float32), np.array([1.5e19, -1.5e19, 1.5e19], np.float32),
        np.array([3e38, -3e38, 1e38], np.float32), np.array([1e200, -1e200, 3e200])]


@pytest.mark.parametrize("values", HUGE, ids=lambda v: f"{v.dtype}-{abs(v).max():.0e}")
@pytest.mark.parametrize("name", ["std", "var"])
def test_spread_of_huge_finite_values_is_finite_where_it_is_representable(name, values):
    # reference: torch in float64 on the same values, scaled to magnitude ~1 and scaled
    # back (std is homogeneous of degree 1, var of degree 2; the slopes of degree 0, 1)
    scale = float(np.abs(values).max())
    ref_in = torch.tensor(values.astype(np.float64) / scale, requires_grad=True)
    ref_scaled = getattr(torch, name)(ref_in, correction=0)
    ref_scaled.backward()
    power = 1 if name == "std" else 2
    with np.errstate(over="ignore"):
        ref = float(np.float64(ref_scaled.item()) * np.float64(scale) ** power)
    ref_in.grad *= scale ** (power - 1)
    x = gg.tensor(values, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a var beyond the float range overflows, as it must
        out = getattr(gg, name)(x)
        out.backward()
    finite = np.isfinite(ref) and abs(ref) < float(np.finfo(values.dtype).max)
    if finite:
        np.testing.assert_allclose(out.item(), ref, rtol=1e-6)
    else:
        assert np.isinf(out.item())
    np.testing.assert_allclose(x.grad.data, ref_in.grad.numpy(), rtol=1e-5)


@pytest.mark.parametrize("name", ["var", "std"])
def test_spread_of_no_elements_is_nan_with_a_warning_as_numpy(name):
    x = gg.zeros((3, 0), requires_grad=True)
    with pytest.warns(RuntimeWarning, match="degrees of freedom"):
        out = getattr(gg, name)(x, axis=1)
    with pytest.warns(RuntimeWarning):
        ref = getattr(np, name)(np.zeros((3, 0)), axis=1)
    np.testing.assert_array_equal(out.data, ref)
    out.sum().backward()
    assert x.grad.shape == (3, 0)


CASES = {
    "logsumexp": (lambda x: gg.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, 1), (3, 0)),
    "softmax": (lambda x: F.softmax(x, 1), lambda x: torch.softmax(x, 1), (3, 0)),
    "log_softmax": (lambda x: F.log_softmax(x, 1), lambda x: torch.log_softmax(x, 1), (3, 0)),
    "max": (lambda x: gg.max(x, axis=1), lambda x: torch.amax(x, 1), (0, 3)),
    "min": (lambda x: gg.min(x, axis=1), lambda x: torch.amin(x, 1), (0, 3)),
    "prod-empty-axis": (lambda x: gg.prod(x, axis=1), lambda x: torch.prod(x, 1), (3, 0)),
    "prod-empty-batch": (lambda x: gg.prod(x, axis=1), lambda x: torch.prod(x, 1), (0, 3)),
    "mean-empty-batch": (lambda x: gg.mean(x, axis=1), lambda x: torch.mean(x, 1), (0, 3)),
}


@pytest.mark.parametrize("name", CASES)
def test_size_zero_inputs_work_as_in_torch(name):
    ours, theirs, shape = CASES[name]
    x = gg.zeros(shape, requires_grad=True)
    out = ours(x)
    out.sum().backward()
    xt = torch.zeros(shape, requires_grad=True)
    ref = theirs(xt)
    ref.sum().backward()
    assert out.shape == tuple(ref.shape)
    np.testing.assert_array_equal(out.data, ref.detach().numpy())
    assert x.grad.shape == tuple(xt.grad.shape)


def test_max_over_an_empty_axis_still_explains_itself():
    with pytest.raises(ValueError, match=r"max: the reduced axes .* \(3, 0\) are empty"):
        gg.max(gg.zeros((3, 0)), axis=1)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "prod", "max", "min",
                                  "logsumexp"])
def test_reductions_accept_a_python_scalar_as_numpy(name):
    np_name = {"logsumexp": None}.get(name, name)
    out = getattr(gg, name)(0.5)
    expected = 0.5 if np_name is None else getattr(np, np_name)(0.5)
    assert out.item() == pytest.approx(expected)


# --- no RuntimeWarnings from our own rules ----------------------------------------------

LARGE = np.array([-3e38, -1e4, -50.0, 0.0, 50.0, 1e4, 3e38], np.float32)


@pytest.mark.parametrize("name, ours, theirs", [
    ("gelu", F.gelu, torch.nn.functional.gelu),
    ("gelu-tanh", lambda x: F.gelu(x, approximate="tanh"),
     lambda x: torch.nn.functional.gelu(x, approximate="tanh")),
    ("log_softmax", lambda x: F.log_softmax(x.reshape(1, -1), 1),
     lambda x: torch.log_softmax(x.reshape(1, -1), 1)),
    ("softplus", F.softplus, torch.nn.functional.softplus),
    ("sigmoid", gg.sigmoid, torch.sigmoid),
])
def test_activations_of_huge_inputs_warn_nothing_and_match_torch(name, ours, theirs):
    x = gg.tensor(LARGE, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ours(x)
        out.sum().backward()
    xt = torch.tensor(LARGE, requires_grad=True)
    ref = theirs(xt)
    ref.sum().backward()
    want = ref.detach().numpy()
    # torch's exact gelu overflows to inf at 3e38 (it forms 2x on the way); the true value,
    # x * Phi(x) = x, is representable and is what ours gives
    if name == "gelu":
        overflowed = ~np.isfinite(want)
        np.testing.assert_array_equal(out.numpy()[overflowed], LARGE[overflowed])
        want = np.where(overflowed, LARGE, want)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)
    grad_ref = xt.grad.numpy()
    ok = np.isfinite(grad_ref)  # torch's tanh-gelu gives NaN at +-3e38; ours 0 and 1
    np.testing.assert_allclose(x.grad.data[ok], grad_ref[ok], rtol=1e-6)


@pytest.mark.parametrize("name, fn, tfn", [
    ("sqrt", gg.sqrt, torch.sqrt), ("log", gg.log, torch.log),
    ("pow0.5", lambda x: x ** 0.5, lambda x: x ** 0.5),
    ("rsqrt-ish", lambda x: 1.0 / gg.sqrt(x + 1.0), lambda x: 1.0 / torch.sqrt(x + 1.0)),
])
def test_rules_at_singular_points_give_torchs_inf_without_warnings(name, fn, tfn):
    values = np.array([0.0, 1.0, 4.0])
    x = gg.tensor(values, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(x)  # the forward may warn about the user's log(0): NumPy's business
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out.sum().backward()  # the backward is ours: silent
        _, tangent = gg.func.jvp(lambda v: fn(v), (gg.tensor(values + 1e-300 * 0),),
                                 (gg.ones(3, dtype=np.float64),)) if name != "log" else (
            None, None)
    xt = torch.tensor(values, requires_grad=True)
    tfn(xt).sum().backward()
    np.testing.assert_array_equal(x.grad.data, xt.grad.numpy())


def test_user_hook_warnings_are_not_hidden_by_the_engine():
    x = gg.tensor([0.0, 1.0], requires_grad=True)
    x.register_hook(lambda g: g / np.array([0.0, 1.0], np.float32))  # the user's own division by 0
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        (x * 2).sum().backward()


def test_custom_function_backward_warnings_are_not_hidden():
    class Inv(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g / np.zeros_like(g)  # the user's own division by 0

    x = gg.tensor([1.0], requires_grad=True)
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        Inv.apply(x).sum().backward()
