"""Lesson: debugging gradients: where a NaN was born, and a layer that does not learn.

Part 1: a small classifier written the natural way, ``log(softmax(logits))``, trains on
un-normalised inputs; a probability underflows to exactly 0 and ``log`` makes ``-inf``,
then ``NaN``. ``gg.autograd.detect_anomaly()`` stops at the op where the first
non-finite value was born and names it, the line that called it and its inputs' range;
``log_softmax`` (log-sum-exp) is the fix.

Part 2: one layer of a ReLU net starts with most of its units dead (a large negative
bias); ``gg.diagnostics.Monitor`` names exactly that layer, and its dead units get a
gradient of exactly 0 at every step.

The network code of part 1 is compiled from :data:`NET_SOURCE` under a file name of its
own (registered with :mod:`linecache`), so anomaly mode reports a place in the code the
reader sees, not in glassgrad's package (whose frames it skips on purpose).
"""

from __future__ import annotations

import linecache
import math

import numpy as np

import glassgrad as gg

from ._report import Context, Section

__all__ = ["NET_SOURCE", "BUG_LINE", "FIX_LINE", "SOURCE_NAMES", "load_net_code",
           "raw_data", "build_dead_net", "relu_paths", "dead_fractions", "debugging"]

# -- part 1: the NaN --------------------------------------------------------------------
NET_SOURCE = '''\
class Net(gg.nn.Module):
    """A 2 -> 16 -> 2 classifier that returns log-probabilities."""

    def __init__(self):
        super().__init__()
        self.hidden = gg.nn.Linear(2, 16)
        self.out = gg.nn.Linear(16, 2)

    def forward(self, x):
        logits = self.out(F.relu(self.hidden(x)))
        return {logprob}


def train(model, X, Y1, steps, lr):
    opt = gg.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = -(model(X) * Y1).sum(dim=1).mean()   # cross-entropy, Y1 one-hot
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def experiment(X, Y1, steps, lr):
    model = Net()
    return model, train(model, X, Y1, steps, lr)
'''
BUG_LINE = "gg.log(F.softmax(logits, dim=1))   # log of a probability"
FIX_LINE = "F.log_softmax(logits, dim=1)       # logits - logsumexp(logits)"
SOURCE_NAMES = {"bug": "<lesson: net.py>", "fix": "<lesson: net_fixed.py>"}
RAW_SCALE, RAW_OFFSET = 1000.0, 2000.0   # the inputs' units: x * 1000 + 2000


def load_net_code(which: str) -> dict:
    """Compile :data:`NET_SOURCE` with the bug (``"bug"``) or the fix (``"fix"``) under
    the file name ``SOURCE_NAMES[which]`` and return its namespace (``Net``, ``train``,
    ``experiment``). The source is put into :mod:`linecache`, so tracebacks and anomaly
    reports show its lines."""
    source = NET_SOURCE.format(logprob=BUG_LINE if which == "bug" else FIX_LINE)
    name = SOURCE_NAMES[which]
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    namespace = {"gg": gg, "F": gg.nn.functional, "__name__": f"lesson_net_{which}"}
    exec(compile(source, name, "exec"), namespace)  # our own constant source
    namespace["source"] = source
    return namespace


def raw_data(n: int, seed: int):
    """Two moons in raw units (``x * 1000 + 2000``, as if nobody normalised them):
    float32 inputs, int64 labels and one-hot float32 targets."""
    X, y = gg.data.two_moons(n, noise=0.1, seed=seed)
    X = (X * RAW_SCALE + RAW_OFFSET).astype(np.float32)
    return X, y, np.eye(2, dtype=np.float32)[y]


