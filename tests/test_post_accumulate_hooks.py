"""``Tensor.register_post_accumulate_grad_hook``: a leaf's hook runs as soon as its
``.grad`` is final, during the backward pass (what DDP overlaps its all-reduce with).

Checked against PyTorch's hook of the same name (the gradient each hook sees) and
against the engine's own timeline: the last layer's hook fires before the backward has
reached the first layer.
"""

import numpy as np
import pytest
import torch

import glassgrad as gg


def _mlp(lib, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    arrays = [rng.standard_normal(s) for s in ((4, 5), (5,), (5, 3), (3,))]
    if lib == "gg":
        return [gg.tensor(a, requires_grad=True) for a in arrays]
    return [torch.tensor(a, requires_grad=True) for a in arrays]


def _loss(params, x, lib):
    W1, b1, W2, b2 = params
    tanh = gg.tanh if lib == "gg" else torch.tanh
    h = tanh(x @ W1 + b1)
    return ((h @ W2 + b2) ** 2).sum() + (W1 * W1).sum()  # W1 used twice


def test_each_hook_sees_the_final_gradient_as_torch_does():
    x = np.random.default_rng(1).standard_normal((6, 4))
    seen = {}
    params = _mlp("gg")
    for i, p in enumerate(params):
        p.register_post_accumulate_grad_hook(
            lambda t, i=i: seen.setdefault(i, t.grad.numpy().copy()))
    _loss(params, gg.tensor(x), "gg").backward()
    ref = {}
    tparams = _mlp("torch")

    def keep(i):
        def hook(t):  # torch wants None back
            ref.setdefault(i, t.grad.detach().numpy().copy())
        return hook

    for i, p in enumerate(tparams):
        p.register_post_accumulate_grad_hook(keep(i))
    _loss(tparams, torch.tensor(x), "torch").backward()
    assert sorted(seen) == sorted(ref) == [0, 1, 2, 3]
    for i in ref:
        np.testing.assert_allclose(seen[i], ref[i], rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(seen[i], params[i].grad.numpy())


def test_the_last_layers_hook_fires_before_backward_reaches_the_first_layer():
    x = gg.tensor(np.random.default_rng(1).standard_normal((6, 4)))
    W1, b1, W2, b2 = _mlp("gg")
    timeline = []
    for name, p in (("W1", W1), ("W2", W2), ("b2", b2)):
        p.register_post_accumulate_grad_hook(lambda t, name=name: timeline.append(name))
    pre = x @ W1 + b1
    pre.register_hook(lambda g: timeline.append("backward reached layer 1"))
    ((gg.tanh(pre) @ W2 + b2) ** 2).sum().backward()
    at = timeline.index("backward reached layer 1")
    assert {"W2", "b2"} <= set(timeline[:at])
    assert "W1" in timeline[at:]


def test_tensor_hooks_run_first_and_accumulation_adds_up():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_hook(lambda g: g * 10)
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    (w * w).sum().backward()
    (w * w).sum().backward()
    np.testing.assert_array_equal(seen[0], [20.0, 40.0])
    np.testing.assert_array_equal(seen[1], [40.0, 80.0])


def test_removed_hook_and_autograd_grad_do_not_fire():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    handle = w.register_post_accumulate_grad_hook(lambda t: calls.append(1))
    gg.autograd.grad((w * w).sum(), w)  # .grad untouched: nothing accumulates
    assert calls == []
    handle.remove()
    (w * w).sum().backward()
    assert calls == []


def test_only_leaves_that_require_grad():
    w = gg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="only a leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="only a leaf"):
        gg.tensor([1.0]).register_post_accumulate_grad_hook(lambda t: None)


def test_a_compiled_step_runs_the_hooks_too():
    """gg.compile adds into .grad through the same accumulate_grad, so a DDP-wrapped
    model trained with a compiled step still reduces its gradients."""
    w = gg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    step = gg.compile(lambda: (gg.tanh(w) ** 2).sum())
    step()
    want = 2 * np.tanh(w.numpy()) * (1 - np.tanh(w.numpy()) ** 2)
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], want, rtol=1e-12)
