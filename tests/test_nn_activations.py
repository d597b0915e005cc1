"""Activations (modules and functional forms) against PyTorch, erf against ``math.erf``,
the fused primitives (erf, softplus, softmax, log_softmax) against their composites,
gradcheck/gradgradcheck, forward mode, and stability for huge inputs.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from nn_torch_compare import check_grads, compare, compare_jvp

import glassgrad as gg
import glassgrad.nn.functional as F
from glassgrad.nn._activation_ops import erf

# name -> (glassgrad module, torch module, glassgrad functional, torch functional)
ACTIVATIONS = {
    "relu": (gg.nn.ReLU(), torch.nn.ReLU(), F.relu, TF.relu),
    "leaky_relu": (gg.nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2),
                   lambda x: F.leaky_relu(x, negative_slope=0.2),
                   lambda x: TF.leaky_relu(x, negative_slope=0.2)),
    "sigmoid": (gg.nn.Sigmoid(), torch.nn.Sigmoid(), F.sigmoid, torch.sigmoid),
    "tanh": (gg.nn.Tanh(), torch.nn.Tanh(), F.tanh, torch.tanh),
    "gelu": (gg.nn.GELU(), torch.nn.GELU(), F.gelu, TF.gelu),
    "gelu_tanh": (gg.nn.GELU("tanh"), torch.nn.GELU("tanh"),
                  lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: TF.gelu(x, approximate="tanh")),
    "softmax": (gg.nn.Softmax(dim=1), torch.nn.Softmax(dim=1),
                lambda x: F.softmax(x, dim=0), lambda x: TF.softmax(x, dim=0)),
    "log_softmax": (gg.nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1),
                    lambda x: F.log_softmax(x, dim=1), lambda x: TF.log_softmax(x, dim=1)),
    "softplus": (gg.nn.Softplus(), torch.nn.Softplus(), F.softplus, TF.softplus),
    "softplus_beta": (gg.nn.Softplus(2.0, 3.0), torch.nn.Softplus(2.0, 3.0),
                      lambda x: F.softplus(x, beta=0.5, threshold=1.0),
                      lambda x: TF.softplus(x, beta=0.5, threshold=1.0)),
    "elu": (gg.nn.ELU(0.7), torch.nn.ELU(0.7), lambda x: F.elu(x, alpha=1.3),
            lambda x: TF.elu(x, alpha=1.3)),
}
SMOOTH = {"sigmoid", "tanh", "gelu", "gelu_tanh", "softmax", "log_softmax", "softplus"}


def _data(dtype=np.float64, seed=0):
    x = np.random.default_rng(seed).standard_normal((4, 5)) * 3
    x[0, :3] = [0.0, -0.0, 1e-3]  # the kinks, exactly
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_matches_torch(name, dtype):
    gm, tm, gf, tf = ACTIVATIONS[name]
    compare(gm, tm, [_data(dtype)])
    compare(gf, tf, [_data(dtype, seed=1)])


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_gradcheck_and_second_order(name):
    gm, _, gf, _ = ACTIVATIONS[name]
    x = np.random.default_rng(2).standard_normal((3, 4)) * 2
    x[np.abs(x) < 0.05] = 0.3  # central differences across a kink are meaningless
    check_grads(gm, [x], second_order=name in SMOOTH or name == "elu")
    check_grads(gf, [x], second_order=name in SMOOTH or name == "elu")


@pytest.mark.parametrize("name", ["gelu", "softmax", "log_softmax", "softplus_beta", "elu"])
def test_activation_jvp_matches_torch(name):
    _, _, gf, tf = ACTIVATIONS[name]
    x = np.random.default_rng(3).standard_normal((3, 4))
    compare_jvp(gf, tf, [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_stable_for_huge_inputs(name, dtype):
    """No NaN, no inf, no warning for |x| = 1e4 (nor 50, nor 0); values as PyTorch."""
    _, _, gf, tf = ACTIVATIONS[name]
    x = np.array([[-1e4, -50.0, -1.0, 0.0], [1.0, 50.0, 1e4, -1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = compare(gf, tf, [x], rtol=1e-6, atol=1e-30)
        xg = gg.tensor(x, requires_grad=True)
        gf(xg).sum().backward()
    assert np.all(np.isfinite(out.numpy())) and np.all(np.isfinite(xg.grad.numpy()))


def test_erf_is_accurate_to_about_1e_15():
    x = np.concatenate([np.linspace(-8, 8, 16001), np.logspace(-300, 1.5, 3000),
                        -np.logspace(-300, 1.5, 3000)])
    want = np.array([math.erf(v) for v in x])
    got = erf(gg.tensor(x)).numpy()
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-300)
    assert rel.max() < 2e-15, f"erf: worst relative error {rel.max():.2e} at x={x[rel.argmax()]}"
    special = erf(gg.tensor([0.0, np.inf, -np.inf, np.nan, 30.0])).numpy()
    np.testing.assert_array_equal(special[:3], [0.0, 1.0, -1.0])
    assert np.isnan(special[3]) and special[4] == 1.0
    assert erf(gg.tensor(np.float32(0.5))).dtype == np.float32


def test_erf_gradient_and_second_order():
    x = np.random.default_rng(4).standard_normal(7) * 2
    compare(erf, torch.erf, [x])
    check_grads(erf, [x])
    compare_jvp(erf, torch.erf, [x])


# the fused primitives against their composites from existing ops
COMPOSITES = {
    "softmax": (lambda x: F.softmax(x, dim=1),
                lambda x: gg.exp(x) / gg.sum(gg.exp(x), axis=1, keepdims=True)),
    "log_softmax": (lambda x: F.log_softmax(x, dim=1),
                    lambda x: x - gg.logsumexp(x, axis=1, keepdims=True)),
    "softplus": (F.softplus, lambda x: gg.log1p(gg.exp(x))),
    "gelu": (F.gelu, lambda x: x * (0.5 + 0.5 * erf(x / math.sqrt(2)))),
}


@pytest.mark.parametrize("name", list(COMPOSITES))
def test_fused_matches_composite(name):
    fused, composite = COMPOSITES[name]
    x = np.random.default_rng(5).standard_normal((3, 6)) * 2
    a, b = gg.tensor(x, requires_grad=True), gg.tensor(x, requires_grad=True)
    out, comp = fused(a), composite(b)
    np.testing.assert_allclose(out.numpy(), comp.numpy(), rtol=1e-13, atol=1e-15)
    g = np.random.default_rng(6).standard_normal(x.shape)
    out.backward(g)
    comp.backward(g)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_activation_defaults_and_errors():
    assert gg.nn.LeakyReLU().negative_slope == torch.nn.LeakyReLU().negative_slope
    assert gg.nn.ELU().alpha == 1.0 and gg.nn.Softplus().threshold == 20.0
    with pytest.raises(gg.OpError, match="approximate"):
        F.gelu(gg.zeros(2), approximate="erf")
    with pytest.raises(gg.OpError, match=r"dim 2 is out of range.*\(2, 3\)"):
        F.softmax(gg.zeros(2, 3), dim=2)
    x = gg.tensor([1.0, -2.0], requires_grad=True)
    F.relu(x, inplace=True).sum().backward()  # accepted, computed out of place
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0])
    assert repr(gg.nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
