"""PyTorch autograd semantics, tested through glassgrad's public API (API.md).

Where PyTorch has the same concept, torch (the pinned CPU build) is the oracle: the same
computation is run in both libraries and the results compared.
"""

import operator

import numpy as np
import pytest
import torch

import glassgrad as gg

RNG_SEED = 1234


def _arr(t):
    """A copy of a glassgrad Tensor's values as an ndarray."""
    return np.array(t.data, copy=True)


def _t(a, requires_grad=False):
    """The same values as a torch tensor (dtype preserved)."""
    return torch.tensor(np.asarray(a), requires_grad=requires_grad)


def _close(gg_value, torch_value, rtol=1e-6, atol=1e-8):
    expected = torch_value
    if isinstance(torch_value, torch.Tensor):
        expected = torch_value.detach().numpy()
    np.testing.assert_allclose(_arr(gg_value), expected, rtol=rtol, atol=atol)


@pytest.fixture
def restore_default_dtype():
    old = gg.get_default_dtype()
    try:
        yield
    finally:
        gg.set_default_dtype(old)


@pytest.fixture
def x64():
    rng = np.random.default_rng(RNG_SEED)
    return rng.uniform(-1.5, 1.5, size=(3, 4))


# --------------------------------------------------------------------------------------
# Leaves, non-leaves, grad_fn, accumulation
# --------------------------------------------------------------------------------------


def test_leaf_and_grad_fn_flags_follow_pytorch():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    c = gg.tensor([3.0, 4.0])
    assert x.is_leaf and x.grad_fn is None and x.requires_grad
    assert c.is_leaf and c.grad_fn is None and not c.requires_grad

    y = x * c
    assert not y.is_leaf
    assert y.grad_fn is not None
    assert y.requires_grad

    d = c * 2.0  # no input requires grad: a leaf without a node, as in torch
    assert d.is_leaf and d.grad_fn is None and not d.requires_grad


def test_grad_is_a_tensor_with_the_shape_of_its_leaf():
    x = gg.tensor(np.ones((2, 3)), requires_grad=True)
    assert x.grad is None
    (x * 3.0).sum().backward()
    assert isinstance(x.grad, gg.Tensor)
    assert x.grad.shape == (2, 3)
    assert not x.grad.requires_grad


def test_gradients_accumulate_into_leaves_across_backward_calls(x64):
    x = gg.tensor(x64, requires_grad=True)
    xt = _t(x64, requires_grad=True)
    for _ in range(3):
        (gg.sin(x) * x).sum().backward()
        (torch.sin(xt) * xt).sum().backward()
        _close(x.grad, xt.grad)


def test_grad_can_be_reset_to_none_between_steps(x64):
    x = gg.tensor(x64, requires_grad=True)
    (x * x).sum().backward()
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(_arr(x.grad), 2 * x64)


def test_leaf_used_twice_in_one_graph_sums_its_gradients(x64):
    x = gg.tensor(x64, requires_grad=True)
    xt = _t(x64, requires_grad=True)
    (x * x + gg.exp(x) * x - x).sum().backward()
    (xt * xt + torch.exp(xt) * xt - xt).sum().backward()
    _close(x.grad, xt.grad)


def test_non_leaf_grad_is_none_unless_retain_grad(x64):
    x = gg.tensor(x64, requires_grad=True)
    y = x * x
    z = gg.tanh(y)
    z.retain_grad()
    (z * 3.0).sum().backward()
    assert y.grad is None
    assert z.grad is not None

    xt = _t(x64, requires_grad=True)
    zt = torch.tanh(xt * xt)
    zt.retain_grad()
    (zt * 3.0).sum().backward()
    _close(z.grad, zt.grad)
    _close(x.grad, xt.grad)


def test_backward_on_tensor_that_does_not_require_grad_raises():
    x = gg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError):
        (x * 2.0).sum().backward()


# --------------------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------------------


