"""BatchNorm1d/2d and LayerNorm (the fused ``normalize`` primitive) against PyTorch.

Train and eval outputs and gradients, running statistics after several steps (with
momentum and with momentum=None), the primitive against its composite, gradcheck and
gradgradcheck in float64, and forward mode against ``torch.func.jvp``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from nn_torch_compare import check_grads, compare, compare_jvp, copy_module_params

import glassgrad as gg
import glassgrad.nn.functional as F

BN_SHAPES = {"1d-2D": (gg.nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 4)),
             "1d-3D": (gg.nn.BatchNorm1d, torch.nn.BatchNorm1d, (5, 4, 3)),
             "2d": (gg.nn.BatchNorm2d, torch.nn.BatchNorm2d, (3, 4, 5, 2))}


def _pair_of_modules(kind, dtype=np.float64, **kw):
    gcls, tcls, shape = BN_SHAPES[kind]
    tm = tcls(shape[1], **kw).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():  # non-trivial affine parameters
        if tm.weight is not None:
            tm.weight.uniform_(0.5, 1.5)
            tm.bias.uniform_(-0.5, 0.5)
    gm = gcls(shape[1], dtype=dtype, **kw)
    copy_module_params(gm, tm)
    return gm, tm, shape


def _run_both(gm, tm, x, seed):
    xg, xt = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = gm(xg), tm(xt)
    g = np.random.default_rng(seed).standard_normal(out.shape).astype(x.dtype)
    out.backward(g)
    tout.backward(torch.tensor(g))
    return out, tout, xg, xt


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("kind", list(BN_SHAPES))
def test_batchnorm_train_steps_then_eval_match_torch(kind, momentum):
    gm, tm, shape = _pair_of_modules(kind, momentum=momentum)
    assert list(gm.state_dict()) == list(tm.state_dict())
    rng = np.random.default_rng(0)
    for step in range(4):  # several training steps: outputs, grads, running statistics
        x = rng.standard_normal(shape) * 2.0 + 1.5
        out, tout, xg, xt = _run_both(gm, tm, x, seed=step)
        np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        for (name, p), (_, tp) in zip(gm.named_parameters(), tm.named_parameters()):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10,
                                       atol=1e-12, err_msg=name)
            p.grad = None
            tp.grad = None
        for name in ("running_mean", "running_var"):
            np.testing.assert_allclose(getattr(gm, name).numpy(),
                                       getattr(tm, name).numpy(), rtol=1e-12, atol=1e-14)
        assert int(gm.num_batches_tracked.item()) == int(tm.num_batches_tracked) == step + 1
    gm.eval()
    tm.eval()
    x = rng.standard_normal(shape)
    out, tout, xg, xt = _run_both(gm, tm, x, seed=9)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (_, p), (_, tp) in zip(gm.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-12)
    # eval leaves the running statistics alone
    np.testing.assert_allclose(gm.running_mean.numpy(), tm.running_mean.numpy(), rtol=1e-12)


@pytest.mark.parametrize("options", [dict(affine=False), dict(track_running_stats=False),
                                     dict(affine=False, track_running_stats=False)],
                         ids=["no-affine", "no-running-stats", "neither"])
def test_batchnorm_options_match_torch(options):
    gm, tm, shape = _pair_of_modules("2d", **options)
    assert list(gm.state_dict()) == list(tm.state_dict())
    x = np.random.default_rng(1).standard_normal(shape)
    for train in (True, False):
        gm.train(train)
        tm.train(train)
        out, tout, xg, xt = _run_both(gm, tm, x, seed=2)
        np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_batchnorm_float32_matches_torch():
    gm, tm, shape = _pair_of_modules("2d", dtype=np.float32)
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    out, tout, xg, xt = _run_both(gm, tm, x, seed=4)
    assert out.dtype == np.float32 and xg.grad.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gm.running_var.numpy(), tm.running_var.numpy(), rtol=1e-5)


@pytest.mark.parametrize("training", [True, False])
def test_functional_batch_norm_matches_torch(training):
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((4, 3, 2, 2)), rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    compare(lambda x_, w_, b_: F.batch_norm(x_, gg.tensor(rm.copy()), gg.tensor(rv.copy()),
                                            w_, b_, training, 0.2, 1e-3),
            lambda x_, w_, b_: TF.batch_norm(x_, torch.tensor(rm), torch.tensor(rv), w_,
                                             b_, training, 0.2, 1e-3),
            [x, w, b], grad=(0, 1, 2))


def _normalize_composite(x, w, b, axes, eps):
    mean = gg.mean(x, axis=axes, keepdims=True)
    var = gg.var(x, axis=axes, keepdims=True)
    return (x - mean) / gg.sqrt(var + eps) * w + b


@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_normalize_fused_matches_composite(kind):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 3, 5))
    if kind == "batch":
        w, b = rng.standard_normal(3), rng.standard_normal(3)
        axes, wshape = (0, 2), (3, 1)

        def fused(x_, w_, b_):
            return F.batch_norm(x_, None, None, w_, b_, training=True, eps=1e-3)
    else:
        w, b = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
        axes, wshape = (1, 2), (3, 5)

        def fused(x_, w_, b_):
            return F.layer_norm(x_, (3, 5), w_, b_, eps=1e-3)
    a = [gg.tensor(v, requires_grad=True) for v in (x, w, b)]
    c = [gg.tensor(v, requires_grad=True) for v in (x, w, b)]
    out = fused(*a)
    comp = _normalize_composite(c[0], c[1].reshape(wshape), c[2].reshape(wshape), axes, 1e-3)
    np.testing.assert_allclose(out.numpy(), comp.numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    comp.backward(g)
    for p, q in zip(a, c):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-11, atol=1e-12)


def test_batch_norm_gradcheck_and_second_order():
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal((4, 2, 3)), rng.standard_normal(2), rng.standard_normal(2)]
    check_grads(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                arrays, grad=(0, 1, 2))
    check_grads(lambda x: F.batch_norm(x, None, None, training=True), arrays[:1])
    rm, rv = gg.tensor(rng.standard_normal(2)), gg.tensor(rng.uniform(0.5, 2, 2))
    check_grads(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False),
                arrays, grad=(0, 1, 2))


def test_layer_norm_gradcheck_and_second_order():
    rng = np.random.default_rng(8)
    arrays = [rng.standard_normal((3, 2, 4)), rng.standard_normal(4), rng.standard_normal(4)]
    check_grads(lambda x, w, b: F.layer_norm(x, (4,), w, b), arrays, grad=(0, 1, 2))


def test_normalize_jvp_matches_torch():
    rng = np.random.default_rng(9)
    arrays = [rng.standard_normal((4, 3, 2)), rng.standard_normal(3), rng.standard_normal(3)]
    compare_jvp(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
                arrays, tangent_idx=(0, 1, 2))
    arrays = [rng.standard_normal((4, 3, 2)), rng.standard_normal((3, 2)),
              rng.standard_normal((3, 2))]
    compare_jvp(lambda x, w, b: F.layer_norm(x, (3, 2), w, b),
                lambda x, w, b: TF.layer_norm(x, (3, 2), w, b), arrays, tangent_idx=(0, 1, 2))


@pytest.mark.parametrize("shape,normalized", [((4, 6), 6), ((2, 3, 4), (3, 4)),
                                              ((2, 5, 3), [3])])
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_module_matches_torch(shape, normalized, affine):
    tm = torch.nn.LayerNorm(normalized, elementwise_affine=affine).double()
    if affine:
        with torch.no_grad():
            tm.weight.uniform_(0.5, 1.5)
            tm.bias.uniform_(-0.5, 0.5)
    gm = gg.nn.LayerNorm(normalized, elementwise_affine=affine, dtype=np.float64)
    assert list(gm.state_dict()) == list(tm.state_dict())
    copy_module_params(gm, tm)
    x = np.random.default_rng(10).standard_normal(shape) * 3 + 2
    for train in (True, False):  # no difference between the modes
        gm.train(train)
        tm.train(train)
        out, tout, xg, xt = _run_both(gm, tm, x, seed=11)
        np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (_, p), (_, tp) in zip(gm.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_norm_errors_are_clear():
    with pytest.raises(gg.OpError, match="more than 1 value per channel"):
        gg.nn.BatchNorm1d(3)(gg.zeros(1, 3))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\).*\(N, C, H, W\).*\(2, 3\)"):
        gg.nn.BatchNorm2d(3)(gg.zeros(2, 3))
    with pytest.raises(ValueError, match="2 channels"):
        gg.nn.BatchNorm1d(3)(gg.zeros(4, 2))
    with pytest.raises(gg.OpError, match="normalized_shape"):
        gg.nn.LayerNorm(5)(gg.zeros(2, 4))


def test_batchnorm_state_dict_round_trip_and_reset():
    bn = gg.nn.BatchNorm1d(3)
    bn(gg.randn(8, 3) * 3 + 1)
    state = bn.state_dict()
    fresh = gg.nn.BatchNorm1d(3)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.running_var.numpy(), bn.running_var.numpy())
    bn.reset_running_stats()
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(3, np.float32))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(3, np.float32))
    assert int(bn.num_batches_tracked.item()) == 0
