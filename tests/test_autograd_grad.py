"""gg.autograd.grad: its return value, inputs, grad_outputs, retain_graph and
create_graph defaults, against PyTorch.

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


def test_autograd_grad_wrt_tensor_not_requiring_grad_raises():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    c = gg.tensor([3.0, 4.0])
    with pytest.raises(RuntimeError):
        gg.autograd.grad((x * c).sum(), [c])
    with pytest.raises(RuntimeError):
        gg.autograd.grad((c * c).sum(), [c])
