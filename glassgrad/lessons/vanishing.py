"""Lesson: vanishing and exploding gradients, measured layer by layer, and what fixes them.

Part 1 trains four deep MLPs on two moons for a few SGD steps while a
:class:`~glassgrad.diagnostics.Monitor` records every layer's gradient norm: sigmoid with
the default init (the gradient reaching the first layer is ~1e-7 of the last one's), then
ReLU + He init, + batch norm, + residual connections (all within a small factor of 1).
Part 2 makes a ReLU net whose gradients explode (weights 2.5x too large) and trains it
with and without ``gg.nn.utils.clip_grad_norm_``.

The builders (:func:`make_data`, :func:`build_net`, :func:`build_exploding_net`) are
public so that a test can rebuild the very same networks and check the lesson's numbers
against another autograd.
"""

from __future__ import annotations

import math

import numpy as np

import glassgrad as gg

from ._report import Context, Section

__all__ = ["VARIANTS", "config", "make_data", "build_net", "linear_paths", "train_monitored",
           "median_layer_norms", "build_exploding_net", "train_exploding", "vanishing"]

# variant key -> label in the report
VARIANTS = {
    "sigmoid": "sigmoid, default init",
    "he": "ReLU + He init",
    "bn": "ReLU + He + batch norm",
    "res": "ReLU + He + BN + residual",
}
COLORS = {"sigmoid": "#D55E00", "he": "#0072B2", "bn": "#009E73", "res": "#CC79A7"}
MARKERS = {"sigmoid": "o", "he": "s", "bn": "^", "res": "D"}

HEALTHY_FACTOR = 10.0   # a mitigated net's first/last layer ratio lies in [1/10, 10]
CLIP_TOL = 1e-6         # what clip_grad_norm_ may leave above the bound (its 1e-6 guard)


def config(fast: bool) -> dict:
    """Sizes of the lesson's networks and runs; ``fast`` (CI) is smaller, same claims."""
    if fast:
        deep = dict(n=128, depth=12, width=32, steps=20, lr=0.1)
    else:
        deep = dict(n=256, depth=20, width=48, steps=40, lr=0.1)
    explode = dict(n=deep["n"], depth=12, width=32, gain=2.5, lr=0.01, max_norm=1.0,
                   steps=12 if fast else 25)
    return {"deep": deep, "explode": explode}


def make_data(n: int, seed: int):
    """Two moons as float32 inputs ``(n, 2)`` and int64 labels ``(n,)``."""
    X, y = gg.data.two_moons(n, noise=0.1, seed=seed)
    return X.astype(np.float32), y


def _hidden(variant: str, width: int) -> gg.nn.Module:
    """One hidden layer of ``variant``: Linear [-> BatchNorm1d] -> activation [+ skip]."""
    mods = [gg.nn.Linear(width, width)]
    if variant in ("bn", "res"):
        mods.append(gg.nn.BatchNorm1d(width))
    mods.append(gg.nn.Sigmoid() if variant == "sigmoid" else gg.nn.ReLU())
    block = gg.nn.Sequential(*mods)
    return gg.nn.Residual(block) if variant == "res" else block


def build_net(variant: str, depth: int, width: int, seed: int) -> gg.nn.Sequential:
    """A ``depth``-Linear-layer MLP 2 -> width -> ... -> width -> 2 of one variant.

    ``sigmoid`` keeps the default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the ReLU
    variants draw every weight with He init (``kaiming_normal_``) and zero the biases.
    Seeds glassgrad's generator with ``seed``, so the same call gives the same network.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; one of {list(VARIANTS)}")
    gg.manual_seed(seed)
    act = gg.nn.Sigmoid() if variant == "sigmoid" else gg.nn.ReLU()
    layers = [gg.nn.Linear(2, width), act]
    layers += [_hidden(variant, width) for _ in range(depth - 2)]
    layers.append(gg.nn.Linear(width, 2))
    net = gg.nn.Sequential(*layers)
    if variant != "sigmoid":
        for mod in net.modules():
            if isinstance(mod, gg.nn.Linear):
                gg.nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
                gg.nn.init.zeros_(mod.bias)
    return net


def linear_paths(net: gg.nn.Module) -> list:
    """Module paths of the Linear layers, input side first (the x axis of the plot)."""
    return [path for path, mod in net.named_modules() if isinstance(mod, gg.nn.Linear)]


def train_monitored(net, X, y, steps: int, lr: float):
    """Plain SGD on cross-entropy with a Monitor recording each step (before the update,
    so record 0 holds the gradients at the initial weights). Returns (monitor, losses)."""
    opt = gg.optim.SGD(net.parameters(), lr=lr)
    mon = gg.diagnostics.Monitor(net, opt)
    Xt, yt = gg.tensor(X), gg.tensor(y)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = gg.nn.functional.cross_entropy(net(Xt), yt)
        loss.backward()
        mon.step()
        opt.step()
        losses.append(loss.item())
    mon.remove()
    return mon, losses


def median_layer_norms(mon, paths) -> np.ndarray:
    """Median over the recorded steps of each layer's gradient norm (weight and bias as
    one vector), the statistic the Monitor's vanishing rule reads."""
    norms = mon.layer_grad_norms()
    return np.array([np.median([v for v in norms[p] if v is not None]) for p in paths])


