"""gg.diagnostics.Monitor: gradient-flow health (issue 10, part 3).

Glassgrad-only behaviour (PyTorch has no such monitor), except the recorded numbers,
which are checked against torch's own gradients and a hand computation.
"""

import math

import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad.diagnostics import Finding, Monitor
from glassgrad.diagnostics import monitor as mon_mod

nn = gg.nn
SEEDS = range(5)
WIDTH, DEPTH = 16, 20


def _data(seed, n=64, d_in=WIDTH):
    rng = np.random.default_rng(seed)
    x = gg.tensor(rng.normal(size=(n, d_in)).astype(np.float32))
    y = gg.tensor(rng.normal(size=(n, 1)).astype(np.float32))
    return x, y


def _deep(kind, seed):
    """20-layer width-16 MLPs: naive sigmoid, ReLU + He, batch-norm, residual."""
    gg.manual_seed(seed)
    layers = []
    for _ in range(DEPTH):
        lin = nn.Linear(WIDTH, WIDTH)
        if kind == "sigmoid":
            nn.init.normal_(lin.weight, 0.0, 1.0)
            nn.init.normal_(lin.bias, 0.0, 1.0)
            layers += [lin, nn.Sigmoid()]
        elif kind == "relu_he":
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            nn.init.zeros_(lin.bias)
            layers += [lin, nn.ReLU()]
        elif kind == "batchnorm":  # default init, sigmoid: batch norm alone fixes the flow
            layers += [lin, nn.BatchNorm1d(WIDTH), nn.Sigmoid()]
        elif kind == "residual":  # default init, tanh blocks behind skip connections
            layers += [nn.Residual(nn.Sequential(lin, nn.Tanh()))]
    layers.append(nn.Linear(WIDTH, 1))
    return nn.Sequential(*layers)


def _train(net, seed, steps=5, lr=0.01, clip=None, monitor_first=True, d_in=WIDTH):
    """SGD on an MSE regression of random data; returns the Monitor (still attached)."""
    opt = gg.optim.SGD(net.parameters(), lr=lr)
    mon = Monitor(net, opt)
    x, y = _data(seed, d_in=d_in)
    with np.errstate(all="ignore"):
        for _ in range(steps):
            opt.zero_grad()
            loss = ((net(x) - y) ** 2).mean()
            loss.backward()
            if monitor_first:  # records the raw gradients, before any clipping
                mon.step()
            if clip is not None:
                nn.utils.clip_grad_norm_(net.parameters(), clip)
            opt.step()
            if not monitor_first:
                mon.step()
    return mon


def _kinds(findings):
    return {f.kind for f in findings}


def _min_early_ratio(mon):
    """Smallest median grad norm of a layer before the top one, over the top's (vanishing)."""
    med = {k: float(np.median(v)) for k, v in mon.layer_grad_norms().items()}
    order = list(med)
    top = max(order, key=med.get)
    early = order[: order.index(top)]
    return min((med[k] / med[top] for k in early), default=1.0)


# --- vanishing ----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_naive_sigmoid_mlp_is_flagged_vanishing(seed):
    mon = _train(_deep("sigmoid", seed), seed)
    findings = mon.diagnose()
    assert _kinds(findings) & {"vanishing", "saturation"}, findings
    van = [f for f in findings if f.kind == "vanishing"]
    assert van and van[0].layer == "0"  # the first layer is named
    assert "e-" in van[0].message and "ReLU" in van[0].mitigation
    # margin: measured 1.5e-8 .. 7.2e-5 over seeds 0-4, threshold 1e-3
    assert _min_early_ratio(mon) < mon_mod.VANISHING_RATIO / 10


@pytest.mark.parametrize("kind", ["relu_he", "batchnorm", "residual"])
@pytest.mark.parametrize("seed", SEEDS)
def test_healthy_deep_mlps_are_not_flagged_vanishing(kind, seed):
    mon = _train(_deep(kind, seed), seed)
    assert "vanishing" not in _kinds(mon.diagnose())
    # margin: measured worst 1.2e-2 (batchnorm), 1.3e-1 (residual), 1.7e-1 (relu_he)
    assert _min_early_ratio(mon) > mon_mod.VANISHING_RATIO * 5


# --- exploding ----------------------------------------------------------------------------
def _small(seed):
    gg.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                         nn.Linear(32, 1))


@pytest.mark.parametrize("seed", SEEDS)
def test_huge_learning_rate_is_flagged_exploding_and_clipping_removes_it(seed):
    # the monitor sees the raw (pre-clip) gradients in both runs
    mon = _train(_small(seed), seed, steps=10, lr=2.0, d_in=8)
    bad = mon.diagnose()
    assert "exploding" in _kinds(bad), bad
    f = next(f for f in bad if f.kind == "exploding")
    assert "clip_grad_norm_" in f.mitigation and "learning rate" in f.mitigation
    clipped = _train(_small(seed), seed, steps=10, lr=2.0, clip=0.5, d_in=8)
    kinds = _kinds(clipped.diagnose())
    assert not kinds & {"exploding", "nan"}, clipped.diagnose()


