"""create_graph and higher-order derivatives (nth derivatives, Hessian-vector
products, mixed partials), against PyTorch.

Part of the PyTorch autograd-semantics suite (split by topic; shared helpers in
``_autograd_helpers.py``). Where PyTorch has the same concept, torch is the oracle.
"""

import numpy as np
import pytest
import torch
from _autograd_helpers import _arr, _close, _t

import glassgrad as gg

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