def _line_of(source: str, text: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


def _nan_part(sec: Section, ctx: Context) -> None:
    n, steps, lr = (64, 30, 0.05) if ctx.fast else (256, 60, 0.05)
    X, y, Y1 = raw_data(n, ctx.seed)
    Xt, Y1t = gg.tensor(X), gg.tensor(Y1)
    bug, fix = load_net_code("bug"), load_net_code("fix")

    # 1. the symptom: NaN loss, NaN weights, no hint where from
    gg.manual_seed(ctx.seed)
    with np.errstate(all="ignore"):
        model, plain_losses = bug["experiment"](Xt, Y1t, 3, lr)
    nan_weights = sum(int(np.isnan(p.numpy()).sum()) for p in model.parameters())
    n_weights = sum(p.numpy().size for p in model.parameters())

    # 2. anomaly mode: stops where the first non-finite value is born
    gg.manual_seed(ctx.seed)
    err = None
    try:
        with gg.autograd.detect_anomaly():
            bug["experiment"](Xt, Y1t, steps, lr)
    except gg.autograd.AnomalyError as exc:
        err = exc

    # 3. the fix: log_softmax, same init, same data; then also normalised inputs
    gg.manual_seed(ctx.seed)
    fixed_model, fixed_losses = fix["experiment"](Xt, Y1t, steps, lr)
    Xn = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    gg.manual_seed(ctx.seed)
    norm_model, norm_losses = fix["experiment"](gg.tensor(Xn), Y1t, steps, lr)
    gg.manual_seed(ctx.seed)
    logits0 = _logits(bug["Net"](), Xt)

    sec.text(f"""
        A NaN in the loss is a symptom; the place it was born is usually far away. Here a
        2-16-2 classifier is trained on two moons whose coordinates are in raw units
        (`x * {RAW_SCALE:g} + {RAW_OFFSET:g}`, {n} points; nobody normalised them), with
        the cross-entropy written the natural way: log-probabilities as
        `gg.log(F.softmax(logits))`. Run plainly, the first loss is already
        `{plain_losses[0]}`, and after {len(plain_losses)} Adam steps {nan_weights} of the
        {n_weights} weights are NaN. Nothing says where it came from.""")
    sec.code(bug["source"], f"The network code, {SOURCE_NAMES['bug']}.")
    sec.text("""
        Under `with gg.autograd.detect_anomaly():` every op checks its output, and the
        first one that makes a NaN or Inf from finite inputs raises `AnomalyError`: the
        root cause, not the first op that merely passes a NaN on. Its message names the
        op, the line that called it and the range of each input; the same facts are
        attributes (`err.op`, `err.phase`, `err.filename`, `err.lineno`, `err.inputs`).""")
    if err is None:
        sec.claim("anomaly mode raises AnomalyError on the log(softmax) network", False)
        return
    sec.code(str(err), "The AnomalyError raised in the training step, as printed.")
    inp = err.inputs[0] if err.inputs else {}
    bug_line = _line_of(bug["source"], "gg.log(")
    probs0 = gg.nn.functional.softmax(gg.tensor(logits0), dim=1).numpy()
    spread = float(np.max(np.abs(logits0[:, 0] - logits0[:, 1])))
    sec.text(f"""
        Read it: `log` got finite inputs whose smallest value is exactly
        {inp.get('min')}: a probability that underflowed. With raw inputs the two
        logits of a point differ by up to {spread:.0f} at the start, and a float32
        `exp(-d)` is 0 once `d` exceeds about 104; `softmax` returns an exact 0,
        `log(0) = -inf`, and `-inf * 0` (the one-hot mask) is NaN.
        {int((probs0 == 0).sum())} of the {probs0.size} probabilities of the first batch
        are exactly 0.

        The fix is to never form the probability: `F.log_softmax` computes
        `logits - logsumexp(logits)`, and log-sum-exp subtracts the largest logit before
        exponentiating, so the result is finite (a very negative number, not -inf).
        Normalising the inputs removes the cause of the huge logits as well.""")
    sec.side_by_side(("the bug", f"return {BUG_LINE}"), ("the fix", f"return {FIX_LINE}"))
    sec.figure(_nan_figure(plain_losses, fixed_losses, norm_losses), "debugging-nan-fix",
               "Training loss per Adam step (log scale): the log(softmax) version is NaN from "
               "the first step and is not drawn; log_softmax trains on the raw inputs, and "
               "faster on normalised ones.")

    acc = _accuracy(norm_model, Xn, y)
    sec.claim(f"anomaly mode names the op where the NaN was born: {err.op!r} in the "
              f"{err.phase} pass", err.op == "log" and err.phase == "forward")
    sec.claim(f"it names the line that called it: {err.filename} line {err.lineno} "
              f"(the `gg.log(F.softmax(...))` line)",
              err.filename == SOURCE_NAMES["bug"] and err.lineno == bug_line)
    sec.claim(f"its input was finite and held an exact 0 (min {inp.get('min')}, "
              f"{inp.get('nan')} NaN, {inp.get('inf')} Inf)",
              inp.get("min") == 0.0 and inp.get("nan") == 0 and inp.get("inf") == 0)
    sec.claim(f"without anomaly mode the loss is NaN ({plain_losses[0]}) and the weights "
              f"turn NaN ({nan_weights} of {n_weights} after {len(plain_losses)} steps)",
              math.isnan(plain_losses[0]) and nan_weights > 0)
    sec.claim(f"with log_softmax the same network trains with finite loss for all {steps} "
              f"steps ({fixed_losses[0]:.3g} -> {fixed_losses[-1]:.3g})",
              all(map(math.isfinite, fixed_losses)) and fixed_losses[-1] < fixed_losses[0])
    sec.claim(f"with normalised inputs as well, the loss falls to {norm_losses[-1]:.3f} "
              f"({100 * acc:.0f}% of the points classified correctly)",
              all(map(math.isfinite, norm_losses)) and norm_losses[-1] < 0.3)
    sec.facts.update(
        anomaly_op=err.op, anomaly_phase=err.phase, anomaly_filename=err.filename,
        anomaly_lineno=err.lineno, anomaly_inputs=err.inputs, anomaly_message=str(err),
        bug_source=bug["source"], bug_line=bug_line, plain_losses=plain_losses,
        nan_weights=nan_weights, fixed_losses=fixed_losses, norm_losses=norm_losses,
        norm_accuracy=acc, logits0=logits0, labels0=y, zero_probs0=int((probs0 == 0).sum()))


def _logits(model, Xt) -> np.ndarray:
    """The classifier's logits (its forward before the log-probability line)."""
    with gg.no_grad():
        return model.out(gg.nn.functional.relu(model.hidden(Xt))).numpy()


def _accuracy(model, X, y) -> float:
    with gg.no_grad():
        return float((model(gg.tensor(X)).numpy().argmax(1) == y).mean())


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _nan_figure(plain, fixed, norm):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.6))

    def clean(v):
        return np.array([x if math.isfinite(x) else np.nan for x in v])

    ax.semilogy(clean(fixed), "s-", ms=3, color="#0072B2", label="log_softmax, raw inputs")
    ax.semilogy(clean(norm), "o-", ms=3, color="#009E73",
                label="log_softmax, normalised inputs")
    ax.text(0.98, 0.95, f"log(softmax): the loss is {plain[0]} from step 0, nothing to draw",
            transform=ax.transAxes, ha="right", va="top", color="#D55E00", fontsize=9)
    ax.set(xlabel="Adam step", ylabel="training loss (cross-entropy)",
           title="The same network, before and after the fix")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


