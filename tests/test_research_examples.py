"""The "modifying gradient flow" examples (issue 10, part 5): their gradients and their
learning hold up, in fast mode.

Reversible stack, synthetic gradients, gradient reversal, straight-through estimator.
The custom Functions are also run against the same Functions written for PyTorch
(``_run_both``), so their gradients match the oracle's.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import glassgrad as gg

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str):
    """Import examples/<name>.py as a module (examples/ is not a package)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"research_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rev = load("reversible_block")
sg = load("synthetic_gradients")
grl = load("gradient_reversal")
ste = load("straight_through")


# --- the same Functions in PyTorch, for the scenarios --------------------------------

class _TorchGradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return -ctx.lam * g, None


class _TorchSignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, clip):
        ctx.clip = clip
        ctx.save_for_backward(x)
        return torch.sign(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (g * (x.abs() <= 1) if ctx.clip else g), None


def _fns(lib):
    if lib is gg:
        return grl.GradReverse.apply, ste.SignSTE.apply
    return _TorchGradReverse.apply, _TorchSignSTE.apply


_X = np.array([[-2.0, -1.0, -0.4, 0.0], [0.3, 1.0, 1.7, -0.9]])
_W = np.array([[0.5, -1.5], [2.0, 0.1], [-0.7, 0.3], [1.1, 0.9]])


def _scn_gradient_reversal(lib):
    reverse, _ = _fns(lib)
    x = lib.tensor(_X, requires_grad=True)
    y = (reverse(x.tanh(), 0.3) @ lib.tensor(_W)).sin()
    y.sum().backward()
    return y, x.grad


def _scn_sign_ste(lib):
    _, sign = _fns(lib)
    outs = []
    for clip in (False, True):
        x = lib.tensor(_X, requires_grad=True)
        y = sign(x * 1.5, clip) @ lib.tensor(_W)
        (y * y).sum().backward()
        outs += [y, x.grad]
    return tuple(outs)


def _run_both(scn):
    got, want = scn(gg), scn(torch)
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.dtype(str(w.dtype).replace("torch.", ""))
        np.testing.assert_allclose(g.numpy(), w.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("scn", [_scn_gradient_reversal, _scn_sign_ste])
def test_custom_functions_match_torch(scn):
    _run_both(scn)


# --- reversible stack -----------------------------------------------------------------

def test_reversible_gradients_equal_the_plain_stack():
    assert rev.gradient_difference(n_blocks=5, seed=3) < 1e-10


def test_reversible_stack_values_and_autograd_grad():
    blocks = rev.make_blocks(3, 4, 8, seed=1)
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    x1, x2 = gg.tensor(a, requires_grad=True), gg.tensor(b, requires_grad=True)
    y_rev = rev.reversible_stack(x1, x2, blocks)
    y_plain = rev.plain_stack(x1, x2, blocks)
    for u, v in zip(y_rev, y_plain):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=0, atol=0)
    w = blocks[0][0][0].weight
    (g_rev,) = gg.autograd.grad(rev._loss(*y_rev), [w])
    (g_plain,) = gg.autograd.grad(rev._loss(*y_plain), [w])
    np.testing.assert_allclose(g_rev.numpy(), g_plain.numpy(), atol=1e-12)


def test_reversible_stack_passes_gradcheck():
    blocks = rev.make_blocks(2, 2, 3, seed=2)
    rng = np.random.default_rng(2)
    x1 = gg.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    x2 = gg.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    assert gg.autograd.gradcheck(lambda a, b: rev.reversible_stack(a, b, blocks), (x1, x2))


def test_reversible_peak_memory_is_lower(capsys):
    out = rev.main(["--fast"])
    assert out["max_grad_diff"] < 1e-10
    assert out["reversible_peak"] < 0.8 * out["plain_peak"]
    assert "reversible" in capsys.readouterr().out


# --- synthetic gradients --------------------------------------------------------------

def test_synthetic_gradients_learn_and_predict_the_gradient(capsys):
    r = sg.main(["--fast"])
    first, last = np.mean(r["losses"][:10]), np.mean(r["losses"][-10:])
    assert last < 0.6 * first
    assert r["heldout_accuracy"] > 0.6  # chance is 0.25
    assert r["heldout_cosine"] > 0.5
    assert r["per_sample_cosine"] > 0.5
    assert "cosine" in capsys.readouterr().out


# --- gradient reversal ----------------------------------------------------------------

@pytest.mark.parametrize("lam", [0.0, 0.7, 1.0, 3.0])
def test_reversal_is_exactly_minus_lambda(lam):
    assert grl.reversal_ratio(lam) == 0.0


def test_gradcheck_rejects_the_reversal_layer():
    x = gg.tensor(np.array([0.2, -1.0, 0.5]), requires_grad=True)
    with pytest.raises(gg.autograd.GradcheckError):
        gg.autograd.gradcheck(lambda t: grl.grad_reverse(t, 0.5), (x,))
    # lambda = -1 makes it the identity's true gradient: then gradcheck agrees
    assert gg.autograd.gradcheck(lambda t: grl.grad_reverse(t, -1.0), (x,))


def test_domain_adversarial_training_runs_and_the_label_is_learnt(capsys):
    out = grl.main(["--fast"])
    for lam in (0.0, 1.0):
        r = out[lam]
        assert r["label_acc"] > 0.9
        assert np.mean(r["label_losses"][-10:]) < 0.3 * r["label_losses"][0]
    assert "domain probe" in capsys.readouterr().out


# --- straight-through estimator -------------------------------------------------------

def test_function_and_detach_trick_agree_exactly():
    assert ste.compare_forms(seed=0) == 0.0
    assert ste.compare_forms(seed=5) == 0.0


def test_ste_gradient_values():
    x = gg.tensor(np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 1.5]), requires_grad=True)
    ste.SignSTE.apply(x, True).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 1, 1, 1, 0])
    x.grad = None
    ste.round_ste(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(6))
    np.testing.assert_array_equal(ste.round_ste(x).numpy(), np.round(x.numpy()))


def test_binary_weight_model_learns(capsys):
    out = ste.main(["--fast"])
    assert out["accuracy"] > 0.95
    assert out["losses"][-1] < 0.5 * out["losses"][0]
    assert len(np.unique(np.abs(np.round(out["weights"], 9)))) == 1  # truly binary
    assert "accuracy" in capsys.readouterr().out