def test_monitor_after_clipping_sees_the_clipped_gradients():
    mon = _train(_small(0), 0, steps=4, lr=2.0, clip=0.5, monitor_first=False, d_in=8)
    totals = [math.sqrt(sum(v[i] ** 2 for v in mon.layer_grad_norms().values()))
              for i in range(4)]
    assert max(totals) <= 0.5 + 1e-4


def test_non_finite_gradients_are_nan_and_exploding():
    net = nn.Linear(3, 2)
    mon = Monitor(net)
    net(gg.ones(4, 3)).sum().backward()
    net.weight.grad.data[0, 0] = np.nan
    net.bias.grad.data[1] = np.inf
    mon.step()
    findings = mon.diagnose()
    assert {"nan", "exploding"} <= _kinds(findings)
    nan = next(f for f in findings if f.kind == "nan")
    assert "1 NaN and 1 Inf" in nan.message and "detect_anomaly" in nan.mitigation
    assert mon.history[0]["params"]["weight"]["nan"] == 1
    assert "1/1" in mon.report()


# --- activations --------------------------------------------------------------------------
def test_relu_with_large_negative_bias_is_flagged_dead_relu():
    gg.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    with gg.no_grad():
        net[0].bias.data[:12] = -50.0  # 12 of 16 units never fire
    mon = _train(net, 0, steps=2, d_in=8)
    dead = [f for f in mon.diagnose() if f.kind == "dead_relu"]
    assert len(dead) == 1 and dead[0].layer == "1"
    assert "75.0% of 16 units" in dead[0].message and "LeakyReLU" in dead[0].mitigation
    assert mon.history[-1]["activations"]["1"]["dead"] == 0.75


def test_dead_fraction_is_over_the_batch_and_saturation_counts_elements():
    relu, tanh, sig = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    net = nn.Sequential(relu)
    mon = Monitor(net)
    # unit 0 fires for one sample only (alive), unit 1 never (dead), unit 2 always
    net(gg.tensor([[1.0, -1.0, 2.0], [-1.0, -3.0, 1.0]]))
    assert mon.step()["activations"]["0"]["dead"] == pytest.approx(1 / 3)
    mon.remove()
    net = nn.Sequential(tanh, sig)
    mon = Monitor(net)
    net(gg.tensor([[0.0, 3.0, -3.0, 0.1]]))  # tanh: 2 of 4 saturated; sigmoid of tanh: none
    acts = mon.step()["activations"]
    assert acts["0"]["saturated"] == 0.5 and acts["1"]["saturated"] == 0.0
    with gg.no_grad():  # validation forwards are not counted
        net(gg.tensor([[9.0, 9.0, 9.0, 9.0]]))
    assert mon.step()["activations"] == {}


def test_saturated_sigmoid_layer_is_flagged():
    net = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 1))
    with gg.no_grad():
        net[0].bias.data[:] = 20.0
    mon = _train(net, 0, steps=1, d_in=4)
    sat = [f for f in mon.diagnose() if f.kind == "saturation"]
    assert sat and sat[0].layer == "1" and "100.0% of 512 outputs" in sat[0].message


# --- other findings -----------------------------------------------------------------------
class _Unused(nn.Module):
    def __init__(self):
        super().__init__()
        self.used = nn.Linear(3, 1)
        self.spare = nn.Linear(3, 1)

    def forward(self, x):
        return self.used(x)


def test_parameter_without_gradient_is_flagged():
    net = _Unused()
    mon = _train(net, 0, steps=2, d_in=3)
    nog = sorted(f.layer for f in mon.diagnose() if f.kind == "no_gradient")
    assert nog == ["spare.bias", "spare.weight"]


def test_frozen_parameters_are_not_watched():
    net = _Unused()
    net.spare.requires_grad_(False)
    mon = _train(net, 0, steps=1, d_in=3)
    assert list(mon.layers) == ["used"]
    assert "no_gradient" not in _kinds(mon.diagnose())


def test_tiny_learning_rate_is_flagged_stalled():
    mon = _train(_small(0), 0, steps=3, lr=1e-9, d_in=8)
    stalled = [f for f in mon.diagnose() if f.kind == "stalled"]
    assert len(stalled) == 1 and "learning rate" in stalled[0].mitigation
    assert "3 of 3 layers stalled" in stalled[0].message and "e-" in stalled[0].message
    assert "stalled" not in _kinds(_train(_small(0), 0, steps=3, lr=0.01, d_in=8).diagnose())


def test_healthy_small_net_has_no_findings():
    assert _train(_small(1), 1, steps=5, lr=0.01, d_in=8).diagnose() == []


