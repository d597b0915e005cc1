"""``gg.autograd.gradcheck``, ``gradgradcheck`` and ``numerical_gradient``."""

import re
import warnings

import numpy as np
import pytest
import torch

import glassgrad as gg

gradcheck = gg.autograd.gradcheck
gradgradcheck = gg.autograd.gradgradcheck
GradcheckError = gg.autograd.GradcheckError


def _arr(t):
    return np.array(t.data, copy=True)


def _leaf(a):
    return gg.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


_FLOAT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def _floats_in(msg):
    return [float(m) for m in _FLOAT.findall(msg)]


def _mentions_number(msg, value, rtol=1e-3):
    return any(abs(v - value) <= rtol * abs(value) + 1e-12 for v in _floats_in(msg))


RNG = np.random.default_rng(2024)
A = RNG.uniform(-1.0, 1.0, size=(3, 4))
B = RNG.uniform(-1.0, 1.0, size=(4, 2))
C = RNG.uniform(0.5, 2.0, size=(1, 4))

CORRECT_FUNCTIONS = {
    "tanh_sq": (lambda x: gg.tanh(x) ** 2, (A,)),
    "matmul": (lambda x, y: x @ y, (A, B)),
    "matmul_sum_axis": (lambda x, y: (x @ y).sum(axis=0), (A, B)),
    "broadcast_div": (lambda x, c: gg.sin(x) / c, (A, C)),
    "logsumexp": (lambda x: gg.logsumexp(x, axis=1), (A,)),
    "exp_mul_scalar_out": (lambda x, c: (gg.exp(x) * c).mean(), (A, C)),
}


@pytest.mark.parametrize("name", list(CORRECT_FUNCTIONS))
def test_gradcheck_passes_on_correct_functions(name):
    fn, arrays = CORRECT_FUNCTIONS[name]
    assert gradcheck(fn, tuple(_leaf(a) for a in arrays)) is True


@pytest.mark.parametrize("name", list(CORRECT_FUNCTIONS))
def test_gradgradcheck_passes_on_correct_functions(name):
    fn, arrays = CORRECT_FUNCTIONS[name]
    assert gradgradcheck(fn, tuple(_leaf(a) for a in arrays)) is True


def test_gradcheck_with_non_differentiable_integer_input():
    x = _leaf(A)
    idx = gg.tensor(np.array([2, 0, 0]))
    assert gradcheck(lambda a, i: a[i] * 2.0, (x, idx)) is True


def test_gradcheck_and_gradgradcheck_with_several_outputs():
    x = _leaf(A)
    assert gradcheck(lambda a: (gg.sin(a), a * a), (x,)) is True
    assert gradgradcheck(lambda a: (gg.sin(a), a * a), (x,)) is True


def test_gradcheck_with_an_input_the_output_does_not_use():
    x, unused = _leaf(A), _leaf(B)
    assert gradcheck(lambda a, b: gg.sin(a), (x, unused)) is True


def test_gradcheck_with_0d_input():
    x = gg.tensor(np.float64(1.5), requires_grad=True)
    assert gradcheck(lambda a: a * a * gg.exp(a), (x,)) is True


def test_gradcheck_leaves_inputs_untouched():
    x, y = _leaf(A), _leaf(B)
    assert gradcheck(lambda a, b: gg.tanh(a @ b), (x, y))
    np.testing.assert_array_equal(_arr(x), A)
    np.testing.assert_array_equal(_arr(y), B)


def test_gradcheck_does_not_accumulate_into_grad():
    # torch's gradcheck differentiates with autograd.grad, leaving .grad alone.
    x = _leaf(A)
    assert gradcheck(lambda a: gg.sin(a) * a, (x,))
    assert x.grad is None


# --------------------------------------------------------------------------------------
# A wrong gradient, with a known worst element
# --------------------------------------------------------------------------------------

X_VALUES = np.array([[2.0, -1.5, 3.0], [0.7, 1.1, 0.25]])
Y_VALUES = np.array([[0.4, -0.9, 1.3], [-2.2, 0.6, 1.7]])