def test_hooks_on_leaf_and_non_leaf_match_torch(x64):
    seen_gg, seen_t = [], []

    x = gg.tensor(x64, requires_grad=True)
    x.register_hook(lambda g: g * 2.0)
    y = x * x
    y.register_hook(lambda g: (seen_gg.append(_arr(g)), g + 1.0)[1])
    (y * 3.0).sum().backward()

    xt = _t(x64, requires_grad=True)
    xt.register_hook(lambda g: g * 2.0)
    yt = xt * xt
    yt.register_hook(lambda g: (seen_t.append(g.detach().numpy().copy()), g + 1.0)[1])
    (yt * 3.0).sum().backward()

    assert len(seen_gg) == 1
    np.testing.assert_allclose(seen_gg[0], seen_t[0])
    _close(x.grad, xt.grad)  # (3 + 1) * 2x * 2 = 16x


def test_hook_receives_a_tensor():
    received = []
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    y.register_hook(lambda g: received.append(g))
    x.register_hook(lambda g: received.append(g))
    y.sum().backward()
    assert len(received) == 2
    assert all(isinstance(g, gg.Tensor) for g in received)
    np.testing.assert_allclose(_arr(received[0]), [1.0, 1.0])
    np.testing.assert_allclose(_arr(received[1]), [2.0, 2.0])


def test_hook_returning_none_leaves_gradient_unchanged(x64):
    x = gg.tensor(x64, requires_grad=True)
    y = gg.exp(x)
    calls = []
    y.register_hook(lambda g: calls.append(1))
    x.register_hook(lambda g: None)
    y.sum().backward()
    assert calls == [1]
    np.testing.assert_allclose(_arr(x.grad), np.exp(x64), rtol=1e-12)


def test_leaf_hook_replacement_is_what_accumulates_into_grad():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.register_hook(lambda g: g * 10.0)
    (x * 1.0).sum().backward()
    np.testing.assert_allclose(_arr(x.grad), [10.0, 10.0, 10.0])
    (x * 2.0).sum().backward()  # the hook sees only the new gradient, not the sum
    np.testing.assert_allclose(_arr(x.grad), [30.0, 30.0, 30.0])


def test_non_leaf_hook_is_called_once_with_the_total_gradient(x64):
    seen_gg, seen_t = [], []

    x = gg.tensor(x64, requires_grad=True)
    y = x * 2.0
    y.register_hook(lambda g: seen_gg.append(_arr(g)))
    (y * y + y * 3.0 + gg.sin(y)).sum().backward()

    xt = _t(x64, requires_grad=True)
    yt = xt * 2.0
    yt.register_hook(lambda g: seen_t.append(g.numpy().copy()))
    (yt * yt + yt * 3.0 + torch.sin(yt)).sum().backward()

    assert len(seen_gg) == 1 == len(seen_t)
    np.testing.assert_allclose(seen_gg[0], seen_t[0], rtol=1e-12)
    _close(x.grad, xt.grad)


def test_hooks_run_in_registration_order_each_seeing_the_previous_result():
    seen = []
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    y.register_hook(lambda g: g * 2.0)
    y.register_hook(lambda g: (seen.append(_arr(g)), g + 1.0)[1])
    y.sum().backward()
    np.testing.assert_allclose(seen[0], [2.0, 2.0])
    np.testing.assert_allclose(_arr(x.grad), [3.0, 3.0])


def test_removed_hook_is_not_called():
    calls = []
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: (calls.append(1), g * 100.0)[1])
    (x * x).sum().backward()
    assert calls == [1]
    np.testing.assert_allclose(_arr(x.grad), [200.0, 400.0])
    handle.remove()
    x.grad = None
    (x * x).sum().backward()
    assert calls == [1]
    np.testing.assert_allclose(_arr(x.grad), [2.0, 4.0])


def test_removed_non_leaf_hook_is_not_called():
    calls = []
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    h = y.register_hook(lambda g: (calls.append(1), g * 0.0)[1])
    h.remove()
    y.sum().backward()
    assert calls == []
    np.testing.assert_allclose(_arr(x.grad), [3.0, 3.0])


# --------------------------------------------------------------------------------------
# Grad mode
# --------------------------------------------------------------------------------------


def test_no_grad_context_builds_no_graph():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    assert gg.is_grad_enabled()
    with gg.no_grad():
        assert not gg.is_grad_enabled()
        y = x * 2.0 + gg.exp(x)
    assert gg.is_grad_enabled()
    assert not y.requires_grad
    assert y.grad_fn is None
    assert y.is_leaf