# -- part 2: the dead layer -------------------------------------------------------------
DEAD_LINEAR = 2      # Sequential index of the Linear whose bias is broken
DEAD_RELU = "3"      # the ReLU after it: the layer the Monitor should name
DEAD_UNITS = 24      # of WIDTH
WIDTH = 32
DEAD_BIAS = -10.0


def build_dead_net(seed: int, broken: bool = True) -> gg.nn.Sequential:
    """2 -> 32 -> 32 -> 32 -> 2 ReLU net, He init, zero biases; ``broken``: the first
    :data:`DEAD_UNITS` biases of the second Linear are :data:`DEAD_BIAS` (a bad init, or
    what one huge update can leave), so those ReLU units never switch on."""
    gg.manual_seed(seed)
    net = gg.nn.Sequential(
        gg.nn.Linear(2, WIDTH), gg.nn.ReLU(),
        gg.nn.Linear(WIDTH, WIDTH), gg.nn.ReLU(),
        gg.nn.Linear(WIDTH, WIDTH), gg.nn.ReLU(),
        gg.nn.Linear(WIDTH, 2))
    for mod in net.modules():
        if isinstance(mod, gg.nn.Linear):
            gg.nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
            gg.nn.init.zeros_(mod.bias)
    if broken:
        bias = net[DEAD_LINEAR].bias.numpy().copy()
        bias[:DEAD_UNITS] = DEAD_BIAS
        with gg.no_grad():
            net[DEAD_LINEAR].bias.copy_(gg.tensor(bias))
    return net


