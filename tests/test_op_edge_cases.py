"""Ops at the edges of their domain: singular points, odd shapes and arguments, all
against torch (or NumPy where torch has no such op)."""

import numpy as np
import pytest
import torch

import glassgrad as gg

# x, lo, hi: inside, below, above, at each bound, and lo > hi (hi wins) with every x
CLIP_CASES = [(0.5, 0, 1), (-1, 0, 1), (2, 0, 1), (0, 0, 1), (1, 0, 1), (0.5, 1, 0),
              (2, 1, 0), (-1, 1, 0), (1, 1, 0), (0, 1, 0), (1, 1, 1)]


def _clip_arrays():
    return [np.array([c[i] for c in CLIP_CASES], np.float64) for i in range(3)]


def test_clip_with_tensor_bounds_routes_gradients_as_torch_clamp():
    x, lo, hi = (gg.tensor(a, requires_grad=True) for a in _clip_arrays())
    out = gg.clip(x, lo, hi)
    out.sum().backward()
    xt, lot, hit = (torch.tensor(a, requires_grad=True) for a in _clip_arrays())
    ref = torch.clamp(xt, lot, hit)
    ref.sum().backward()
    np.testing.assert_array_equal(out.data, ref.detach().numpy())
    for ours, theirs in [(x, xt), (lo, lot), (hi, hit)]:
        np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())


@pytest.mark.parametrize("which", [0, 1, 2], ids=["tx", "tlo", "thi"])
def test_clip_jvp_matches_torch_func(which):
    arrays = _clip_arrays()
    tangents = [np.zeros_like(a) for a in arrays]
    tangents[which] = np.arange(1.0, len(CLIP_CASES) + 1)
    _, ours = gg.func.jvp(lambda x, lo, hi: gg.clip(x, lo, hi),
                          tuple(gg.tensor(a) for a in arrays),
                          tuple(gg.tensor(t) for t in tangents))
    _, theirs = torch.func.jvp(lambda x, lo, hi: torch.clamp(x, lo, hi),
                               tuple(torch.tensor(a) for a in arrays),
                               tuple(torch.tensor(t) for t in tangents))
    np.testing.assert_array_equal(ours.data, theirs.numpy())


@pytest.mark.parametrize("bound", ["min", "max"])
def test_clip_with_one_tensor_bound_matches_torch(bound):
    x, lo, _ = _clip_arrays()
    xg, bg = gg.tensor(x, requires_grad=True), gg.tensor(lo, requires_grad=True)
    xt, bt = torch.tensor(x, requires_grad=True), torch.tensor(lo, requires_grad=True)
    gg.clip(xg, **{bound: bg}).sum().backward()
    torch.clamp(xt, **{bound: bt}).sum().backward()
    np.testing.assert_array_equal(xg.grad.data, xt.grad.numpy())
    np.testing.assert_array_equal(bg.grad.data, bt.grad.numpy())