def test_grad_mode_contexts_nest_and_restore():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    with gg.no_grad():
        assert not gg.is_grad_enabled()
        with gg.enable_grad():
            assert gg.is_grad_enabled()
            y = x * 2.0
            assert y.requires_grad and y.grad_fn is not None
            with gg.no_grad():
                assert not gg.is_grad_enabled()
                assert not (x * 2.0).requires_grad
            assert gg.is_grad_enabled()
        assert not gg.is_grad_enabled()
        with gg.no_grad():
            assert not gg.is_grad_enabled()
        assert not gg.is_grad_enabled()
    assert gg.is_grad_enabled()
    y.sum().backward()
    np.testing.assert_allclose(_arr(x.grad), [2.0, 2.0])


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(KeyError):
        with gg.no_grad():
            raise KeyError("boom")
    assert gg.is_grad_enabled()
    with gg.no_grad():
        with pytest.raises(KeyError):
            with gg.enable_grad():
                raise KeyError("boom")
        assert not gg.is_grad_enabled()
    assert gg.is_grad_enabled()


def test_no_grad_as_decorator():
    x = gg.tensor([1.0, 2.0], requires_grad=True)

    @gg.no_grad()
    def f(t):
        """doc"""
        assert not gg.is_grad_enabled()
        return t * 2.0

    y = f(x)
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_allclose(_arr(y), [2.0, 4.0])
    assert gg.is_grad_enabled()
    assert f.__name__ == "f"


def test_no_grad_as_bare_decorator_like_torch():
    # torch >= 2.0 accepts @torch.no_grad without parentheses.
    x = gg.tensor([1.0, 2.0], requires_grad=True)

    @gg.no_grad
    def f(t):
        return t * 2.0

    y = f(x)
    assert not y.requires_grad
    np.testing.assert_allclose(_arr(y), [2.0, 4.0])
    assert gg.is_grad_enabled()


def test_enable_grad_as_decorator_inside_no_grad():
    x = gg.tensor([1.0, 2.0], requires_grad=True)

    @gg.enable_grad()
    def f(t):
        assert gg.is_grad_enabled()
        return t * t

    with gg.no_grad():
        y = f(x)
        assert not gg.is_grad_enabled()
    assert y.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(_arr(x.grad), [2.0, 4.0])


def test_decorated_function_restores_mode_on_exception():
    @gg.no_grad()
    def f():
        raise ValueError("x")

    with pytest.raises(ValueError):
        f()
    assert gg.is_grad_enabled()


def test_tensor_created_under_no_grad_can_require_grad():
    with gg.no_grad():
        w = gg.tensor([1.0, 2.0], requires_grad=True)
    assert w.requires_grad and w.is_leaf
    (w * w).sum().backward()
    np.testing.assert_allclose(_arr(w.grad), [2.0, 4.0])


# --------------------------------------------------------------------------------------
# detach, requires_grad_
# --------------------------------------------------------------------------------------


def test_detach_cuts_the_graph_and_shares_values(x64):
    x = gg.tensor(x64, requires_grad=True)
    y = x * 2.0
    d = y.detach()
    assert not d.requires_grad
    assert d.grad_fn is None
    assert d.is_leaf
    np.testing.assert_array_equal(_arr(d), _arr(y))
    assert np.shares_memory(d.data, y.data)


def test_gradient_does_not_flow_through_detach(x64):
    x = gg.tensor(x64, requires_grad=True)
    (x * x.detach()).sum().backward()
    xt = _t(x64, requires_grad=True)
    (xt * xt.detach()).sum().backward()
    _close(x.grad, xt.grad)
    np.testing.assert_allclose(_arr(x.grad), x64)


def test_requires_grad_underscore_sets_flag_and_returns_self():
    x = gg.tensor([1.0, 2.0])
    assert not x.requires_grad
    r = x.requires_grad_()
    assert r is x
    assert x.requires_grad and x.is_leaf
    (x * x).sum().backward()
    np.testing.assert_allclose(_arr(x.grad), [2.0, 4.0])
    assert x.requires_grad_(False) is x
    assert not x.requires_grad
    assert not (x * x).requires_grad


# --------------------------------------------------------------------------------------
# retain_graph
# --------------------------------------------------------------------------------------


