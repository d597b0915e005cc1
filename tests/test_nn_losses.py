"""Every loss with every reduction against PyTorch (values, input and target gradients),
the fused cross-entropies against their composites, gradcheck/gradgradcheck, forward
mode, and stability for logits of any finite size.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from nn_torch_compare import check_grads, compare, compare_jvp

import glassgrad as gg
import glassgrad.nn.functional as F

REDUCTIONS = ["mean", "sum", "none"]
RNG = np.random.default_rng(0)
N, C = 6, 4
LOGITS = RNG.standard_normal((N, C)) * 2
LABELS = RNG.integers(0, C, N)
LABELS_IGNORED = np.where(np.arange(N) % 3 == 1, -100, LABELS)
CLASS_W = RNG.uniform(0.5, 2.0, C)
PROBS = RNG.uniform(0.02, 0.98, (N, C))
SOFT = RNG.uniform(0, 1, (N, C))
ELEM_W = RNG.uniform(0, 1, (N, C))
POS_W = RNG.uniform(0.5, 3.0, C)


# --- cross-entropy and nll ---------------------------------------------------------------------

CE_VARIANTS = {
    "plain": ({}, {}),
    "weight": ({"weight": CLASS_W}, {"weight": torch.tensor(CLASS_W)}),
    "smoothing": ({"label_smoothing": 0.2}, {"label_smoothing": 0.2}),
    "weight+smoothing": ({"weight": CLASS_W, "label_smoothing": 0.3},
                         {"weight": torch.tensor(CLASS_W), "label_smoothing": 0.3}),
}


@pytest.mark.parametrize("ignore", [False, True], ids=["all-targets", "ignore_index"])
@pytest.mark.parametrize("variant", list(CE_VARIANTS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_torch(reduction, variant, ignore):
    gkw, tkw = CE_VARIANTS[variant]
    labels = LABELS_IGNORED if ignore else LABELS
    compare(lambda z, y: F.cross_entropy(z, y, reduction=reduction, **gkw),
            lambda z, y: TF.cross_entropy(z, y, reduction=reduction, **tkw),
            [LOGITS, labels])
    gkw32 = {k: v.astype(np.float32) if k == "weight" else v for k, v in gkw.items()}
    tkw32 = {k: v.float() if k == "weight" else v for k, v in tkw.items()}
    gm = gg.nn.CrossEntropyLoss(reduction=reduction, **gkw32)
    tm = torch.nn.CrossEntropyLoss(reduction=reduction, **tkw32)
    compare(gm, tm, [LOGITS.astype(np.float32), labels])


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_and_nll_on_spatial_and_unbatched_input(reduction, name):
    gf, tf = getattr(F, name), getattr(TF, name)
    rng = np.random.default_rng(1)
    z = rng.standard_normal((2, C, 3, 5))
    y = rng.integers(0, C, (2, 3, 5))
    y[0, 1, :2] = 7  # ignore_index=7
    compare(lambda a, b: gf(a, b, ignore_index=7, reduction=reduction),
            lambda a, b: tf(a, b, ignore_index=7, reduction=reduction), [z, y])
    compare(lambda a, b: gf(a, b, reduction=reduction),
            lambda a, b: tf(a, b, reduction=reduction), [LOGITS[0], np.array(2)])
    compare(lambda a, b: gf(a, b, reduction=reduction),  # a batch of one
            lambda a, b: tf(a, b, reduction=reduction), [LOGITS[:1], LABELS[:1]])


@pytest.mark.parametrize("ignore", [False, True], ids=["all-targets", "ignore_index"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(reduction, weighted, ignore):
    labels = LABELS_IGNORED if ignore else LABELS
    gw = CLASS_W if weighted else None
    tw = torch.tensor(CLASS_W) if weighted else None
    logp = LOGITS - np.log(np.exp(LOGITS).sum(1, keepdims=True))
    compare(lambda z, y: F.nll_loss(z, y, weight=gw, reduction=reduction),
            lambda z, y: TF.nll_loss(z, y, weight=tw, reduction=reduction), [logp, labels])
    compare(gg.nn.NLLLoss(weight=gw, reduction=reduction),
            torch.nn.NLLLoss(weight=tw, reduction=reduction), [logp, labels])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_fused_matches_composite(reduction):
    """cross_entropy == nll_loss(log_softmax(z)): values and gradients."""
    for labels in (LABELS, LABELS_IGNORED):
        a, b = gg.tensor(LOGITS, requires_grad=True), gg.tensor(LOGITS, requires_grad=True)
        fused = F.cross_entropy(a, labels, weight=CLASS_W, reduction=reduction)
        comp = F.nll_loss(b - gg.logsumexp(b, axis=1, keepdims=True), labels, weight=CLASS_W,
                          reduction=reduction)
        np.testing.assert_allclose(fused.numpy(), comp.numpy(), rtol=1e-13, atol=1e-15)
        fused.sum().backward()
        comp.sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    z = gg.tensor(LOGITS, requires_grad=True)
    F.cross_entropy(z, LABELS, reduction="sum").backward()
    softmax = np.exp(LOGITS) / np.exp(LOGITS).sum(1, keepdims=True)
    np.testing.assert_allclose(z.grad.numpy(), softmax - np.eye(C)[LABELS], rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_gradcheck_second_order_and_jvp(smoothing, reduction):
    z = np.random.default_rng(2).standard_normal((3, C))
    check_grads(lambda t: F.cross_entropy(t, LABELS_IGNORED[:3], weight=CLASS_W,
                                          reduction=reduction, label_smoothing=smoothing), [z])
    compare_jvp(lambda t: F.cross_entropy(t, LABELS[:3], label_smoothing=smoothing,
                                          reduction="none"),
                lambda t: TF.cross_entropy(t, torch.tensor(LABELS[:3]),
                                           label_smoothing=smoothing, reduction="none"), [z])
    check_grads(lambda t: F.nll_loss(t, LABELS[:3], weight=CLASS_W), [z])


# --- binary cross-entropy ---------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_torch(reduction):
    compare(lambda z, y: F.binary_cross_entropy_with_logits(z, y, reduction=reduction),
            lambda z, y: TF.binary_cross_entropy_with_logits(z, y, reduction=reduction),
            [LOGITS, SOFT], grad=(0, 1))
    # weight and pos_weight (PyTorch does not differentiate those two: constants here)
    compare(lambda z, y, w, pw: F.binary_cross_entropy_with_logits(
                z, y, weight=w, reduction=reduction, pos_weight=pw),
            lambda z, y, w, pw: TF.binary_cross_entropy_with_logits(
                z, y, weight=w, reduction=reduction, pos_weight=pw),
            [LOGITS, SOFT, ELEM_W, POS_W], grad=(0, 1))
    compare(gg.nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=POS_W),
            torch.nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=torch.tensor(POS_W)),
            [LOGITS.astype(np.float32), SOFT.astype(np.float32)], grad=(0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_matches_torch(reduction):
    compare(lambda p, y: F.binary_cross_entropy(p, y, reduction=reduction),
            lambda p, y: TF.binary_cross_entropy(p, y, reduction=reduction),
            [PROBS, SOFT], grad=(0, 1))
    compare(lambda p, y, w: F.binary_cross_entropy(p, y, weight=w, reduction=reduction),
            lambda p, y, w: TF.binary_cross_entropy(p, y, weight=w, reduction=reduction),
            [PROBS, SOFT, ELEM_W], grad=(0, 1))
    compare(gg.nn.BCELoss(reduction=reduction), torch.nn.BCELoss(reduction=reduction),
            [PROBS.astype(np.float32), SOFT.astype(np.float32)], grad=(0, 1))


def test_bce_at_zero_and_one_is_clamped_like_torch():
    """log clamped at -100 and p(1-p) at 1e-12, as PyTorch: finite loss and gradient.

    (For the target's gradient PyTorch uses the unclamped logs, giving +-inf at p = 0
    or 1; glassgrad differentiates the clamped loss, giving +-100: deliberate.)
    """
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([0.0, 0.0, 1.0, 1.0, 0.3])
    compare(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
            lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"), [p, y], rtol=1e-8)
    yg = gg.tensor(y, requires_grad=True)
    F.binary_cross_entropy(gg.tensor(p), yg, reduction="sum").backward()
    np.testing.assert_allclose(yg.grad.numpy(), [100.0, -100.0, 100.0, -100.0, 0.0], atol=1e-12)


def test_bce_with_logits_fused_matches_composite():
    z, y = gg.tensor(LOGITS, requires_grad=True), gg.tensor(SOFT, requires_grad=True)
    z2, y2 = gg.tensor(LOGITS, requires_grad=True), gg.tensor(SOFT, requires_grad=True)
    fused = F.binary_cross_entropy_with_logits(z, y, reduction="sum", pos_weight=POS_W)
    log_sig, log_one_minus = gg.log(gg.sigmoid(z2)), gg.log(1 - gg.sigmoid(z2))
    comp = -(POS_W * y2 * log_sig + (1 - y2) * log_one_minus).sum()
    np.testing.assert_allclose(fused.numpy(), comp.numpy(), rtol=1e-12)
    fused.backward()
    comp.backward()
    np.testing.assert_allclose(z.grad.numpy(), z2.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(y.grad.numpy(), y2.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_binary_losses_gradcheck_second_order_and_jvp():
    z, y, pw = LOGITS[:2], SOFT[:2], POS_W
    check_grads(lambda a, b, c: F.binary_cross_entropy_with_logits(a, b, reduction="none",
                                                                   pos_weight=c),
                [z, y, pw], grad=(0, 1, 2))
    check_grads(lambda a, b: F.binary_cross_entropy(a, b), [PROBS[:2], y], grad=(0, 1))
    compare_jvp(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"),
                lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction="none"),
                [z, y], tangent_idx=(0, 1))
    compare_jvp(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
                lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"),
                [PROBS[:2], y], tangent_idx=(0, 1))


# --- mse ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_matches_torch(reduction):
    compare(lambda a, b: F.mse_loss(a, b, reduction=reduction),
            lambda a, b: TF.mse_loss(a, b, reduction=reduction), [LOGITS, SOFT], grad=(0, 1))
    compare(gg.nn.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction),
            [LOGITS.astype(np.float32), SOFT.astype(np.float32)], grad=(0, 1))
    check_grads(lambda a, b: F.mse_loss(a, b, reduction=reduction), [LOGITS[:2], SOFT[:2]],
                grad=(0, 1))


def test_mse_loss_warns_on_broadcasting_like_torch():
    with pytest.warns(UserWarning, match="broadcast"):
        out = F.mse_loss(gg.zeros(3, 1), gg.ones(3))
    assert out.shape == ()


# --- stability ------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_domain_losses_are_stable_for_huge_logits(dtype, reduction):
    """No NaN/inf and no warning for logits of size 1e4 (nor 1e30), values as PyTorch."""
    z = np.array([[1e4, -1e4, 0.0, 5e3], [-1e4, -1e4, -1e4, 1e4], [1e30, 0, -1e30, 1]],
                 dtype=dtype)
    y = np.array([1, 2, 0])
    zb = np.array([1e4, -1e4, 0.0, 3e3, -1e30, 1e30], dtype=dtype)
    yb = np.array([0.0, 1.0, 0.5, 0.0, 1.0, 0.0], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare(lambda a, b: F.cross_entropy(a, b, reduction=reduction, label_smoothing=0.1),
                lambda a, b: TF.cross_entropy(a, b, reduction=reduction, label_smoothing=0.1),
                [z, y], rtol=1e-6, atol=1e-30)
        compare(lambda a, b: F.binary_cross_entropy_with_logits(
                    a, b, reduction=reduction, pos_weight=gg.tensor(dtype(2.0))),
                lambda a, b: TF.binary_cross_entropy_with_logits(
                    a, b, reduction=reduction, pos_weight=torch.tensor(dtype(2.0))),
                [zb, yb], grad=(0, 1), rtol=1e-6, atol=1e-30)
        lsm = compare(lambda a: F.log_softmax(a, dim=1), lambda a: TF.log_softmax(a, dim=1),
                      [z], rtol=1e-6, atol=1e-30)
    assert np.all(np.isfinite(lsm.numpy()))


# --- errors and modules ---------------------------------------------------------------------------

def test_loss_errors_are_clear():
    z = gg.zeros(3, 4)
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        F.cross_entropy(z, np.array([0, 4, 1]))
    with pytest.raises(gg.OpError, match=r"target of shape \(3,\)"):
        F.cross_entropy(z, np.array([0, 1]))
    with pytest.raises(NotImplementedError, match="probability targets"):
        F.cross_entropy(z, np.zeros((3, 4)))
    with pytest.raises(gg.OpError, match="reduction"):
        F.mse_loss(z, z, reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        gg.nn.MSELoss(reduction="avg")
    with pytest.raises(gg.OpError, match="between 0 and 1"):
        F.binary_cross_entropy(gg.tensor([1.5]), gg.tensor([1.0]))
    with pytest.raises(gg.OpError, match="target shape"):
        F.binary_cross_entropy_with_logits(z, gg.zeros(3))


def test_all_ignored_mean_is_nan_like_torch():
    y = np.array([-100, -100])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = F.cross_entropy(gg.zeros(2, 3), y).item()
    want = TF.cross_entropy(torch.zeros(2, 3), torch.tensor(y)).item()
    assert np.isnan(got) and np.isnan(want)


def test_loss_module_buffers_match_torch_state_dict():
    pairs = [(gg.nn.CrossEntropyLoss(weight=CLASS_W), torch.nn.CrossEntropyLoss(
                weight=torch.tensor(CLASS_W))),
             (gg.nn.BCEWithLogitsLoss(pos_weight=POS_W), torch.nn.BCEWithLogitsLoss(
                 pos_weight=torch.tensor(POS_W))),
             (gg.nn.NLLLoss(), torch.nn.NLLLoss()), (gg.nn.MSELoss(), torch.nn.MSELoss())]
    for gm, tm in pairs:
        assert list(gm.state_dict()) == list(tm.state_dict())
