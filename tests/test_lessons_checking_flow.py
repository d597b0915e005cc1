"""The lessons "gradient checking" and "modifying gradient flow": their claims hold, and
the numbers behind them agree with independent references (PyTorch, hand NumPy).

Each lesson runs once per module, in fast (CI) mode.
"""

import re

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad.lessons._report import Context
from glassgrad.lessons.checking import BrokenSwish, Swish, gradcheck
from glassgrad.lessons.flow import _nets as sg_nets
from glassgrad.lessons.flow import _sg_step as sg_step
from glassgrad.lessons.flow import (
    block_parameters,
    flow,
    hooked_gradients,
    make_blocks,
    rev_loss,
    reversible_stack,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def checking(tmp_path_factory):
    return gradcheck(Context(tmp_path_factory.mktemp("checking"), fast=True))


@pytest.fixture(scope="module")
def flowsec(tmp_path_factory):
    return flow(Context(tmp_path_factory.mktemp("flow"), fast=True))


def _assert_real_png(sec, name):
    """The figure exists, is a PNG with content, and is not one flat colour."""
    assert f"{name}.png" in sec.figures()
    path = sec.ctx.out / "figures" / f"{name}.png"
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5000
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 400
    assert float(img[..., :3].std()) > 0.02


def _torch_swish_grad(x):
    xt = torch.tensor(np.asarray(x), dtype=torch.float64, requires_grad=True)
    torch.nn.functional.silu(xt).sum().backward()
    return xt.grad.numpy()


# -- gradient checking ----------------------------------------------------------------------

def test_checking_section_and_claims(checking):
    """Key and title as the report expects; every claim holds; the five are there."""
    assert checking.key == "gradcheck"
    assert checking.title == "Gradient checking: trust, but verify"
    assert len(checking.claims) == 5
    assert all(c.ok for c in checking.claims), [c.text for c in checking.claims if not c.ok]


def test_checking_listing_is_the_real_source(checking):
    """The code block shown is Swish's actual source (what gradcheck was run on)."""
    codes = [b[1] for b in checking.blocks if b[0] == "code"]
    assert any("class Swish(gg.autograd.Function)" in c and "1 + x * (1 - s)" in c
               for c in codes)
    assert any("class BrokenSwish" in c for c in codes)


def test_correct_swish_matches_torch_and_passes(checking):
    """Swish's backward equals torch's silu gradient; the numerical derivative agrees with
    it to < 1e-7 relative, as the lesson states; gradcheck passed."""
    f = checking.facts
    x, good = np.array(f["x"]), np.array(f["grad_good"])
    ref = _torch_swish_grad(x)
    np.testing.assert_allclose(good, ref, rtol=1e-12, atol=1e-14)
    num = np.array(f["numerical"])
    rel = np.abs(num - ref) / np.abs(ref)
    assert rel.max() < 1e-7
    assert f["gradcheck_good"] is True
    assert f["max_rel_error_good"] < 1e-7
    assert f"{f['max_rel_error_good']:.1e}" in checking.claims[1].text


def test_broken_swish_is_wrong_and_fails_gradcheck(checking):
    """The twin really is wrong (against torch), and gradcheck's message lists the worst
    entries with both values."""
    f = checking.facts
    x, broken = np.array(f["x"]), np.array(f["grad_broken"])
    assert np.max(np.abs(broken - _torch_swish_grad(x))) > 0.1
    msg = f["gradcheck_message"]
    assert msg.startswith("gradcheck failed")
    assert "the worst 5 of the" in msg
    assert len(re.findall(r"analytical .*numerical .*relative error", msg)) >= 5
    assert f["max_rel_error_broken"] > 1e-2


def test_find_bad_backward_names_broken_function_only(checking):
    """find_bad_backward names BrokenSwish, not one of the healthy ops of the model; with
    Swish it reports nothing, and that model's gradients indeed match torch's."""
    f = checking.facts
    assert f["bad_op"] == "BrokenSwish"
    healthy = [op for op in f["model_ops"] if op != "BrokenSwish"]
    assert {"tanh", "matmul"} <= set(healthy)
    assert "the custom Function BrokenSwish" in f["bad_report"]
    for op in healthy:
        assert f"the op {op} " not in f["bad_report"]
    assert f["healthy_model_report"] is None

    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s) for s in ((6, 4), (4, 5), (5,), (5, 3))]
    ts = [gg.tensor(a, requires_grad=True) for a in arrays]
    ((Swish.apply(gg.tanh(ts[0] @ ts[1] + ts[2])) @ ts[3]) ** 2).mean().backward()
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    silu = torch.nn.functional.silu
    ((silu(torch.tanh(tt[0] @ tt[1] + tt[2])) @ tt[3]) ** 2).mean().backward()
    for a, b in zip(ts, tt):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_broken_swish_inside_model_differs_from_torch():
    """The model with BrokenSwish has wrong gradients (so a report is deserved)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4))
    xt = gg.tensor(x, requires_grad=True)
    BrokenSwish.apply(gg.tanh(xt)).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.silu(torch.tanh(tx)).sum().backward()
    assert np.max(np.abs(xt.grad.numpy() - tx.grad.numpy())) > 1e-2


def test_eps_sweep_agrees_with_numpy_where_truncation_rules(checking):
    """For large steps the error is the Taylor remainder, computed alike by any correct
    implementation: the lesson's float64 errors match a NumPy sweep there."""
    f = checking.facts
    eps, err = np.array(f["eps"]), np.array(f["err64"])
    x0 = 0.7

    def swish(v):
        return v / (1 + np.exp(-v))

    s = 1 / (1 + np.exp(-x0))
    exact = s * (1 + x0 * (1 - s))
    ref = np.abs((swish(x0 + eps) - swish(x0 - eps)) / (2 * eps) - exact) / exact
    big = eps >= 1e-3
    assert big.sum() >= 3
    np.testing.assert_allclose(err[big], ref[big], rtol=1e-4)
    assert 1e-8 <= f["best_eps64"] <= 1e-3
    assert f["min_err32"] > 1e3 * f["min_err64"]