def test_retain_graph_allows_a_second_backward_and_grads_double(x64):
    x = gg.tensor(x64, requires_grad=True)
    loss = (gg.exp(x) * x).sum()
    loss.backward(retain_graph=True)
    first = _arr(x.grad)
    loss.backward()
    np.testing.assert_allclose(_arr(x.grad), 2 * first, rtol=1e-12)

    xt = _t(x64, requires_grad=True)
    lt = (torch.exp(xt) * xt).sum()
    lt.backward(retain_graph=True)
    lt.backward()
    _close(x.grad, xt.grad)


SAVING_OPS = {
    "mul": (lambda x: x * x, lambda x: x * x),
    "exp": (gg.exp, torch.exp),
    "tanh": (gg.tanh, torch.tanh),
    "sigmoid": (gg.sigmoid, torch.sigmoid),
    "sqrt": (gg.sqrt, torch.sqrt),
    "relu": (gg.relu, torch.relu),
    "log": (gg.log, torch.log),
    "sin": (gg.sin, torch.sin),
    "pow": (lambda x: x**3, lambda x: x**3),
    "div": (lambda x: 1.0 / x, lambda x: 1.0 / x),
    "tanh-matmul": (lambda x: gg.tanh(x) @ x.T, lambda x: torch.tanh(x) @ x.T),
}


@pytest.mark.parametrize("name", list(SAVING_OPS))
def test_second_backward_without_retain_graph_raises(name):
    # Every op here saves a value for backward in torch too (torch is asked first).
    f_gg, f_t = SAVING_OPS[name]
    a = np.random.default_rng(0).uniform(0.5, 2.0, size=(3, 4))
    xt = _t(a, requires_grad=True)
    lt = f_t(xt).sum()
    lt.backward()
    with pytest.raises(RuntimeError):
        lt.backward()

    x = gg.tensor(a, requires_grad=True)
    loss = f_gg(x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        loss.backward()


def test_second_backward_after_retained_one_then_freed_raises(x64):
    x = gg.tensor(x64, requires_grad=True)
    loss = (gg.sin(x) * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()  # this one frees
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        loss.backward()


def test_backward_through_shared_subgraph_after_freeing_raises(x64):
    x = gg.tensor(x64, requires_grad=True)
    y = gg.exp(x)
    (y * 2.0).sum().backward()
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        (y * 3.0).sum().backward()


# --------------------------------------------------------------------------------------
# backward(gradient=...) and non-scalar outputs
# --------------------------------------------------------------------------------------


def test_backward_with_gradient_for_non_scalar_output(x64):
    rng = np.random.default_rng(7)
    v = rng.normal(size=(3, 4))
    x = gg.tensor(x64, requires_grad=True)
    y = gg.sin(x) * x
    y.backward(gradient=gg.tensor(v))

    xt = _t(x64, requires_grad=True)
    (torch.sin(xt) * xt).backward(gradient=_t(v))
    _close(x.grad, xt.grad)


def test_backward_on_non_scalar_without_gradient_raises():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"gradient"):
        y.backward()


def test_backward_on_single_element_non_0d_output_is_allowed():
    # torch accepts implicit gradients for any one-element output.
    x = gg.tensor([3.0], requires_grad=True)
    (x * x).backward()
    np.testing.assert_allclose(_arr(x.grad), [6.0])


def test_backward_gradient_with_wrong_shape_raises():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2.0
    with pytest.raises((RuntimeError, ValueError)):
        y.backward(gradient=gg.tensor([1.0, 1.0]))


# --------------------------------------------------------------------------------------
# create_graph and higher order
# --------------------------------------------------------------------------------------


def _nth_derivatives_gg(fn, x0, order):
    x = gg.tensor(x0, requires_grad=True)
    g = fn(x)
    out = []
    for _ in range(order):
        (g,) = gg.autograd.grad(g.sum(), x, create_graph=True)
        assert g.requires_grad
        out.append(_arr(g))
    return out


def _nth_derivatives_torch(fn, x0, order):
    x = _t(x0, requires_grad=True)
    g = fn(x)
    out = []
    for _ in range(order):
        (g,) = torch.autograd.grad(g.sum(), x, create_graph=True)
        out.append(g.detach().numpy().copy())
    return out


HIGHER_ORDER_CASES = {
    "x**4": (lambda x: x**4, lambda x: x**4, 3),
    "sin": (gg.sin, torch.sin, 5),
    "exp(sin(x))*x**2": (
        lambda x: gg.exp(gg.sin(x)) * x**2,
        lambda x: torch.exp(torch.sin(x)) * x**2,
        4,
    ),
    "tanh": (gg.tanh, torch.tanh, 3),
    "x/(1+x*x)": (lambda x: x / (1.0 + x * x), lambda x: x / (1.0 + x * x), 3),
}


@pytest.mark.parametrize("name", list(HIGHER_ORDER_CASES))
def test_higher_order_derivatives_match_torch(name):
    f_gg, f_t, order = HIGHER_ORDER_CASES[name]
    x0 = np.array([-1.3, -0.4, 0.5, 0.9, 2.0])
    got = _nth_derivatives_gg(f_gg, x0, order)
    want = _nth_derivatives_torch(f_t, x0, order)
    for k, (a, b) in enumerate(zip(got, want), start=1):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10, err_msg=f"order {k}")


