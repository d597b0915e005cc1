"""Log-domain losses and reductions stay exact for extreme (finite) inputs, as torch's."""

import numpy as np
import pytest
import torch

import glassgrad as gg

F = gg.nn.functional
TF = torch.nn.functional
BIG = [1e3, 1e6, 1e7, 1e8, 1e16, 1e30]
DTYPES = [np.float32, np.float64]


def _both(make_gg, make_torch, *arrays):
    """Value and gradient (of the sum) of one loss in both libraries."""
    xs = [gg.tensor(a, requires_grad=True) for a in arrays]
    out = make_gg(*xs)
    out.sum().backward()
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ref = make_torch(*ts)
    ref.sum().backward()
    return (out, [x.grad.data for x in xs]), (ref.detach().numpy(),
                                              [t.grad.numpy() for t in ts])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("z", BIG)
def test_cross_entropy_of_two_large_equal_logits_is_log_2(z, dtype):
    logits = np.array([[z, z, 0.0]], dtype)
    x = gg.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, gg.tensor([0]))
    loss.backward()
    np.testing.assert_allclose(loss.item(), np.log(2), rtol=1e-6)
    np.testing.assert_allclose(x.grad.data, [[-0.5, 0.5, 0.0]], atol=1e-7)
    assert abs(float(x.grad.data.sum())) < 1e-7


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("z", BIG)
@pytest.mark.parametrize("kwargs", [
    {}, {"label_smoothing": 0.1}, {"reduction": "sum"}, {"reduction": "none"},
    {"weight": [1.0, 2.0, 0.5]}, {"ignore_index": 1},
], ids=["plain", "smoothing", "sum", "none", "weight", "ignore"])
def test_cross_entropy_matches_torch_for_large_logits(z, dtype, kwargs):
    logits = np.array([[z, z, 0.0], [0.0, -z, z / 2], [1.0, 2.0, 3.0]], dtype)
    target = np.array([0, 1, 2])
    kw_gg = dict(kwargs)
    kw_t = dict(kwargs)
    if "weight" in kwargs:
        kw_gg["weight"] = gg.tensor(np.array(kwargs["weight"], dtype))
        kw_t["weight"] = torch.tensor(np.array(kwargs["weight"], dtype))
    (out, (g,)), (ref, (gref,)) = _both(
        lambda x: F.cross_entropy(x, gg.tensor(target), **kw_gg),
        lambda x: TF.cross_entropy(x, torch.tensor(target), **kw_t), logits)
    np.testing.assert_allclose(out.data, ref, rtol=1e-6)
    np.testing.assert_allclose(g, gref, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("z", BIG)
def test_cross_entropy_second_order_matches_torch_for_large_logits(z, dtype):
    logits = np.array([[z, z, 0.0]], dtype)
    x = gg.tensor(logits, requires_grad=True)
    (g,) = gg.autograd.grad(F.cross_entropy(x, gg.tensor([0]), label_smoothing=0.1), [x],
                            create_graph=True)
    (g * g).sum().backward()
    xt = torch.tensor(logits, requires_grad=True)
    (gt,) = torch.autograd.grad(TF.cross_entropy(xt, torch.tensor([0]), label_smoothing=0.1),
                                [xt], create_graph=True)
    (gt * gt).sum().backward()
    np.testing.assert_allclose(g.data, gt.detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("z", BIG)
@pytest.mark.parametrize("name", ["log_softmax", "logsumexp", "bce_with_logits", "nll"])
def test_other_log_domain_ops_match_torch_for_large_inputs(name, z, dtype):
    a = np.array([[z, z, 0.0], [-z, 1.0, z / 2]], dtype)
    y = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.25]], dtype)
    weights = np.array([[1.0, 2.0, 3.0]], dtype)
    cases = {
        "log_softmax": (lambda x: F.log_softmax(x, 1) * gg.tensor(weights),
                        lambda x: TF.log_softmax(x, 1) * torch.tensor(weights)),
        "logsumexp": (lambda x: gg.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, 1)),
        "bce_with_logits": (
            lambda x: F.binary_cross_entropy_with_logits(
                x, gg.tensor(y), pos_weight=gg.tensor(weights[0]), reduction="none"),
            lambda x: TF.binary_cross_entropy_with_logits(
                x, torch.tensor(y), pos_weight=torch.tensor(weights[0]), reduction="none")),
        "nll": (lambda x: F.nll_loss(F.log_softmax(x, 1), gg.tensor([0, 2])),
                lambda x: TF.nll_loss(TF.log_softmax(x, 1), torch.tensor([0, 2]))),
    }
    (out, (g,)), (ref, (gref,)) = _both(*cases[name], a)
    np.testing.assert_allclose(out.data, ref, rtol=1e-6)
    np.testing.assert_allclose(g, gref, rtol=1e-6, atol=1e-7)