def test_checking_figures_are_real_images(checking):
    _assert_real_png(checking, "gradcheck_scatter")
    _assert_real_png(checking, "gradcheck_eps")


# -- modifying gradient flow ----------------------------------------------------------------

def test_flow_section_and_claims(flowsec):
    assert flowsec.key == "flow"
    assert flowsec.title == ("Modifying gradient flow: hooks, reversible blocks, "
                             "synthetic gradients")
    assert len(flowsec.claims) == 8
    assert all(c.ok for c in flowsec.claims), [c.text for c in flowsec.claims if not c.ok]


def _torch_hooked(arrays, factor):
    t = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    h = torch.tanh(t["x"] @ t["W1"] + t["b1"])
    if factor is not None:
        h.register_hook(lambda g: g * factor)
    (torch.tanh(h @ t["W2"] + t["b2"]) ** 2).mean().backward()
    return {k: v.grad.numpy() for k, v in t.items()}


def test_hook_gradients_match_torch_hooks(flowsec):
    """The lesson's gradients with and without the halving/reversing hook equal torch's
    with the same hook, and the factor is exact (upstream c, downstream 1)."""
    f = flowsec.facts
    arrays = f["hook_arrays"]
    for name, factor in (("halve", 0.5), ("reverse", -1.0)):
        ref = _torch_hooked(arrays, factor)
        for k, g in f["hook_grads"][name].items():
            np.testing.assert_allclose(g, ref[k], rtol=1e-12, atol=1e-15)
            c = factor if k in ("x", "W1", "b1") else 1.0
            assert np.array_equal(g, c * f["hook_grads_plain"][k])
    plain = _torch_hooked(arrays, None)
    for k, g in f["hook_grads_plain"].items():
        np.testing.assert_allclose(g, plain[k], rtol=1e-12, atol=1e-15)
    assert f["hook_max_deviation"] == 0.0
    # the function shown in the lesson is the one that ran
    again = hooked_gradients(arrays, lambda g: g * 0.5)
    for k in again:
        assert np.array_equal(again[k], f["hook_grads"]["halve"][k])


def _torch_stack(a, b, blocks):
    """The plain coupling stack in torch, with the engine blocks' weights."""
    def mlp(seq):
        lin1, lin2 = seq[0], seq[2]
        ws = [torch.tensor(p.numpy(), requires_grad=True)
              for p in (lin1.weight, lin1.bias, lin2.weight, lin2.bias)]
        return ws, (lambda v: torch.tanh(v @ ws[0].T + ws[1]) @ ws[2].T + ws[3])

    x1 = torch.tensor(a, requires_grad=True)
    x2 = torch.tensor(b, requires_grad=True)
    params, y1, y2 = [], x1, x2
    for f, g in blocks:
        pf, ff = mlp(f)
        pg, gf = mlp(g)
        params += pf + pg
        y1 = y1 + ff(y2)
        y2 = y2 + gf(y1)
    ((y1 * y1).sum() + (y2 * torch.tanh(y2)).sum()).backward()
    return [x1.grad.numpy(), x2.grad.numpy()] + [p.grad.numpy() for p in params]


def test_reversible_stack_gradients_match_torch(flowsec):
    """The lesson's reversible Function gives torch's gradients of the plain stack (inputs
    and every parameter) to float64 rounding."""
    rng = np.random.default_rng(5)
    blocks = make_blocks(3, 4, 8, seed=7)
    a, b = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    params = block_parameters(blocks)
    x1, x2 = gg.tensor(a, requires_grad=True), gg.tensor(b, requires_grad=True)
    rev_loss(*reversible_stack(x1, x2, blocks)).backward()
    got = [x1.grad.numpy(), x2.grad.numpy()] + [p.grad.numpy() for p in params]
    ref = _torch_stack(a, b, blocks)
    assert len(got) == len(ref) == 2 + 3 * 2 * 4
    for u, v in zip(got, ref):
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)
    assert flowsec.facts["rev_grad_diff"] < 1e-10
    assert flowsec.facts["rev_recon_error"] < 1e-10