def build_exploding_net(depth: int, width: int, gain: float, seed: int) -> gg.nn.Sequential:
    """A ReLU MLP with weights N(0, gain^2 / fan_in): ``gain`` 2.5 instead of He's sqrt(2)
    multiplies a signal's size by ~gain/sqrt(2) = 1.8 per layer, forward and backward."""
    gg.manual_seed(seed)
    mods = [gg.nn.Linear(2, width), gg.nn.ReLU()]
    for _ in range(depth - 2):
        mods += [gg.nn.Linear(width, width), gg.nn.ReLU()]
    mods.append(gg.nn.Linear(width, 2))
    net = gg.nn.Sequential(*mods)
    for mod in net.modules():
        if isinstance(mod, gg.nn.Linear):
            gg.nn.init.normal_(mod.weight, 0.0, gain / math.sqrt(mod.in_features))
            gg.nn.init.zeros_(mod.bias)
    return net


def _total_norm(net) -> float:
    """The 2-norm of all gradients as one vector, in float64 NumPy (independent of the
    clipping function's own arithmetic)."""
    sq = sum(float(np.sum(p.grad.numpy().astype(np.float64) ** 2)) for p in net.parameters())
    return math.sqrt(sq) if math.isfinite(sq) else math.nan


def train_exploding(net, X, y, steps: int, lr: float, max_norm=None):
    """SGD for ``steps`` steps, clipping the total gradient norm to ``max_norm`` (None: no
    clipping). Returns a dict of per-step lists: ``loss``, ``pre`` (norm before clipping)
    and ``post`` (norm the optimizer used), and the Monitor that watched it."""
    opt = gg.optim.SGD(net.parameters(), lr=lr)
    mon = gg.diagnostics.Monitor(net)
    Xt, yt = gg.tensor(X), gg.tensor(y)
    out = {"loss": [], "pre": [], "post": []}
    with np.errstate(all="ignore"):  # the unclipped run overflows on purpose
        for _ in range(steps):
            opt.zero_grad()
            loss = gg.nn.functional.cross_entropy(net(Xt), yt)
            loss.backward()
            pre = _total_norm(net)
            if max_norm is not None:
                gg.nn.utils.clip_grad_norm_(net.parameters(), max_norm=max_norm)
            mon.step()
            out["pre"].append(pre)
            out["post"].append(_total_norm(net))
            out["loss"].append(loss.item())
            opt.step()
    mon.remove()
    out["monitor"] = mon
    return out


