"""Gradient clipping against ``torch.nn.utils`` on identical gradients."""

import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad.nn.utils import clip_grad_norm_, clip_grad_value_

SHAPES = [(4, 3), (3,), (2, 2, 2)]


def make_pair(scale, seed=0):
    """Parameters with the same gradients in both libraries (one without a gradient)."""
    rng = np.random.default_rng(seed)
    gs, ts = [], []
    for shape in SHAPES:
        g = (rng.standard_normal(shape) * scale).astype(np.float32)
        gp = gg.nn.Parameter(gg.zeros(*shape))
        gp.grad = g.copy()
        tp = torch.nn.Parameter(torch.zeros(shape))
        tp.grad = torch.tensor(g)
        gs.append(gp)
        ts.append(tp)
    gs.append(gg.nn.Parameter(gg.zeros(2)))  # no .grad: skipped by both
    ts.append(torch.nn.Parameter(torch.zeros(2)))
    return gs, ts


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipping, and no clipping
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    gs, ts = make_pair(scale=2.0)
    total = clip_grad_norm_(gs, max_norm, norm_type=norm_type)
    ref = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type=norm_type)
    assert isinstance(total, gg.Tensor) and total.shape == ()
    np.testing.assert_allclose(float(total), float(ref), rtol=1e-5)
    for gp, tp in zip(gs, ts):
        if tp.grad is None:
            assert gp.grad is None
            continue
        np.testing.assert_allclose(gp.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-7)
    clipped = [p.grad.numpy().ravel() for p in gs if p.grad is not None]
    new_norm = np.linalg.norm(np.concatenate(clipped), ord=norm_type)
    assert new_norm <= max_norm * (1 + 1e-5)


def test_clip_grad_norm_in_a_training_step():
    net = gg.nn.Linear(3, 2)
    (net(gg.randn(8, 3) * 100) ** 2).sum().backward()
    grads = [p.grad for p in net.parameters()]
    total = clip_grad_norm_(net.parameters(), 1.0)  # a generator, as in training loops
    assert float(total) > 1
    assert all(p.grad is g for p, g in zip(net.parameters(), grads))  # in place
    norm = np.sqrt(sum((p.grad.numpy().astype(np.float64) ** 2).sum()
                       for p in net.parameters()))
    np.testing.assert_allclose(norm, 1.0, rtol=1e-5)


def test_clip_grad_norm_single_tensor_empty_and_nonfinite():
    w = gg.tensor([3.0, 4.0], requires_grad=True)
    w.grad = np.array([3.0, 4.0], np.float32)
    assert float(clip_grad_norm_(w, 10.0)) == pytest.approx(5.0)
    assert float(clip_grad_norm_([], 1.0)) == 0.0
    w.grad = np.array([np.inf, 1.0], np.float32)
    with pytest.raises(RuntimeError, match="inf"):
        clip_grad_norm_(w, 1.0, error_if_nonfinite=True)
    tw = torch.tensor([0.0, 0.0], requires_grad=True)
    tw.grad = torch.tensor([np.inf, 1.0])
    ref = torch.nn.utils.clip_grad_norm_([tw], 1.0)
    total = clip_grad_norm_(w, 1.0)
    assert float(total) == float(ref) == np.inf
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())  # both NaN/0 alike


@pytest.mark.parametrize("clip_value", [0.1, 1.0, 100.0])
def test_clip_grad_value_matches_torch(clip_value):
    gs, ts = make_pair(scale=1.5, seed=1)
    assert clip_grad_value_(gs, clip_value) is None
    torch.nn.utils.clip_grad_value_(ts, clip_value)
    for gp, tp in zip(gs, ts):
        if tp.grad is not None:
            np.testing.assert_array_equal(gp.grad.numpy(), tp.grad.numpy())


def test_clip_when_grad_array_is_locked_by_a_graph():
    # create_graph=True makes .grad part of a graph: clipping gives a new gradient
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    (w**3).sum().backward(create_graph=True)
    clip_grad_value_([w], 1.0)
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])
    w.grad = None
    (w**3).sum().backward(create_graph=True)
    total = clip_grad_norm_([w], 1.0)
    np.testing.assert_allclose(float(total), np.hypot(3.0, 12.0), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(w.grad.numpy()), 1.0, rtol=1e-5)
