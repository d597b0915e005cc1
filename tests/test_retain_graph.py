"""retain_graph (a second backward, and its error when the graph was freed) and
backward(gradient=...) on non-scalar outputs, against PyTorch.

Part of the PyTorch autograd-semantics suite (split by topic; shared helpers in
``_autograd_helpers.py``). Where PyTorch has the same concept, torch is the oracle.
"""

import numpy as np
import pytest
import torch
from _autograd_helpers import (
    _arr,
    _close,
    _t,
    x64_fixture,  # noqa: F401 (fixtures)
)

import glassgrad as gg

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
