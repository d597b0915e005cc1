"""``gg.nn.functional``: the namespace (PyTorch's names and argument names), the
composites that have no primitive of their own (linear, dropout, embedding, one_hot),
and the docstring examples.
"""

from __future__ import annotations

import doctest
import inspect
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from nn_torch_compare import check_grads, compare

import glassgrad as gg
import glassgrad.nn.functional as F
from glassgrad.nn import _activation_ops, _conv_ops, _loss_ops, _norm_ops, _pool_ops

REQUIRED = [
    "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax", "softplus",
    "elu", "dropout", "linear", "conv2d", "max_pool2d", "avg_pool2d", "batch_norm",
    "layer_norm", "embedding", "one_hot", "mse_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss",
]


@pytest.mark.parametrize("name", REQUIRED)
def test_functional_has_pytorch_names_and_argument_names(name):
    """Every function exists, and each of its parameters is one PyTorch's has too."""
    fn = getattr(F, name, None)
    assert callable(fn), f"F.{name} is missing"
    assert name in F.__all__
    ours = list(inspect.signature(fn).parameters)
    theirs = _torch_parameters(getattr(TF, name))
    assert set(ours) <= theirs, f"F.{name}: {set(ours) - theirs} are not PyTorch's names"
    assert fn.__doc__, f"F.{name} has no docstring"


def _torch_parameters(fn) -> set:
    """Parameter names of a torch.nn.functional function (builtins: from the docstring's
    first line, e.g. ``conv2d(input, weight, bias=None, ...) -> Tensor``)."""
    try:
        params = inspect.signature(fn).parameters
    except ValueError:
        params = {}
    named = {n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    if named:
        return named
    head = fn.__doc__.strip().splitlines()[0]  # a builtin, or a (*args, **kwargs) wrapper
    inside = re.search(r"\((.*)\)", head).group(1)
    return {part.split("=")[0].strip() for part in inside.split(",")}


def test_linear_matches_torch():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4)
    compare(F.linear, TF.linear, [x, w, b], grad=(0, 1, 2))
    compare(F.linear, TF.linear, [rng.standard_normal((2, 5, 3)), w], grad=(0, 1))
    check_grads(F.linear, [x[:2], w, b], grad=(0, 1, 2))
    with pytest.raises(gg.OpError, match=r"input of shape \(5, 2\).*weight of shape \(4, 3\)"):
        F.linear(gg.zeros(5, 2), gg.zeros(4, 3))


def test_dropout_statistics_scaling_and_gradient():
    gg.manual_seed(0)
    x = gg.ones(200, 500, requires_grad=True)
    out = F.dropout(x, p=0.3)
    kept = out.numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.01  # keep probability 1 - p
    np.testing.assert_allclose(out.numpy()[kept], 1 / 0.7, rtol=1e-6)  # kept ones scaled
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.7, rtol=1e-6)  # the same mask
    assert F.dropout(x, 0.3, training=False) is x
    assert np.all(F.dropout(x, 1.0).numpy() == 0)
    gg.manual_seed(1)
    a = F.dropout(gg.ones(50), 0.5).numpy()
    gg.manual_seed(1)
    np.testing.assert_array_equal(F.dropout(gg.ones(50), 0.5).numpy(), a)  # seeded
    with pytest.raises(gg.OpError, match="probability"):
        F.dropout(x, 1.5)


def test_embedding_matches_torch_including_padding_idx():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((6, 3))
    idx = np.array([[0, 2, 2], [5, 1, 0]])
    compare(lambda t: F.embedding(gg.tensor(idx), t), lambda t: TF.embedding(
        torch.tensor(idx), t), [w])
    compare(lambda t: F.embedding(gg.tensor(idx), t, padding_idx=2),
            lambda t: TF.embedding(torch.tensor(idx), t, padding_idx=2), [w])
    check_grads(lambda t: F.embedding(idx, t), [w])
    with pytest.raises(IndexError, match="6 rows"):
        F.embedding(np.array([6]), gg.tensor(w))


def test_one_hot_matches_torch():
    idx = np.array([[0, 3], [2, 1]])
    for n in (-1, 5):
        got = F.one_hot(gg.tensor(idx), n)
        want = TF.one_hot(torch.tensor(idx), n)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(gg.OpError, match=r"\[0, 3\)"):
        F.one_hot(gg.tensor([0, 3]), 3)


def test_training_a_tiny_cnn_with_functional_ops_matches_torch():
    """The layers composed: conv, batch norm, relu, pool, linear, cross-entropy."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 2, 6, 6))
    y = np.array([0, 2, 1, 2])
    params = [rng.standard_normal((3, 2, 3, 3)) * 0.3, rng.standard_normal(3) * 0.1,
              rng.standard_normal(3) + 1, rng.standard_normal(3) * 0.1,
              rng.standard_normal((3, 12)) * 0.3, rng.standard_normal(3) * 0.1]

    def net(lib, fn, cw, cb, gamma, beta, lw, lb):
        h = fn.conv2d(lib_x[lib], cw, cb, padding=1)
        h = fn.batch_norm(h, None, None, gamma, beta, training=True)
        h = fn.max_pool2d(fn.relu(h), 3)
        h = fn.avg_pool2d(h, 1).reshape(4, 12)
        return fn.cross_entropy(fn.linear(h, lw, lb), lib_y[lib])

    lib_x = {"gg": gg.tensor(x), "torch": torch.tensor(x)}
    lib_y = {"gg": gg.tensor(y), "torch": torch.tensor(y)}
    compare(lambda *p: net("gg", F, *p), lambda *p: net("torch", TF, *p), params,
            grad=tuple(range(len(params))))


def _doctest_modules():
    return [F, _activation_ops, _conv_ops, _loss_ops, _norm_ops, _pool_ops,
            gg.nn.conv, gg.nn.pooling, gg.nn.normalization, gg.nn.activation, gg.nn.loss]


@pytest.mark.parametrize("module", _doctest_modules(), ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, globs={**vars(module), "gg": gg, "F": F, "np": np}):
        runner.run(test)
    assert runner.tries > 0, f"{module.__name__} has no examples"
    assert runner.failures == 0
