"""``gg.nn.init`` by its statistics, against samples from ``torch.nn.init`` itself.

Random draws cannot match PyTorch's element for element (different generators), so each
initialiser is compared by what it promises: the mean, the spread and (uniform ones) the
bounds of a large sample, with tolerances set from the sampling error of both samples.
"""

import math

import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad.nn import init

SHAPES = [(300, 256), (64, 32, 5, 5)]  # a Linear weight and a Conv2d kernel

CASES = [
    ("uniform_", {"a": -2.0, "b": 3.0}),
    ("normal_", {"mean": 1.5, "std": 0.5}),
    ("xavier_uniform_", {}),
    ("xavier_uniform_", {"gain": 2.0}),
    ("xavier_normal_", {"gain": 0.5}),
    ("kaiming_uniform_", {}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {}),
    ("kaiming_normal_", {"a": 0.2, "mode": "fan_out"}),
    ("kaiming_normal_", {"nonlinearity": "tanh"}),
    ("kaiming_normal_", {"nonlinearity": "linear", "mode": "fan_in"}),
]


@pytest.mark.parametrize("shape", SHAPES, ids=["linear", "conv"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}{k}" for n, k in CASES])
def test_statistics_match_torch(name, kwargs, shape):
    gg.manual_seed(0)
    torch.manual_seed(0)
    t = gg.zeros(*shape)
    out = getattr(init, name)(t, **kwargs)
    assert out is t and t.dtype == np.float32
    ours = t.numpy().astype(np.float64)
    ref = getattr(torch.nn.init, name)(torch.empty(shape), **kwargs).double().numpy()
    n = ours.size
    uniform = "uniform" in name
    # relative standard error of a sample std: sqrt((kurtosis - 1) / 4n); uniform 9/5, normal 3
    kurt = 9 / 5 if uniform else 3.0
    rel_se = math.sqrt((kurt - 1) / (4 * n))
    assert abs(ours.std() / ref.std() - 1) < 6 * math.sqrt(2) * rel_se
    assert abs(ours.mean() - ref.mean()) < 6 * math.sqrt(2 / n) * ref.std()
    if uniform:  # same support: the extremes of a large sample sit at the bounds
        np.testing.assert_allclose(ours.min(), ref.min(), atol=1e-3 * ref.std())
        np.testing.assert_allclose(ours.max(), ref.max(), atol=1e-3 * ref.std())


@pytest.mark.parametrize("shape", [(5, 3), (4, 6, 2), (8, 3, 3, 3), (2, 3, 4, 5, 6)])
def test_fans_match_torch(shape):
    assert (init._calculate_fan_in_and_fan_out(gg.zeros(*shape))
            == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape)))


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0), ("selu", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12)


def test_constant_ones_zeros_in_place():
    lin = gg.nn.Linear(3, 4)
    w = lin.weight
    assert init.constant_(w, 0.25) is w and (w.numpy() == 0.25).all()
    assert init.ones_(lin.bias) is lin.bias and (lin.bias.numpy() == 1).all()
    assert init.zeros_(w) is w and not w.numpy().any()
    assert lin.weight is w and w.requires_grad and w.is_leaf
    d = gg.zeros(3, 3, dtype=np.float64)
    init.normal_(d)
    assert d.dtype == np.float64 and d.numpy().any()
    a = np.zeros((4, 4))  # plain arrays are filled too
    assert init.xavier_uniform_(a) is a and a.any()


def test_seed_makes_init_reproducible_and_no_graph_is_recorded():
    gg.manual_seed(7)
    a = init.kaiming_normal_(gg.zeros(10, 10, requires_grad=True))
    gg.manual_seed(7)
    b = init.kaiming_normal_(gg.zeros(10, 10, requires_grad=True))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.is_leaf and a.grad_fn is None


def test_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(gg.zeros(5))
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_uniform_(gg.zeros(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.kaiming_normal_(gg.zeros(3, 3), nonlinearity="swish")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "0.1")
    with pytest.raises(TypeError, match="expected a Tensor"):
        init.ones_([1.0, 2.0])
    # a weight that a live graph saved for backward cannot be overwritten
    w = gg.randn(3, 3, requires_grad=True)
    loss = (gg.randn(2, 3) @ w).sum()
    with pytest.raises(RuntimeError, match="init.normal_"):
        init.normal_(w)
    loss.backward()
    init.normal_(w)
