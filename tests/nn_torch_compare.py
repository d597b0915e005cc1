"""Helpers for the nn tests: run the same computation in glassgrad and PyTorch (the
oracle) on identical data and compare values, gradients and forward-mode tangents.

Not a test module itself (no ``test_`` prefix); imported by ``test_nn_*.py``.
"""

from __future__ import annotations

import numpy as np
import torch
from _fn_helpers import gg_const, of_inputs, torch_const

import glassgrad as gg


def to_gg(arrays, grad):
    return [gg.tensor(a, requires_grad=(i in grad)) for i, a in enumerate(arrays)]


def to_torch(arrays, grad):
    return [torch.tensor(a, requires_grad=(i in grad)) for i, a in enumerate(arrays)]


def tolerances(arrays):
    """(rtol, atol) fitting the arrays' precision: float32 inputs compare looser."""
    if any(getattr(a, "dtype", None) == np.float32 for a in arrays):
        return 2e-5, 2e-6
    return 1e-10, 1e-12


def compare(gg_fn, torch_fn, arrays, grad=(0,), seed=0, rtol=None, atol=None):
    """Forward values and the VJP (random upstream gradient) for every input in ``grad``.

    ``arrays`` are NumPy arrays (float or integer); each callable takes one tensor per
    array. Returns the glassgrad output for further checks.
    """
    d_rtol, d_atol = tolerances(arrays)
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    xs, ts = to_gg(arrays, grad), to_torch(arrays, grad)
    out, tout = gg_fn(*xs), torch_fn(*ts)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=rtol, atol=atol,
                               err_msg="forward values differ from PyTorch")
    if not grad:
        return out
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(out.shape).astype(out.dtype)
    out.backward(g)
    tout.backward(torch.tensor(g))
    for i in grad:
        assert xs[i].grad is not None, f"no gradient for input {i}"
        np.testing.assert_allclose(xs[i].grad.numpy(), ts[i].grad.numpy(), rtol=rtol,
                                   atol=atol, err_msg=f"gradient of input {i} differs")
    return out


def compare_jvp(gg_fn, torch_fn, arrays, tangent_idx=(0,), seed=1, rtol=1e-10, atol=1e-12):
    """Forward-mode tangents of ``gg.func.jvp`` against ``torch.func.jvp`` (float64)."""
    rng = np.random.default_rng(seed)
    tangents = [rng.standard_normal(np.shape(arrays[i])) for i in tangent_idx]

    gg_part = of_inputs(gg_fn, arrays, tangent_idx, gg_const)
    torch_part = of_inputs(torch_fn, arrays, tangent_idx, torch_const)
    primals = [arrays[i] for i in tangent_idx]
    _, t_gg = gg.func.jvp(gg_part, tuple(gg.tensor(p) for p in primals),
                          tuple(gg.tensor(t) for t in tangents))
    _, t_torch = torch.func.jvp(torch_part, tuple(torch.tensor(p) for p in primals),
                                tuple(torch.tensor(t) for t in tangents))
    np.testing.assert_allclose(t_gg.numpy(), t_torch.numpy(), rtol=rtol, atol=atol,
                               err_msg="JVP differs from PyTorch's forward mode")


def check_grads(fn, arrays, grad=(0,), second_order=True):
    """gradcheck (and gradgradcheck) in float64 on the inputs listed in ``grad``."""
    xs = [gg.tensor(np.asarray(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else a,
                    requires_grad=(i in grad)) for i, a in enumerate(arrays)]
    assert gg.autograd.gradcheck(fn, tuple(xs))
    if second_order:
        assert gg.autograd.gradgradcheck(fn, tuple(xs))


def copy_module_params(gg_module, torch_module):
    """Load a torch module's state dict into the glassgrad module (same keys and shapes)."""
    state = {k: gg.tensor(v.detach().numpy().copy()) for k, v in
             torch_module.state_dict().items()}
    gg_module.load_state_dict(state)
