"""Autograd scenarios written once and run in both libraries (``lib`` is gg or
torch; torch is the oracle): retain_grad, hooks, create_graph, detach, no_grad.

Part of the PyTorch autograd-semantics suite (split by topic; shared helpers in
``_autograd_helpers.py``). Where PyTorch has the same concept, torch is the oracle.
"""

import numpy as np
import pytest
import torch
from _autograd_helpers import _arr

import glassgrad as gg

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