def test_third_derivative_of_x4_is_24x():
    x0 = np.array([0.5, -1.25, 2.0])
    third = _nth_derivatives_gg(lambda x: x**4, x0, 3)[-1]
    np.testing.assert_allclose(third, 24 * x0, rtol=1e-12)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_backward_create_graph_makes_grad_differentiable():
    x0 = np.array([0.3, -0.7, 1.1])
    x = gg.tensor(x0, requires_grad=True)
    (gg.sin(x) * x).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.grad_fn is not None
    x.grad = None
    (g * g).sum().backward()

    xt = _t(x0, requires_grad=True)
    (torch.sin(xt) * xt).sum().backward(create_graph=True)
    gt = xt.grad
    xt.grad = None
    (gt * gt).sum().backward()
    _close(x.grad, xt.grad, rtol=1e-10)


def test_hessian_vector_product_and_mixed_partials_match_torch():
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(4, 3))
    x0 = rng.normal(size=(3,))
    v0 = rng.normal(size=(3,))

    w = gg.tensor(w0, requires_grad=True)
    x = gg.tensor(x0, requires_grad=True)
    loss = (gg.tanh(w @ x) ** 2).sum()
    gx, gw = gg.autograd.grad(loss, [x, w], create_graph=True)
    hv_x, hv_w = gg.autograd.grad((gx * gg.tensor(v0)).sum(), [x, w])

    wt = _t(w0, requires_grad=True)
    xt = _t(x0, requires_grad=True)
    lt = (torch.tanh(wt @ xt) ** 2).sum()
    gxt, gwt = torch.autograd.grad(lt, [xt, wt], create_graph=True)
    hvt_x, hvt_w = torch.autograd.grad((gxt * _t(v0)).sum(), [xt, wt])

    _close(gx, gxt, rtol=1e-10)
    _close(gw, gwt, rtol=1e-10)
    _close(hv_x, hvt_x, rtol=1e-10)
    _close(hv_w, hvt_w, rtol=1e-10)


def test_second_derivative_of_product_of_two_inputs():
    x = gg.tensor(1.5, dtype=np.float64, requires_grad=True)
    y = gg.tensor(-0.5, dtype=np.float64, requires_grad=True)
    f = x**2 * y**3
    (dfdx,) = gg.autograd.grad(f, x, create_graph=True)
    (d2fdxdy,) = gg.autograd.grad(dfdx, y)
    np.testing.assert_allclose(d2fdxdy.item(), 6 * 1.5 * 0.25, rtol=1e-12)


# --------------------------------------------------------------------------------------
# gg.autograd.grad
# --------------------------------------------------------------------------------------


def test_autograd_grad_returns_tuple_and_does_not_touch_grad(x64):
    x = gg.tensor(x64, requires_grad=True)
    y = gg.tensor(x64 * 0.5 + 1.0, requires_grad=True)
    loss = (gg.sin(x) * y).sum()
    res = gg.autograd.grad(loss, [x, y])
    assert isinstance(res, tuple) and len(res) == 2
    assert all(isinstance(r, gg.Tensor) for r in res)
    assert x.grad is None and y.grad is None

    xt = _t(x64, requires_grad=True)
    yt = _t(x64 * 0.5 + 1.0, requires_grad=True)
    rt = torch.autograd.grad((torch.sin(xt) * yt).sum(), [xt, yt])
    _close(res[0], rt[0])
    _close(res[1], rt[1])