# -- the lesson --------------------------------------------------------------------------
def _deep_runs(ctx: Context, cfg: dict) -> dict:
    X, y = make_data(cfg["n"], ctx.seed)
    runs = {}
    for variant in ctx.steps(list(VARIANTS), desc="deep nets"):
        net = build_net(variant, cfg["depth"], cfg["width"], ctx.seed)
        paths = linear_paths(net)
        mon, losses = train_monitored(net, X, y, cfg["steps"], cfg["lr"])
        med = median_layer_norms(mon, paths)
        norms = mon.layer_grad_norms()
        runs[variant] = {
            "median": med,
            "step0": np.array([norms[p][0] for p in paths]),
            "ratio": float(med[0] / med[-1]),
            "losses": losses,
            "findings": mon.diagnose(),
        }
    return runs


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _deep_figure(runs: dict, cfg: dict):
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 4.6))
    layer = np.arange(1, cfg["depth"] + 1)
    for v, label in VARIANTS.items():
        ax.semilogy(layer, runs[v]["median"], marker=MARKERS[v], ms=4, color=COLORS[v],
                    label=label)
        ax.semilogy(layer, runs[v]["step0"], ls="--", lw=1, color=COLORS[v], alpha=0.6)
        ax2.plot(np.arange(len(runs[v]["losses"])), runs[v]["losses"], color=COLORS[v],
                 label=label)
    ax.plot([], [], ls="--", lw=1, color="gray", label="(dashed: at the initial weights)")
    ax.set(xlabel="Linear layer (1 = next to the input)",
           ylabel="gradient norm",
           title=f"Gradient reaching each layer, {cfg['depth']} layers")
    ax.set_xticks(layer[:: 2 if cfg["depth"] <= 12 else 3])
    ax.grid(True, which="major", alpha=0.3)
    ax2.set(xlabel="SGD step", ylabel="training loss (cross-entropy)",
            title="Training loss")
    ax2.set_yscale("log")
    ax2.grid(True, which="major", alpha=0.3)
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=9,
               frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def _explode_figure(plain: dict, clipped: dict, cfg: dict):
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 4))
    steps = np.arange(len(plain["pre"]))

    def finite(vals):
        return np.array([v if math.isfinite(v) and v > 0 else np.nan for v in vals])

    ax.semilogy(steps, finite(plain["pre"]), "o-", ms=4, color="#D55E00",
                label="no clipping")
    ax.semilogy(steps, finite(clipped["pre"]), "s--", ms=4, color="#0072B2",
                label="clipped run: norm before clipping")
    ax.semilogy(steps, finite(clipped["post"]), "-", lw=2, color="#009E73",
                label="clipped run: norm after clipping")
    ax.axhline(cfg["max_norm"], color="black", ls=":", lw=1.2,
               label=f"bound max_norm = {cfg['max_norm']:g}")
    bad = [i for i, v in enumerate(plain["pre"]) if not math.isfinite(v)]
    if bad:
        ax.axvline(bad[0], color="#D55E00", ls=":", lw=1)
        ax.annotate(f"NaN from step {bad[0]}", (bad[0], cfg["max_norm"] * 3),
                    xytext=(4, 0), textcoords="offset points", color="#D55E00", fontsize=9)
    ax.set(xlabel="SGD step", ylabel="total gradient norm",
           title="Gradient norm per step")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax2.semilogy(steps, finite(plain["loss"]), "o-", ms=4, color="#D55E00",
                 label="no clipping")
    ax2.semilogy(steps, finite(clipped["loss"]), "s-", ms=4, color="#0072B2",
                 label=f"clip_grad_norm_(max_norm={cfg['max_norm']:g})")
    ax2.set(xlabel="SGD step", ylabel="training loss (cross-entropy)", title="Training loss")
    ax2.grid(True, which="major", alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _findings_text(runs: dict) -> str:
    parts = []
    for v, label in VARIANTS.items():
        found = runs[v]["findings"]
        body = "\n".join(str(f) for f in found) if found else "(no findings: healthy)"
        parts.append(f"# {label}\n{body}")
    return "\n\n".join(parts)


def _part_vanishing(sec: Section, cfg: dict, runs: dict) -> None:
    sec.text(f"""
        Backpropagation multiplies. The gradient reaching layer 1 of a deep net is the
        loss's gradient times one local Jacobian per layer above it: the layer's weights
        and the activation's derivative. If those factors are below 1 the product shrinks
        geometrically with depth (**vanishing**); above 1 it grows (**exploding**).

        Below, four {cfg['depth']}-layer MLPs of width {cfg['width']} are trained on two
        moons ({cfg['n']} points) for {cfg['steps']} plain SGD steps (lr {cfg['lr']:g}),
        while `gg.diagnostics.Monitor` records each layer's gradient norm. The sigmoid
        net keeps the default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)): the sigmoid's
        slope is at most 1/4 and these weights shrink a signal by about 1/sqrt(3), so
        each layer multiplies the gradient by at most about 0.14. ReLU passes a
        gradient with slope 1 where it is active, and He init
        (`gg.nn.init.kaiming_normal_`, variance 2/fan_in) makes up for the half of the
        units it switches off. Batch norm rescales every layer's pre-activations to unit
        size, and a residual connection (`gg.nn.Residual`, `x + block(x)`) adds a path on
        which the gradient passes unchanged.""")
    s = runs["sigmoid"]
    per_layer = (s["step0"][0] / s["step0"][-1]) ** (1 / (cfg["depth"] - 1))
    sec.figure(_deep_figure(runs, cfg), "vanishing-grad-norms",
               f"Left: the gradient norm of each Linear layer (weight and bias as one "
               f"vector), log scale; solid: the median over the {cfg['steps']} steps, as "
               f"the Monitor reads it; dashed: at the initial weights. The sigmoid net's "
               f"first layer gets {s['ratio']:.1e} of what its last layer gets; the other "
               f"three stay within a small factor. Right: the loss; the sigmoid net does "
               f"not move off log 2 = 0.693.")
    sec.text(f"""
        At the initial weights (dashed) the sigmoid net's curve is a straight line on the
        log scale: every layer multiplies the gradient by about the same factor, here
        {per_layer:.3f} per layer (geometric mean), so {cfg['depth'] - 1} layers make it
        {s['step0'][0] / s['step0'][-1]:.1e}. Once training starts, its output layer
        learns the only thing it can without the layers below, the class proportions,
        and the loss stops at log 2; the gradient of every layer then shrinks further
        (solid). The three mitigated nets have flat curves: every layer gets a gradient
        of the same size, and all of them learn.""")
    rows = []
    for v, label in VARIANTS.items():
        r = runs[v]
        kinds = ", ".join(sorted({f.kind for f in r["findings"]})) or "none"
        rows.append((label, f"{r['median'][0]:.2e}", f"{r['median'][-1]:.2e}",
                     f"{r['ratio']:.2e}", f"{r['losses'][-1]:.3f}", kinds))
    sec.table(["network", "grad norm, layer 1", f"grad norm, layer {cfg['depth']}",
               "ratio first/last", "final loss", "monitor findings"], rows,
              "Median gradient norms over the steps; the ratio is what the sigmoid net "
              "multiplies away on its way down.")
    stalled = any(f.kind == "stalled" for f in runs["sigmoid"]["findings"])
    sec.text("""
        `mon.diagnose()` reads the same records and names the problem with its numbers
        and the usual fix. Its vanishing rule: an early layer whose median gradient norm is
        below 1e-3 of the largest layer's.""" + ("""
        The sigmoid net is also reported **stalled**: a median step changes its weights
        by less than a millionth of their size, which is what vanishing gradients mean
        for training.""" if stalled else ""))
    sec.code(_findings_text(runs), "The Monitor's findings for each network, as printed "
             "by `for f in mon.diagnose(): print(f)`.")
    flagged = {v: any(f.kind == "vanishing" for f in runs[v]["findings"]) for v in VARIANTS}
    sec.claim(f"the Monitor flags the {cfg['depth']}-layer sigmoid net (default init) as "
              f"vanishing", flagged["sigmoid"])
    for v in ("he", "bn", "res"):
        sec.claim(f"the Monitor does not flag {VARIANTS[v]} as vanishing "
                  f"(first/last layer gradient ratio {runs[v]['ratio']:.2f})", not flagged[v])
    sec.claim(f"sigmoid: the first layer's gradient norm is {s['ratio']:.1e} of the last "
              f"layer's (below 1e-3)", s["ratio"] < 1e-3)
    finals = [runs[v]["losses"][-1] for v in ("he", "bn", "res")]
    sec.claim(f"the sigmoid net's loss stays at log 2 = 0.693 (final "
              f"{s['losses'][-1]:.4f}) while the three mitigated nets' falls below 0.5 "
              f"(final {', '.join(f'{x:.3f}' for x in finals)})",
              abs(s["losses"][-1] - math.log(2)) < 0.01 and max(finals) < 0.5)
    healthy = [runs[v]["ratio"] for v in ("he", "bn", "res")]
    sec.claim(f"ReLU + He, + batch norm and + residual: first/last layer gradient ratio "
              f"{', '.join(f'{r:.2f}' for r in healthy)}, all within a factor "
              f"{HEALTHY_FACTOR:g} of 1",
              all(1 / HEALTHY_FACTOR <= r <= HEALTHY_FACTOR for r in healthy))


def _part_exploding(sec: Section, cfg: dict, plain: dict, clipped: dict) -> None:
    bound = cfg["max_norm"]
    factor0 = plain["pre"][0] / bound
    raw_min = min(clipped["pre"]) / bound
    sec.text(f"""
        Now the other direction. A {cfg['depth']}-layer ReLU net whose weights are drawn
        with standard deviation {cfg['gain']:g}/sqrt(fan_in) instead of He's
        sqrt(2)/sqrt(fan_in) multiplies a gradient by about {cfg['gain'] / math.sqrt(2):.1f}
        per layer. Its first gradient has norm {plain['pre'][0]:.3g}; one SGD step
        with it (lr {cfg['lr']:g}) makes the weights larger, the next gradient larger
        still, and within a few steps the numbers overflow to Inf and NaN.

        `gg.nn.utils.clip_grad_norm_(model.parameters(), max_norm={bound:g})`, called
        between `backward()` and `step()`, rescales all gradients together so their
        total norm is at most `max_norm`: the direction is kept, only the step length is
        bounded. It returns the norm before clipping, so you can watch it.""")
    sec.figure(_explode_figure(plain, clipped, cfg), "exploding-clipping",
               f"Left: the total gradient norm of every step, log scale. Without clipping "
               f"it grows until it is NaN; with clipping the norm the optimizer uses is "
               f"pinned at the bound ({bound:g}, dotted) while the raw norm stays large. "
               f"Right: the loss of both runs.")
    found = plain["monitor"].diagnose()
    shown = ([f for f in found if f.kind == "exploding"]
             + [f for f in found if f.kind == "nan"][:1])
    sec.code("\n".join(str(f) for f in shown) or "(no findings)",
             "The Monitor's findings on the unclipped run.")
    sec.text(f"""
        Clipping treats the symptom, not the cause: the raw gradient (dashed) stays at
        least {raw_min:.0f} times the bound at every step, because the init is wrong. Fix
        the init (He), and keep clipping as a guard rail against the occasional bad batch.""")
    post_max = max(clipped["post"])
    factor = max(v for v in plain["pre"] if math.isfinite(v)) / bound
    nan_step = next((i for i, v in enumerate(plain["loss"]) if not math.isfinite(v)), None)
    stays_bad = nan_step is not None and not any(
        math.isfinite(v) for v in plain["loss"][nan_step:])
    losses = clipped["loss"]
    sec.claim(f"with clipping, the norm after clip_grad_norm_ never exceeds the bound "
              f"{bound:g} (largest {post_max:.6f} over {len(losses)} steps)",
              post_max <= bound + CLIP_TOL)
    sec.claim(f"with clipping, the training loss stays finite ({losses[0]:.3g} -> "
              f"{losses[-1]:.3g}) and falls", all(map(math.isfinite, losses))
              and losses[-1] < losses[0])
    sec.claim(f"without clipping, the gradient norm exceeds the bound {factor0:.0f}-fold at "
              f"the first step (at least 100-fold) and {factor:.1e}-fold before it turns NaN",
              factor0 >= 100 and factor >= factor0)
    sec.claim(f"without clipping, the loss is NaN/Inf from step {nan_step} on", stays_bad)
    sec.claim("the Monitor flags the unclipped run as exploding",
              any(f.kind == "exploding" for f in found))
    sec.facts.update(clip_post_max=post_max, clip_bound=bound, explode_factor_first=factor0,
                     explode_factor_max=factor,
                     explode_nan_step=nan_step, clipped_losses=losses,
                     clipped_pre=clipped["pre"], clipped_post=clipped["post"],
                     plain_pre=plain["pre"], plain_losses=plain["loss"],
                     plain_findings=[(f.kind, f.layer) for f in found])


def vanishing(ctx: Context) -> Section:
    """Four deep nets' gradient norms per layer, and an exploding net with and without
    gradient clipping."""
    sec = Section("vanishing", "Vanishing and exploding gradients, and what fixes them", ctx)
    cfg = config(ctx.fast)
    runs = _deep_runs(ctx, cfg["deep"])
    _part_vanishing(sec, cfg["deep"], runs)
    sec.facts.update(
        config=cfg,
        ratio={v: r["ratio"] for v, r in runs.items()},
        median_norms={v: r["median"] for v, r in runs.items()},
        step0_norms={v: r["step0"] for v, r in runs.items()},
        findings={v: [(f.kind, f.layer) for f in r["findings"]] for v, r in runs.items()},
        losses={v: r["losses"] for v, r in runs.items()},
        sigmoid_factor_per_layer=float((runs["sigmoid"]["step0"][0] / runs["sigmoid"]["step0"][-1])
                                       ** (1 / (cfg["deep"]["depth"] - 1))),
    )
    ex = cfg["explode"]
    X, y = make_data(ex["n"], ctx.seed)
    plain = train_exploding(build_exploding_net(ex["depth"], ex["width"], ex["gain"], ctx.seed),
                            X, y, ex["steps"], ex["lr"])
    clipped = train_exploding(
        build_exploding_net(ex["depth"], ex["width"], ex["gain"], ctx.seed),
        X, y, ex["steps"], ex["lr"], max_norm=ex["max_norm"])
    _part_exploding(sec, ex, plain, clipped)
    return sec
