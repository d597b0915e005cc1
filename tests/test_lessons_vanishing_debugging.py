"""The lessons ``vanishing`` and ``debugging``: their claims hold, and the numbers behind
them agree with an independent computation.

Each lesson runs once (fast mode, in a temporary folder) with warnings turned into errors
and stdout/stderr captured: a lesson must not print. The checks then compare the facts
it recorded with PyTorch (gradient norms of the same networks, softmax underflow,
cross-entropy) or with a hand-written NumPy forward pass (dead ReLU units), so a lesson
that stated a wrong number would fail here even if its own claim said "ok".
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.lessons import debugging as D
from glassgrad.lessons import vanishing as V
from glassgrad.lessons._report import Context

torch = pytest.importorskip("torch")


def _run(lesson, folder):
    """Run a lesson with warnings as errors; return (section, captured output)."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        warnings.simplefilter("error")
        sec = lesson(Context(folder, fast=True, seed=0))
    return sec, out.getvalue() + err.getvalue()


@pytest.fixture(scope="module")
def van(tmp_path_factory):
    return _run(V.vanishing, tmp_path_factory.mktemp("vanishing"))


@pytest.fixture(scope="module")
def dbg(tmp_path_factory):
    return _run(D.debugging, tmp_path_factory.mktemp("debugging"))


def _check_figures(sec):
    """Every figure is a real PNG with content: > 5 kB, PNG magic, not one flat colour."""
    import matplotlib.image as mpimg

    names = sec.figures()
    assert names
    for name in names:
        path = sec.ctx.out / "figures" / name
        assert path.exists(), name
        data = path.read_bytes()
        assert len(data) > 5000, (name, len(data))
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        img = mpimg.imread(path)
        assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 400, img.shape
        assert float(img[..., :3].std()) > 0.01, f"{name} is one flat colour"


# -- torch twins of the lesson's networks -------------------------------------------------
class _TorchResidual(torch.nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        return x + self.block(x)


def _to_torch(mod):
    """A float64 torch copy of a glassgrad module tree (same weights)."""
    if isinstance(mod, gg.nn.Sequential):
        return torch.nn.Sequential(*[_to_torch(m) for m in mod])
    if isinstance(mod, gg.nn.Residual):
        return _TorchResidual(_to_torch(mod.block))
    if isinstance(mod, gg.nn.Linear):
        t = torch.nn.Linear(mod.in_features, mod.out_features, dtype=torch.float64)
    elif isinstance(mod, gg.nn.BatchNorm1d):
        t = torch.nn.BatchNorm1d(mod.weight.shape[0], eps=getattr(mod, "eps", 1e-5),
                                 dtype=torch.float64)
    elif isinstance(mod, gg.nn.ReLU):
        return torch.nn.ReLU()
    elif isinstance(mod, gg.nn.Sigmoid):
        return torch.nn.Sigmoid()
    else:
        raise TypeError(type(mod).__name__)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(mod.weight.numpy(), dtype=torch.float64))
        t.bias.copy_(torch.tensor(mod.bias.numpy(), dtype=torch.float64))
    return t


def _torch_grad_norms(net, X, y):
    """Per-Linear-layer gradient norms (weight and bias as one vector) of one
    cross-entropy backward, by torch in float64."""
    t = _to_torch(net)
    loss = torch.nn.functional.cross_entropy(t(torch.tensor(X, dtype=torch.float64)),
                                             torch.tensor(y))
    loss.backward()
    lins = [m for m in t.modules() if isinstance(m, torch.nn.Linear)]
    return np.array([math.sqrt(float((m.weight.grad ** 2).sum() + (m.bias.grad ** 2).sum()))
                     for m in lins])


# -- vanishing ----------------------------------------------------------------------------
def test_vanishing_claims_hold_and_nothing_printed(van):
    sec, printed = van
    assert sec.key == "vanishing"
    assert sec.title == "Vanishing and exploding gradients, and what fixes them"
    assert len(sec.claims) >= 10
    assert [c.text for c in sec.claims if not c.ok] == []
    assert printed == ""


def test_vanishing_figures_are_real_images(van):
    sec, _ = van
    assert sec.figures() == ["vanishing-grad-norms.png", "exploding-clipping.png"]
    _check_figures(sec)


def test_monitor_flags_sigmoid_only(van):
    """Sigmoid + default init is flagged vanishing; the three mitigations are not."""
    f = van[0].facts["findings"]
    assert ("vanishing", "0") in f["sigmoid"]
    for v in ("he", "bn", "res"):
        assert not any(kind == "vanishing" for kind, _ in f[v]), (v, f[v])


def test_first_to_last_ratio(van):
    """The stated ratio is the medians' ratio; tiny for sigmoid, near 1 for the others."""
    facts = van[0].facts
    for v, med in facts["median_norms"].items():
        assert len(med) == facts["config"]["deep"]["depth"]
        assert facts["ratio"][v] == pytest.approx(med[0] / med[-1], rel=1e-12)
    assert facts["ratio"]["sigmoid"] < 1e-3
    for v in ("he", "bn", "res"):
        assert 1 / V.HEALTHY_FACTOR <= facts["ratio"][v] <= V.HEALTHY_FACTOR, v


def test_step0_gradient_norms_match_torch(van):
    """The Monitor's first record (gradients at the initial weights) equals torch's
    per-layer gradient norms of the same four networks, sigmoid's 1e-15-size ones too."""
    facts = van[0].facts
    cfg = facts["config"]["deep"]
    X, y = V.make_data(cfg["n"], 0)
    for v in V.VARIANTS:
        net = V.build_net(v, cfg["depth"], cfg["width"], 0)
        ref = _torch_grad_norms(net, X, y)
        np.testing.assert_allclose(facts["step0_norms"][v], ref, rtol=1e-3, err_msg=v)
    sig = facts["step0_norms"]["sigmoid"]
    assert sig[0] / sig[-1] < 1e-6  # vanishing is there at init, before any training