# --- the recorded numbers -----------------------------------------------------------------
@pytest.mark.parametrize("monitor_first", [True, False])
def test_update_ratio_is_lr_times_grad_over_weight_either_order(monitor_first):
    gg.manual_seed(3)
    net = nn.Linear(4, 2)
    lr = 0.1
    mon = _train(net, 3, steps=3, lr=lr, monitor_first=monitor_first, d_in=4)
    # plain SGD moves w by lr * g: the ratio is lr * ||g|| / ||w_before||
    rec = mon.history[-1]["params"]["weight"]
    if monitor_first:  # grads and weights recorded before the update of the same step
        assert rec["update_ratio"] == pytest.approx(lr * rec["grad_norm"] / rec["weight_norm"],
                                                    rel=1e-5)
    else:  # weights recorded after the update; ratio is relative to the weights before it
        prev = mon.history[-2]["params"]["weight"]  # w_before = the previous record's w
        assert rec["update_ratio"] == pytest.approx(
            lr * rec["grad_norm"] / prev["weight_norm"], rel=1e-5)
    assert all(r["params"]["bias"]["update_ratio"] is not None for r in mon.history)


def test_grad_and_weight_norms_match_torch():
    gg.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 2))
    tnet = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2))
    tnet.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in
                          net.state_dict().items()})
    xs = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    mon = Monitor(net)
    (net(gg.tensor(xs)) ** 2).sum().backward()
    rec = mon.step()["params"]
    (tnet(torch.from_numpy(xs)) ** 2).sum().backward()
    for name, p in tnet.named_parameters():
        assert rec[name]["grad_norm"] == pytest.approx(p.grad.norm().item(), rel=1e-5)
        assert rec[name]["weight_norm"] == pytest.approx(p.detach().norm().item(), rel=1e-5)
    # a layer's norm is that of its parameters seen as one vector
    layer = mon.layer_grad_norms()["0"][0]
    both = torch.cat([tnet[0].weight.grad.ravel(), tnet[0].bias.grad.ravel()])
    assert layer == pytest.approx(both.norm().item(), rel=1e-5)


# --- output -------------------------------------------------------------------------------
def test_report_names_every_layer():
    net = _deep("relu_he", 0)
    mon = _train(net, 0, steps=2)
    text = mon.report()
    rows = {line.split()[0] for line in text.splitlines()[3:]}
    names = {path for path, _ in net.named_modules() if path}
    assert names == rows  # every Linear and ReLU, nothing else
    assert "grad norm" in text and "dead/sat %" in text and "update/weight" in text
    assert Monitor(nn.Linear(2, 2)).report().startswith("Monitor: nothing recorded")


def test_plot_is_a_png_with_one_line_per_layer(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed: plot not tested")
    net = _deep("sigmoid", 0)
    mon = _train(net, 0, steps=4)
    path = tmp_path / "grads.png"
    fig = mon.plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = fig.axes[0].get_lines()
    assert len(lines) == DEPTH + 1 == len(mon.layers)
    assert [ln.get_label() for ln in lines] == list(mon.layers)
    assert fig.axes[0].get_yscale() == "log"


def test_remove_detaches_every_hook_and_restores_the_optimizer():
    net = _deep("sigmoid", 0)
    opt = gg.optim.SGD(net.parameters(), lr=0.1)
    original = type(opt).step
    with Monitor(net, opt) as mon:
        assert sum(len(m._forward_hooks) for m in net.modules()) == DEPTH
        assert opt.step is not None and "step" in vars(opt)
    assert all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
               for m in net.modules())
    assert "step" not in vars(opt) and opt.step.__func__ is original
    n = len(mon.history)
    x, y = _data(0)
    ((net(x) - y) ** 2).mean().backward()
    opt.step()
    assert len(mon.history) == n and "removed" in repr(mon)


def test_finding_is_a_readable_record():
    f = Finding("vanishing", "0", "ratio 1e-5", "use ReLU")
    assert (f.kind, f.layer) == ("vanishing", "0")
    assert "[vanishing] 0: ratio 1e-5" in str(f) and "use ReLU" in str(f)


def test_monitor_needs_a_module():
    with pytest.raises(TypeError, match="gg.nn.Module"):
        Monitor([gg.ones(2)])


def test_module_docstring_example_runs():
    import doctest

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for t in finder.find(mon_mod, globs={"gg": gg, "Monitor": Monitor}):
        runner.run(t)
    assert runner.summarize(verbose=False).failed == 0


def test_every_k_records_one_iteration_in_k_with_its_update_ratio_in_both_call_orders():
    for order in ("mon_first", "opt_first"):
        gg.manual_seed(0)
        net = gg.nn.Sequential(gg.nn.Linear(4, 8), gg.nn.ReLU(), gg.nn.Linear(8, 1))
        opt = gg.optim.SGD(net.parameters(), lr=0.1)
        mon = Monitor(net, opt, every=3)
        x = gg.randn(16, 4)
        for _ in range(7):
            loss = (net(x) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            if order == "mon_first":
                mon.step()
                opt.step()
            else:
                opt.step()
                mon.step()
        assert [r["step"] for r in mon.history] == [0, 3, 6]
        for rec in mon.history:
            ratios = [p["update_ratio"] for p in rec["params"].values()]
            assert all(r is not None and r > 0 for r in ratios), (order, rec["step"])
        assert all(rec["activations"] for rec in mon.history)
        mon.remove()
    with pytest.raises(ValueError, match="every"):
        Monitor(net, every=0)