def _bad_function(wrong_input):
    """f(x, y) = sum(x * y) whose backward is wrong for one input.

    The wrong input's gradient is off by +0.5 at element (1, 2) and by +0.01 at (0, 0);
    (1, 2) is the worst by any reasonable measure.
    """
    bump = np.zeros((2, 3))
    bump[1, 2] = 0.5
    bump[0, 0] = 0.01

    class Bad(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return (x * y).sum()

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            gx, gy = g * y, g * x
            if wrong_input == 0:
                gx = gx + gg.tensor(bump)
            else:
                gy = gy + gg.tensor(bump)
            return gx, gy

    return Bad.apply


@pytest.mark.parametrize("wrong_input", [0, 1])
def test_gradcheck_error_message_names_input_element_values_and_error(wrong_input):
    x, y = _leaf(X_VALUES), _leaf(Y_VALUES)
    with pytest.raises(GradcheckError) as info:
        gradcheck(_bad_function(wrong_input), (x, y))
    msg = str(info.value)

    assert f"input {wrong_input}" in msg, msg
    assert f"input {1 - wrong_input}" not in msg, msg

    # the worst element, as a multi-index (or flat index 5 named as element/index)
    assert re.search(r"[\(\[]\s*1\s*,\s*2\s*[\)\]]", msg) or re.search(
        r"(?i)(element|index)\D{0,3}5\b", msg
    ), msg

    # numerical = the other input's value there; analytical = numerical + 0.5
    numerical = (Y_VALUES if wrong_input == 0 else X_VALUES)[1, 2]
    analytical = numerical + 0.5
    assert _mentions_number(msg, numerical), msg
    assert _mentions_number(msg, analytical), msg

    # the relative error, under any of the usual definitions
    diff = abs(analytical - numerical)
    candidates = [
        diff / abs(numerical),
        diff / max(abs(analytical), abs(numerical)),
        diff / (abs(analytical) + abs(numerical)),
    ]
    assert any(_mentions_number(msg, c, rtol=1e-2) for c in candidates), msg
    assert re.search(r"(?i)relative", msg), msg


def test_gradcheck_raise_exception_false_returns_false():
    x, y = _leaf(X_VALUES), _leaf(Y_VALUES)
    assert gradcheck(_bad_function(1), (x, y), raise_exception=False) is False
    assert gradcheck(lambda a, b: (a * b).sum(), (x, y), raise_exception=False) is True


def test_gradcheck_error_is_exported_from_autograd():
    assert issubclass(GradcheckError, Exception)


def test_gradcheck_honours_tolerances():
    class SlightlyOff(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return gg.sin(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * gg.cos(x) * (1.0 + 1e-4)

    x = _leaf(np.array([0.3, 0.9, -1.2]))
    assert gradcheck(SlightlyOff.apply, (x,)) is True  # rel. error 1e-4 < rtol 1e-3
    assert gradcheck(SlightlyOff.apply, (x,), atol=1e-9, rtol=1e-6, raise_exception=False) is False
    with pytest.raises(GradcheckError):
        gradcheck(SlightlyOff.apply, (x,), eps=1e-6, atol=1e-9, rtol=1e-6)


def test_gradcheck_float32_inputs_warn():
    x = gg.tensor(A.astype(np.float32), requires_grad=True)
    with pytest.warns(Warning, match=r"(?i)float32|float64|double|precision"):
        gradcheck(lambda a: gg.sin(a), (x,), raise_exception=False)


def test_gradcheck_float64_inputs_do_not_warn():
    x = _leaf(A)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        assert gradcheck(lambda a: gg.sin(a), (x,))
    assert not [w for w in rec if "float" in str(w.message) or "precision" in str(w.message)]


# --------------------------------------------------------------------------------------
# gradgradcheck on a wrong second order
# --------------------------------------------------------------------------------------


class CubeFirstOrderOnly(gg.autograd.Function):
    """Right first derivative, but computed from a constant: second order is wrong."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * gg.tensor(3.0 * x.data**2)


def test_gradgradcheck_catches_wrong_second_order():
    x = _leaf(np.array([0.5, -1.2, 2.0]))
    assert gradcheck(CubeFirstOrderOnly.apply, (x,)) is True
    with pytest.raises(GradcheckError):
        gradgradcheck(CubeFirstOrderOnly.apply, (x,))
    assert gradgradcheck(CubeFirstOrderOnly.apply, (x,), raise_exception=False) is False


# --------------------------------------------------------------------------------------
# numerical_gradient
# --------------------------------------------------------------------------------------


def test_numerical_gradient_matches_torch():
    x0 = RNG.normal(size=(3, 4))
    w0 = RNG.normal(size=(4, 2))

    def f(x, w):
        return (gg.tanh(x @ w) ** 2).sum()

    x = gg.tensor(x0)
    w = gg.tensor(w0)
    grads = gg.autograd.numerical_gradient(f, [x, w])
    assert isinstance(grads, list) and len(grads) == 2
    assert all(isinstance(g, np.ndarray) for g in grads)
    assert grads[0].shape == (3, 4) and grads[1].shape == (4, 2)

    xt = torch.tensor(x0, requires_grad=True)
    wt = torch.tensor(w0, requires_grad=True)
    (torch.tanh(xt @ wt) ** 2).sum().backward()
    np.testing.assert_allclose(grads[0], xt.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grads[1], wt.grad.numpy(), rtol=1e-5, atol=1e-7)

    # inputs are restored
    np.testing.assert_array_equal(_arr(x), x0)
    np.testing.assert_array_equal(_arr(w), w0)


def test_numerical_gradient_eps_argument():
    x = gg.tensor(np.array([0.2, 1.4]))
    g = gg.autograd.numerical_gradient(lambda t: gg.exp(t).sum(), [x], eps=1e-5)
    np.testing.assert_allclose(g[0], np.exp([0.2, 1.4]), rtol=1e-8)
