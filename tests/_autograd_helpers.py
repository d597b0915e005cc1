"""Shared helpers of the autograd-semantics tests (test_leaves_hooks.py, test_grad_mode.py,
test_retain_graph.py, test_higher_order.py, test_autograd_grad.py,
test_dtypes_creation.py, test_scenarios.py).

Not a test module (no ``test_`` prefix). The fixtures are registered under their short
names (``x64``, ``restore_default_dtype``) in every module that imports them.
"""

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


@pytest.fixture(name="restore_default_dtype")
def restore_default_dtype_fixture():
    old = gg.get_default_dtype()
    try:
        yield
    finally:
        gg.set_default_dtype(old)


@pytest.fixture(name="x64")
def x64_fixture():
    rng = np.random.default_rng(RNG_SEED)
    return rng.uniform(-1.5, 1.5, size=(3, 4))