def test_reversible_memory_facts(flowsec):
    """The ordinary stack's saved bytes grow linearly with depth (each block adds the
    same); the reversible one's are constant and at least its two outputs."""
    f = flowsec.facts
    depths, plain, rev = f["rev_depths"], f["rev_plain_bytes"], f["rev_bytes"]
    dim, _, batch = f["rev_sizes"]
    per_block = (plain[1] - plain[0]) / (depths[1] - depths[0])
    assert per_block > 0
    for n, p in zip(depths, plain):
        assert p == plain[0] + per_block * (n - depths[0])
    assert len(set(rev)) == 1 and rev[0] >= 2 * batch * dim * 8
    assert f["rev_saving"] == pytest.approx(plain[-1] / rev[-1])


def test_synthetic_gradient_facts(flowsec):
    """All three runs start from the same loss (same init, same batch); the stated factor
    is the one of the recorded curve; M starts at zero and its cosine ends positive; the
    late loss beats the frozen-first-layer baseline."""
    f = flowsec.facts
    sg, bp, fr, cos = (np.array(f[k]) for k in
                       ("sg_losses", "bp_losses", "frozen_losses", "sg_cosines"))
    assert sg[0] == bp[0] == fr[0]
    w = f["sg_window"]
    assert f["sg_factor"] == pytest.approx(sg[:w].mean() / sg[-w:].mean())
    assert f["sg_factor"] > 1.5
    assert np.all(np.abs(cos) <= 1 + 1e-12)
    assert cos[0] == 0.0
    assert cos[-f["sg_late_steps"]:].mean() == pytest.approx(f["sg_late_cosine"])
    assert f["sg_late_cosine"] > 0.1
    n = f["sg_late_steps"]
    assert f["late_loss"]["synthetic"] == pytest.approx(sg[-n:].mean())
    assert sg[-n:].mean() < fr[-n:].mean()


def test_synthetic_gradient_step_matches_torch():
    """Five steps of the lesson's synthetic-gradient update, replayed in torch with the
    same weights, data and Adam: the same losses and the same cosines."""
    width, batch = 6, 8
    nets = sg_nets(width, seed=3)
    opts = [gg.optim.Adam(n.parameters(), lr=3e-3) for n in nets]
    part1, part2, m = nets
    tl = [torch.tensor(p.numpy(), requires_grad=True)
          for p in (part1[0].weight, part1[0].bias, part2[0].weight, part2[0].bias,
                    part2[2].weight, part2[2].bias, m.weight, m.bias)]
    topt = [torch.optim.Adam(tl[0:2], lr=3e-3), torch.optim.Adam(tl[2:6], lr=3e-3),
            torch.optim.Adam(tl[6:8], lr=3e-3)]
    rng = np.random.default_rng(0)
    for step in range(5):
        x = rng.standard_normal((batch, 10))
        y = rng.integers(0, 4, batch)
        onehot = np.eye(4)[y]
        loss, cos = sg_step(nets, opts, gg.tensor(x), gg.tensor(y), gg.tensor(onehot), batch)

        for o in topt:
            o.zero_grad()
        h = torch.relu(torch.tensor(x) @ tl[0].T + tl[1])
        th = torch.tensor(onehot)
        with torch.no_grad():
            g_hat = torch.cat([h, th], 1) @ tl[6].T + tl[7]
        h.backward(g_hat / batch)
        h_in = h.detach().requires_grad_()
        logits = torch.relu(h_in @ tl[2].T + tl[3]) @ tl[4].T + tl[5]
        tloss = torch.nn.functional.cross_entropy(logits, torch.tensor(y))
        tloss.backward()
        target = h_in.grad * batch
        pred = torch.cat([h.detach(), th], 1) @ tl[6].T + tl[7]
        torch.nn.functional.mse_loss(pred, target).backward()
        for o in topt:
            o.step()
        g, t = g_hat.numpy(), target.numpy()
        tcos = float((g * t).sum() / (np.linalg.norm(g) * np.linalg.norm(t) + 1e-30))
        assert loss == pytest.approx(tloss.item(), rel=1e-10)
        assert cos == pytest.approx(tcos, rel=1e-8, abs=1e-12)
        if step == 0:
            assert cos == 0.0  # M starts at zero
    assert cos != 0.0


def test_flow_figures_are_real_images(flowsec):
    _assert_real_png(flowsec, "flow_reversible_memory")
    _assert_real_png(flowsec, "flow_synthetic")