def relu_paths(net) -> list:
    return [p for p, m in net.named_modules() if isinstance(m, gg.nn.ReLU)]


def dead_fractions(mon, paths) -> dict:
    """Fraction of dead units per ReLU layer in the Monitor's last record."""
    acts = mon.history[-1]["activations"]
    return {p: acts[p]["dead"] for p in paths}


def _train_dead(net, X, y, steps: int, lr: float) -> dict:
    """SGD with a Monitor; also the largest |gradient| reaching the broken units' weights
    at each step, and the weights of the last recorded forward (for a test)."""
    opt = gg.optim.SGD(net.parameters(), lr=lr)
    mon = gg.diagnostics.Monitor(net, opt)
    Xt, yt = gg.tensor(X), gg.tensor(y)
    dead_grad, losses, last_state = [], [], None
    for _ in range(steps):
        last_state = {k: v.numpy().copy() for k, v in net.state_dict().items()}
        opt.zero_grad()
        loss = gg.nn.functional.cross_entropy(net(Xt), yt)
        loss.backward()
        mon.step()
        opt.step()
        layer = net[DEAD_LINEAR]
        g = np.concatenate([layer.weight.grad.numpy()[:DEAD_UNITS].ravel(),
                            layer.bias.grad.numpy()[:DEAD_UNITS]])
        dead_grad.append(float(np.max(np.abs(g))))
        losses.append(loss.item())
    mon.remove()
    return {"monitor": mon, "dead_grad": dead_grad, "losses": losses, "state": last_state}


def _dead_figure(broken: dict, healthy: dict, paths: list):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    x = np.arange(len(paths))
    w = 0.38
    b = [100 * broken[p] for p in paths]
    h = [100 * healthy[p] for p in paths]
    ax.bar(x - w / 2, b, w, color="#D55E00",
           label=f"broken: bias {DEAD_BIAS:g} on {DEAD_UNITS} units of hidden layer 2")
    ax.bar(x + w / 2, h, w, color="#0072B2", label="zero biases (the fix)")
    for xi, v in [*zip(x - w / 2, b), *zip(x + w / 2, h)]:
        ax.annotate(f"{v:.0f}%", (xi, v), ha="center", va="bottom", fontsize=9,
                    xytext=(0, 2), textcoords="offset points")
    ax.axhline(50, color="black", ls=":", lw=1.2, label="Monitor's threshold (50%)")
    ax.set_xticks(x, [f"ReLU '{p}' (hidden {i + 1})" for i, p in enumerate(paths)])
    ax.set(ylabel="dead units (%)", ylim=(0, 105),
           title="Units that output 0 for every sample of the batch")
    ax.legend(fontsize=9, loc="upper right")
    fig.tight_layout()
    return fig