def test_clipping_bound_and_explosion(van):
    facts = van[0].facts
    bound = facts["clip_bound"]
    post, pre = np.array(facts["clipped_post"]), np.array(facts["clipped_pre"])
    assert np.all(post <= bound + 1e-6)
    # clip_grad_norm_ scales by max_norm / (norm + 1e-6) when the norm is above the bound
    np.testing.assert_allclose(post, np.minimum(pre, bound), rtol=1e-5)
    assert all(math.isfinite(v) for v in facts["clipped_losses"])
    plain = facts["plain_pre"]
    assert plain[0] / bound >= 100
    assert facts["explode_factor_first"] == pytest.approx(plain[0] / bound)
    assert not math.isfinite(facts["plain_losses"][-1])
    assert any(kind == "exploding" for kind, _ in facts["plain_findings"])


def test_exploding_first_norm_matches_torch(van):
    """Both runs start from the same weights; torch's total gradient norm there equals
    the lesson's first (pre-clip) norm."""
    facts = van[0].facts
    ex = facts["config"]["explode"]
    X, y = V.make_data(ex["n"], 0)
    net = V.build_exploding_net(ex["depth"], ex["width"], ex["gain"], 0)
    total = float(np.sqrt(np.sum(_torch_grad_norms(net, X, y) ** 2)))
    assert facts["plain_pre"][0] == pytest.approx(total, rel=1e-3)
    assert facts["clipped_pre"][0] == pytest.approx(total, rel=1e-3)


# -- debugging ----------------------------------------------------------------------------
def test_debugging_claims_hold_and_nothing_printed(dbg):
    sec, printed = dbg
    assert sec.key == "debugging"
    assert sec.title == "Debugging: where a NaN was born, and a layer that does not learn"
    assert len(sec.claims) >= 9
    assert [c.text for c in sec.claims if not c.ok] == []
    assert printed == ""


def test_debugging_figures_are_real_images(dbg):
    sec, _ = dbg
    assert sec.figures() == ["debugging-nan-fix.png", "debugging-dead-relu.png"]
    _check_figures(sec)


def test_anomaly_names_log_and_its_line(dbg):
    facts = dbg[0].facts
    assert facts["anomaly_op"] == "log"
    assert facts["anomaly_phase"] == "forward"
    src = facts["bug_source"].splitlines()
    lines = [i for i, line in enumerate(src, 1) if "gg.log(" in line]
    assert len(lines) == 1
    assert facts["anomaly_lineno"] == lines[0]
    assert facts["anomaly_filename"] == D.SOURCE_NAMES["bug"]
    msg = facts["anomaly_message"]
    assert msg.startswith("log produced NaN/Inf in its forward output")
    assert src[lines[0] - 1].strip() in msg  # the line itself is quoted
    (inp,) = facts["anomaly_inputs"]
    assert (inp["min"], inp["nan"], inp["inf"]) == (0.0, 0, 0)
    # the error is shown as a code block in the report
    assert any(b[0] == "code" and b[1] == msg for b in dbg[0].blocks)


def test_underflow_is_real_and_the_fix_matches_torch(dbg):
    """Torch agrees: float32 softmax of those logits has exact zeros (log gives -inf),
    log_softmax is finite, and the fixed net's first loss is torch's cross-entropy."""
    facts = dbg[0].facts
    z = torch.tensor(facts["logits0"], dtype=torch.float32)
    p = torch.softmax(z, dim=1)
    assert int((p == 0).sum()) == facts["zero_probs0"] > 0
    assert torch.isinf(torch.log(p)).any()
    assert torch.isfinite(torch.log_softmax(z, dim=1)).all()
    ref = torch.nn.functional.cross_entropy(z.double(), torch.tensor(facts["labels0"]))
    assert facts["fixed_losses"][0] == pytest.approx(float(ref), rel=1e-3)
    assert math.isnan(facts["plain_losses"][0])
    assert all(math.isfinite(v) for v in facts["fixed_losses"] + facts["norm_losses"])


def _numpy_dead_fractions(state, X):
    """Dead units per ReLU of the 4-Linear net, by a NumPy float32 forward: a unit is
    dead when its ReLU output is 0 for every sample."""
    h, out = X.astype(np.float32), {}
    for i, relu in ((0, "1"), (2, "3"), (4, "5")):
        h = np.maximum(h @ state[f"{i}.weight"].T + state[f"{i}.bias"], 0)
        out[relu] = (h == 0).all(axis=0)
    return out


def test_monitor_names_exactly_the_dead_layer(dbg):
    facts = dbg[0].facts
    assert facts["dead_layers"] == [D.DEAD_RELU]
    assert facts["dead_layers_fixed"] == []
    assert facts["dead_grad_max"] == 0.0
    ref = _numpy_dead_fractions(facts["dead_state"], facts["dead_X"])
    for layer, dead in ref.items():
        assert facts["dead_fraction"][layer] == pytest.approx(dead.mean()), layer
    # the dead units are the ones whose bias was broken
    assert ref[D.DEAD_RELU][:D.DEAD_UNITS].all()
    assert facts["dead_fraction"][D.DEAD_RELU] > 0.5
    assert all(facts["dead_fraction"][k] <= 0.5 for k in ("1", "5"))