def test_autograd_grad_single_input_gives_one_tuple():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    res = gg.autograd.grad((x * x).sum(), x)
    assert isinstance(res, tuple) and len(res) == 1
    np.testing.assert_allclose(_arr(res[0]), [2.0, 4.0])


def test_autograd_grad_leaves_existing_grad_unchanged():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    gg.autograd.grad((x * x).sum(), [x])
    np.testing.assert_allclose(_arr(x.grad), [3.0, 3.0])


def test_autograd_grad_unused_input_raises_unless_allowed():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    z = gg.tensor([5.0, 6.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        gg.autograd.grad((x * x).sum(), [x, z])
    gx, gz = gg.autograd.grad((x * x).sum(), [x, z], allow_unused=True)
    np.testing.assert_allclose(_arr(gx), [2.0, 4.0])
    assert gz is None


def test_autograd_grad_with_grad_outputs_and_multiple_outputs(x64):
    rng = np.random.default_rng(11)
    v1 = rng.normal(size=(3, 4))
    v2 = rng.normal(size=(4,))
    x = gg.tensor(x64, requires_grad=True)
    y1 = gg.exp(x) * x
    y2 = gg.sin(x).sum(axis=0)
    (gx,) = gg.autograd.grad([y1, y2], [x], grad_outputs=[gg.tensor(v1), gg.tensor(v2)])

    xt = _t(x64, requires_grad=True)
    (gxt,) = torch.autograd.grad(
        [torch.exp(xt) * xt, torch.sin(xt).sum(dim=0)], [xt], grad_outputs=[_t(v1), _t(v2)]
    )
    _close(gx, gxt)


def test_autograd_grad_with_respect_to_non_leaf(x64):
    x = gg.tensor(x64, requires_grad=True)
    y = x * 2.0
    (gy,) = gg.autograd.grad((y**2).sum(), y)
    np.testing.assert_allclose(_arr(gy), 4 * x64, rtol=1e-12)


def test_autograd_grad_second_call_needs_retain_graph(x64):
    x = gg.tensor(x64, requires_grad=True)
    loss = (gg.exp(x) * x).sum()
    a = gg.autograd.grad(loss, x, retain_graph=True)[0]
    b = gg.autograd.grad(loss, x)[0]
    np.testing.assert_allclose(_arr(a), _arr(b))
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        gg.autograd.grad(loss, x)


def test_autograd_grad_retain_graph_defaults_to_create_graph(x64):
    x = gg.tensor(x64, requires_grad=True)
    loss = (gg.exp(x) * x).sum()
    a = gg.autograd.grad(loss, x, create_graph=True)[0]
    b = gg.autograd.grad(loss, x, create_graph=True)[0]  # graph was retained
    np.testing.assert_allclose(_arr(a), _arr(b))


def test_autograd_grad_without_create_graph_gives_constants(x64):
    x = gg.tensor(x64, requires_grad=True)
    (g,) = gg.autograd.grad((x**3).sum(), x)
    assert not g.requires_grad and g.grad_fn is None


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


# --------------------------------------------------------------------------------------
# Scenarios written once and run in both libraries (torch is the oracle)
# --------------------------------------------------------------------------------------


def _np(t):
    if t is None:
        return None
    if isinstance(t, torch.Tensor):
        return t.detach().numpy().copy()
    return _arr(t)


def _scn_retain_grad_accumulates(lib):
    x = lib.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 3.0
    y.retain_grad()
    loss = (y * y).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    return [y.grad, x.grad]


def _scn_retain_grad_sees_hooked_gradient(lib):
    x = lib.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 3.0
    y.retain_grad()
    y.register_hook(lambda g: g * 10.0)
    z = x * 2.0
    z.register_hook(lambda g: g * 10.0)
    z.retain_grad()
    (y * 1.0 + z * 2.0).sum().backward()
    return [y.grad, z.grad, x.grad]


def _scn_hooks_apply_in_autograd_grad(lib):
    x = lib.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 1.0
    y.register_hook(lambda g: g * 10.0)
    (gx,) = lib.autograd.grad((y * y).sum(), x)
    return [gx, x.grad]


def _scn_hook_under_create_graph(lib):
    x = lib.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * x
    y.register_hook(lambda g: g * y)  # the hook's result depends on x
    (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
    (h,) = lib.autograd.grad(g.sum(), x)
    return [g, h]


def _scn_accumulate_then_create_graph(lib):
    x = lib.tensor(np.array([1.0, -2.0]), requires_grad=True)
    (x * 2.0).sum().backward()
    (x * x * x).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    (h,) = lib.autograd.grad(g.sum(), x)
    return [g, h]


def _scn_detach_then_requires_grad(lib):
    x = lib.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * 2.0).detach()
    y.requires_grad_()
    (y * y).sum().backward()
    return [x.grad, y.grad]


def _scn_grad_of_intermediate_and_leaf(lib):
    x = lib.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    h = lib.tanh(x) * x
    out = (lib.exp(h) + h * h).sum()
    return list(lib.autograd.grad(out, [h, x]))


def _scn_no_grad_constant_in_graph(lib):
    x = lib.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    with lib.no_grad():
        c = lib.exp(x)
    (c * x * x).sum().backward()
    return [x.grad]


def _scn_leaf_hook_with_retain_graph(lib):
    x = lib.tensor(np.array([1.0, 2.0]), requires_grad=True)
    calls = []
    x.register_hook(lambda g: (calls.append(1), g * 2.0)[1])
    loss = lib.sin(x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    assert len(calls) == 2
    return [x.grad]


def _scn_backward_with_gradient_on_intermediate(lib):
    x = lib.tensor(np.array([[0.5, -1.0], [2.0, 0.25]]), requires_grad=True)
    y = lib.sin(x) * x
    y.backward(lib.tensor(np.array([[1.0, 2.0], [3.0, 4.0]])))
    return [x.grad]


def _scn_seed_gradient_is_not_mutated_by_accumulation(lib):
    x = lib.tensor(np.array([1.0, 2.0]), requires_grad=True)
    v = lib.tensor(np.array([1.0, 1.0]))
    (x + 1.0).backward(v)
    (x + 1.0).backward(v)
    return [v, x.grad]


def _scn_hook_result_is_not_mutated_by_accumulation(lib):
    x = lib.tensor(np.array([1.0, 2.0]), requires_grad=True)
    keep = lib.tensor(np.array([5.0, 5.0]))
    x.register_hook(lambda g: keep)
    (x * 1.0).sum().backward()
    (x * 1.0).sum().backward()
    return [keep, x.grad]


def _scn_backward_on_a_leaf(lib):
    x = lib.tensor(np.array([1.0, 2.0]), requires_grad=True)
    x.backward(lib.tensor(np.array([3.0, 4.0])))
    s = lib.tensor(np.array(3.0), requires_grad=True)
    s.backward()
    return [x.grad, s.grad]


SCENARIOS = [
    _scn_seed_gradient_is_not_mutated_by_accumulation,
    _scn_hook_result_is_not_mutated_by_accumulation,
    _scn_backward_on_a_leaf,
    _scn_retain_grad_accumulates,
    _scn_retain_grad_sees_hooked_gradient,
    _scn_hooks_apply_in_autograd_grad,
    _scn_hook_under_create_graph,
    _scn_accumulate_then_create_graph,
    _scn_detach_then_requires_grad,
    _scn_grad_of_intermediate_and_leaf,
    _scn_no_grad_constant_in_graph,
    _scn_leaf_hook_with_retain_graph,
    _scn_backward_with_gradient_on_intermediate,
]


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f.__name__[5:] for f in SCENARIOS])
def test_scenario_matches_torch(scenario):
    got = scenario(gg)
    want = scenario(torch)
    assert len(got) == len(want)
    for k, (a, b) in enumerate(zip(got, want)):
        if b is None:
            assert a is None, f"result {k}: torch gives None"
            continue
        assert a is not None, f"result {k}: torch gives {b}"
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-12, atol=1e-14, err_msg=f"result {k}")


def test_hook_and_retain_grad_on_tensor_not_requiring_grad_raise():
    c = gg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError):
        c.register_hook(lambda g: g)
    with pytest.raises(RuntimeError):
        c.retain_grad()


def test_autograd_grad_wrt_tensor_not_requiring_grad_raises():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    c = gg.tensor([3.0, 4.0])
    with pytest.raises(RuntimeError):
        gg.autograd.grad((x * c).sum(), [c])
    with pytest.raises(RuntimeError):
        gg.autograd.grad((c * c).sum(), [c])
