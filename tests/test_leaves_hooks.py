"""Leaves, non-leaves, grad_fn and gradient accumulation; tensor hooks (leaf and
non-leaf), against PyTorch.

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


def test_hook_and_retain_grad_on_tensor_not_requiring_grad_raise():
    c = gg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError):
        c.register_hook(lambda g: g)
    with pytest.raises(RuntimeError):
        c.retain_grad()