def _dead_part(sec: Section, ctx: Context) -> None:
    n, steps, lr = (128, 15, 0.1) if ctx.fast else (256, 40, 0.1)
    X, y = gg.data.two_moons(n, noise=0.1, seed=ctx.seed)
    X = X.astype(np.float32)
    broken = _train_dead(build_dead_net(ctx.seed, broken=True), X, y, steps, lr)
    healthy = _train_dead(build_dead_net(ctx.seed, broken=False), X, y, steps, lr)
    paths = relu_paths(build_dead_net(ctx.seed))
    frac_b = dead_fractions(broken["monitor"], paths)
    frac_h = dead_fractions(healthy["monitor"], paths)
    found_b = broken["monitor"].diagnose()
    found_h = healthy["monitor"].diagnose()
    dead_b = sorted(f.layer for f in found_b if f.kind == "dead_relu")
    dead_h = sorted(f.layer for f in found_h if f.kind == "dead_relu")

    sec.text(f"""
        The second classic: nothing is NaN, but part of the network does not learn. A
        ReLU unit whose pre-activation is negative for every input outputs 0, its
        local derivative is 0, so its weights get **exactly zero gradient** and it can
        never come back: a dead unit. Here a 2-32-32-32-2 ReLU net starts with a bias of
        {DEAD_BIAS:g} on {DEAD_UNITS} of the {WIDTH} units of its second hidden layer
        (module `{DEAD_LINEAR}`, whose ReLU is module `'{DEAD_RELU}'`); it trains for
        {steps} SGD steps (lr {lr:g}) under `gg.diagnostics.Monitor`, whose forward hooks
        count, for every ReLU module, the units that gave 0 for every sample of the
        batch.""")
    sec.figure(_dead_figure(frac_b, frac_h, paths), "debugging-dead-relu",
               f"Dead units per ReLU layer at the last step, from the Monitor's records. "
               f"Only the second hidden layer is dead ({100 * frac_b[DEAD_RELU]:.0f}%); the "
               f"dotted line is the fraction above which `diagnose()` reports it.")
    text = "\n".join(str(f) for f in found_b) or "(no findings)"
    sec.code(text, "`for f in mon.diagnose(): print(f)` on the broken net.")
    sec.text(f"""
        The largest gradient that reached the {DEAD_UNITS} dead units' weights and
        biases over all {steps} steps was {max(broken['dead_grad'])}: not small, zero.
        The optimizer cannot revive them; only a different init (zero or small positive
        biases, He weights), a lower learning rate (a huge step is how units usually
        die), LeakyReLU or batch norm before the ReLU prevent it. With zero biases the
        same net has {100 * frac_h[DEAD_RELU]:.1f}% dead units in that layer and the
        Monitor reports {len(dead_h)} dead layers.""")

    sec.claim(f"the Monitor names exactly layer '{DEAD_RELU}' as dead "
              f"({100 * frac_b[DEAD_RELU]:.0f}% of its units), and neither healthy ReLU "
              f"layer", dead_b == [DEAD_RELU])
    sec.claim(f"the dead units' weights got a gradient of exactly 0 at all {steps} steps",
              max(broken["dead_grad"]) == 0.0)
    sec.claim("with zero biases the Monitor flags no layer as dead", dead_h == [])
    sec.facts.update(
        dead_layers=dead_b, dead_layers_fixed=dead_h, dead_fraction=frac_b,
        dead_fraction_fixed=frac_h, dead_grad_max=max(broken["dead_grad"]),
        dead_findings=[(f.kind, f.layer) for f in found_b], dead_state=broken["state"],
        dead_X=X, dead_paths=paths)


def debugging(ctx: Context) -> Section:
    """A NaN traced to its birth by anomaly mode, and a dead layer found by the Monitor."""
    sec = Section("debugging",
                  "Debugging: where a NaN was born, and a layer that does not learn", ctx)
    _nan_part(sec, ctx)
    _dead_part(sec, ctx)
    return sec
