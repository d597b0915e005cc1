"""Lesson: modifying gradient flow, the seed's "Research" card, three ways.

(a) A hook on an intermediate tensor rewrites the gradient that passes through it
(halving it, reversing it) or just looks at it; every gradient upstream changes by the
same factor, exactly, and nothing downstream does. (b) A reversible block (RevNet's
additive coupling) whose backward rebuilds its inputs from its outputs: the same
gradients as the ordinary block, and a stack of them keeps no activations. (c) Synthetic
gradients: the first part of a network learns from a *predicted* gradient, never from
the true backward, and still learns.
"""

from __future__ import annotations

import inspect

import numpy as np

import glassgrad as gg

from ._report import Context, Section

__all__ = ["flow", "hooked_gradients", "ReversibleStack", "make_blocks", "block_parameters",
           "plain_stack", "reversible_stack", "invert_stack", "rev_loss"]

F = gg.nn.functional
BLUE, VERMILION, GREEN, ORANGE, GREY = "#0072B2", "#D55E00", "#009E73", "#E69F00", "#6b6b6b"


# -- (a) hooks ---------------------------------------------------------------------------

def hooked_gradients(arrays: dict, hook=None) -> dict:
    """Gradients of ``mean(tanh(h W2 + b2)^2)``, ``h = tanh(x W1 + b1)``, with ``hook``
    (if any) registered on the intermediate ``h``."""
    t = {k: gg.tensor(v, requires_grad=True) for k, v in arrays.items()}
    h = gg.tanh(t["x"] @ t["W1"] + t["b1"])
    if hook is not None:
        h.register_hook(hook)           # runs when dL/dh is known; may return a new one
    loss = (gg.tanh(h @ t["W2"] + t["b2"]) ** 2).mean()
    loss.backward()
    return {k: v.grad.numpy() for k, v in t.items()}


def _hook_arrays(rng, fast: bool) -> dict:
    n, d, k, m = (8, 5, 6, 3) if fast else (32, 10, 16, 4)
    return {"x": rng.standard_normal((n, d)), "W1": rng.standard_normal((d, k)) / np.sqrt(d),
            "b1": 0.1 * rng.standard_normal(k), "W2": rng.standard_normal((k, m)) / np.sqrt(k),
            "b2": 0.1 * rng.standard_normal(m)}


UPSTREAM, DOWNSTREAM = ("x", "W1", "b1"), ("W2", "b2")


def _hooks_part(sec: Section, rng) -> None:
    arrays = _hook_arrays(rng, sec.ctx.fast)
    plain = hooked_gradients(arrays)
    seen = []

    def inspect_hook(g):
        seen.append(float(np.linalg.norm(g.numpy())))   # returns None: g flows on unchanged

    looked = hooked_gradients(arrays, inspect_hook)
    factors = {"halve": 0.5, "reverse": -1.0}
    hooked = {name: hooked_gradients(arrays, lambda g, c=c: g * c)
              for name, c in factors.items()}

    rows, devs = [], {}
    for k in UPSTREAM + DOWNSTREAM:
        expected = {name: (c if k in UPSTREAM else 1.0) for name, c in factors.items()}
        cells = [f"`{k}`", "upstream of h" if k in UPSTREAM else "downstream of h",
                 f"{np.linalg.norm(plain[k]):.4f}"]
        for name in factors:
            g, c = hooked[name][k], expected[name]
            devs[(name, k)] = float(np.max(np.abs(g - c * plain[k])))
            ratio = float(np.sum(g * plain[k]) / np.sum(plain[k] ** 2))
            cells += [f"{ratio:+.4f}", f"{devs[(name, k)]:.1e}"]
        rows.append(cells)
    exact = max(devs.values())
    inspected_same = all(np.array_equal(looked[k], plain[k]) for k in plain)

    sec.text(
        "**(a) Hooks.** `t.register_hook(fn)` asks backward to call `fn(grad)` when the "
        "gradient of `t` is known; what `fn` returns replaces it and is what flows on to "
        "everything `t` was computed from. Below, the hook sits on the hidden layer `h` "
        "of a two-layer net. A hook that halves (`g * 0.5`) or reverses (`-g`, the "
        "gradient-reversal layer of domain-adversarial training) changes the gradients "
        "of `x`, `W1`, `b1` by exactly that factor, and those of `W2`, `b2` not at all: "
        "backward is linear in the incoming gradient, and they lie on the other side.")
    sec.code(inspect.getsource(hooked_gradients), "The network, with the hook on h.")
    sec.table(["tensor", "where", "‖grad‖ no hook", "ratio (halve)",
               "max |g − c·g₀| (halve)", "ratio (reverse)", "max |g − c·g₀| (reverse)"],
              rows, "ratio: <g, g₀> / <g₀, g₀>, the hooked gradient g as a multiple of the "
              "plain one g₀; c the expected factor (0.5 or −1 upstream, 1 downstream).")
    sec.text(
        f"A hook that returns nothing only looks: it saw ‖dL/dh‖ = {seen[0]:.4f} and "
        "left every gradient bit for bit as it was, the cheapest way to watch a gradient "
        "inside a network without changing it.")
    sec.facts.update({"hook_max_deviation": exact, "hook_grads_plain": plain,
                      "hook_grads": hooked, "hook_arrays": arrays, "hook_seen_norm": seen[0]})
    sec.claim(f"Hooks on h scale every upstream gradient by exactly 0.5 or -1 and leave "
              f"the downstream ones unchanged (max deviation {exact:.1e})", exact == 0.0)
    sec.claim("A hook that returns None leaves all gradients bit-identical",
              inspected_same and len(seen) == 1)


# -- (b) reversible blocks -----------------------------------------------------------------

def _mlp(dim: int, hidden: int) -> gg.nn.Module:
    return gg.nn.Sequential(gg.nn.Linear(dim, hidden), gg.nn.Tanh(), gg.nn.Linear(hidden, dim))


def make_blocks(n: int, dim: int, hidden: int, seed: int) -> list:
    """``n`` coupling blocks, each a pair (F, G) of float64 MLPs on halves of width ``dim``."""
    gg.manual_seed(seed)
    return [(_mlp(dim, hidden).double(), _mlp(dim, hidden).double()) for _ in range(n)]


def block_parameters(blocks) -> list:
    return [p for f, g in blocks for m in (f, g) for p in m.parameters()]


def plain_stack(x1, x2, blocks):
    """The coupling blocks recorded op by op (every activation kept for backward)."""
    for f, g in blocks:
        x1 = x1 + f(x2)
        x2 = x2 + g(x1)
    return x1, x2


def invert_stack(y1, y2, blocks):
    """The stack run backwards: each block's inputs from its outputs, no graph."""
    with gg.no_grad():
        for f, g in reversed(blocks):
            y2 = y2 - g(y1)
            y1 = y1 - f(y2)
    return y1, y2


class ReversibleStack(gg.autograd.Function):
    """``apply(x1, x2, blocks, *params)``: the stack as one node that saves only its outputs.

    Backward, block by block from the last: rebuild x2 = y2 - G(y1), x1 = y1 - F(x2),
    and get the vector-Jacobian products of G and F from a re-run of each on its input.
    """

    @staticmethod
    def forward(ctx, x1, x2, blocks, *params):
        y1, y2 = plain_stack(x1, x2, blocks)   # Function.forward records nothing
        ctx.blocks = blocks
        ctx.save_for_backward(y1, y2)
        return y1, y2

    @staticmethod
    def backward(ctx, gy1, gy2):
        y1, y2 = (t.detach() for t in ctx.saved_tensors)
        grads = []
        for f, g in reversed(ctx.blocks):
            pf, pg = list(f.parameters()), list(g.parameters())
            with gg.enable_grad():
                y1_ = y1.detach().requires_grad_()
                g_out = g(y1_)                                  # y2 = x2 + G(y1)
                dy1, *dpg = gg.autograd.grad(g_out, [y1_, *pg], grad_outputs=gy2)
                x2 = (y2 - g_out).detach().requires_grad_()
                gy1 = gy1 + dy1
                f_out = f(x2)                                   # y1 = x1 + F(x2)
                dx2, *dpf = gg.autograd.grad(f_out, [x2, *pf], grad_outputs=gy1)
                x1 = (y1 - f_out).detach()
            gy2 = gy2 + dx2
            grads.append(dpf + dpg)
            y1, y2 = x1, x2.detach()
        return (gy1, gy2, None, *(p for block in reversed(grads) for p in block))


def reversible_stack(x1, x2, blocks):
    return ReversibleStack.apply(x1, x2, blocks, *block_parameters(blocks))


def rev_loss(y1, y2):
    return (y1 * y1).sum() + (y2 * gg.tanh(y2)).sum()


def _stack_grads(run, a, b, blocks) -> list:
    """Gradients of ``rev_loss`` through ``run`` for the inputs and every parameter."""
    params = block_parameters(blocks)
    for p in params:
        p.grad = None
    x1, x2 = gg.tensor(a, requires_grad=True), gg.tensor(b, requires_grad=True)
    rev_loss(*run(x1, x2, blocks)).backward()
    return [x1.grad.numpy(), x2.grad.numpy()] + [p.grad.numpy() for p in params]


def _saved_activation_bytes(run, a, b, blocks) -> int:
    """Bytes the graph keeps for backward, not counting the parameters (leaf arrays)."""
    x1, x2 = gg.tensor(a, requires_grad=True), gg.tensor(b, requires_grad=True)
    s = gg.autograd.saved_tensors_summary(rev_loss(*run(x1, x2, blocks)))
    return s.total_bytes - s.leaf_bytes


def _figure_memory(depths, plain, rev):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.6), constrained_layout=True)
    pos = np.arange(len(depths))
    for shift, values, colour, label in ((-0.2, plain, VERMILION, "ordinary stack"),
                                         (0.2, rev, BLUE, "reversible stack")):
        bars = ax.bar(pos + shift, np.array(values) / 1024, 0.4, color=colour, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize=8, padding=2)
    ax.margins(y=0.12)
    ax.set_xticks(pos, [str(n) for n in depths])
    ax.set(title="What the graph keeps for backward", xlabel="number of coupling blocks N",
           ylabel="saved activations (KiB)")
    ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def _reversible_part(sec: Section, rng) -> None:
    fast = sec.ctx.fast
    dim, hidden, batch = (4, 16, 8) if fast else (16, 64, 64)
    depths = [1, 2, 4, 8] if fast else [1, 2, 4, 8, 16, 32]
    a, b = rng.standard_normal((batch, dim)), rng.standard_normal((batch, dim))

    n_check = 4
    blocks = make_blocks(n_check, dim, hidden, sec.ctx.seed)
    ref = _stack_grads(plain_stack, a, b, blocks)
    got = _stack_grads(reversible_stack, a, b, blocks)
    diff = max(float(np.max(np.abs(u - v))) for u, v in zip(ref, got))

    plain_mem, rev_mem, recon = [], [], 0.0
    for n in depths:
        blocks = make_blocks(n, dim, hidden, sec.ctx.seed + n)
        plain_mem.append(_saved_activation_bytes(plain_stack, a, b, blocks))
        rev_mem.append(_saved_activation_bytes(reversible_stack, a, b, blocks))
        with gg.no_grad():
            y1, y2 = plain_stack(gg.tensor(a), gg.tensor(b), blocks)
        r1, r2 = invert_stack(y1, y2, blocks)
        recon = max(recon, float(np.max(np.abs(r1.numpy() - a))),
                    float(np.max(np.abs(r2.numpy() - b))))
    saving = plain_mem[-1] / rev_mem[-1]

    sec.text(
        "**(b) Reversible blocks.** Backprop keeps every activation until backward needs "
        "it, so memory grows with depth. An additive coupling block splits its input in "
        "halves and computes `y1 = x1 + F(x2)`, `y2 = x2 + G(y1)`; it can be undone "
        "exactly, `x2 = y2 - G(y1)`, `x1 = y1 - F(x2)`, whatever F and G are. So the "
        "stack's backward can rebuild each block's input from its output instead of "
        "storing it: below, the whole stack is one `Function` that saves only its two "
        "outputs, and its backward walks the blocks from the last, rebuilding and then "
        "re-running F and G to get their vector-Jacobian products.")
    sec.code(inspect.getsource(ReversibleStack), "The reversible stack as one custom "
             "Function (F, G: Linear-Tanh-Linear, float64).")
    sec.table(["check", "value"], [
        [f"max |grad difference|, reversible vs ordinary ({n_check} blocks, inputs and "
         f"all {len(ref) - 2} parameters)", f"{diff:.1e}"],
        [f"max |x − rebuilt x| after N = {depths[-1]} blocks forward and back",
         f"{recon:.1e}"],
        [f"saved activations, N = {depths[-1]}: ordinary / reversible",
         f"{plain_mem[-1] / 1024:.1f} KiB / {rev_mem[-1] / 1024:.1f} KiB"]],
        "Gradients and reconstruction in float64; memory by "
        "`gg.autograd.saved_tensors_summary(loss)`, less the parameters' own arrays.")
    sec.figure(_figure_memory(depths, plain_mem, rev_mem), "flow_reversible_memory",
               f"Saved activations against depth (halves of width {dim}, hidden {hidden}, "
               f"batch {batch}): the ordinary stack's grow with N, the reversible stack's "
               "stay at its outputs (and the loss's own few), whatever N.")
    sec.text(
        f"At N = {depths[-1]} the reversible stack keeps **{saving:.0f}x** less for "
        "backward. The price is compute: each F and G runs twice (once forward, once to "
        "rebuild) and the rebuilt values carry rounding, tiny here because a subtraction "
        "undoes an addition.")
    sec.facts.update({"rev_grad_diff": diff, "rev_recon_error": recon, "rev_depths": depths,
                      "rev_plain_bytes": plain_mem, "rev_bytes": rev_mem,
                      "rev_saving": saving, "rev_sizes": (dim, hidden, batch)})
    sec.claim(f"Reversible-stack gradients equal the ordinary stack's (max difference "
              f"{diff:.1e} < 1e-10, float64)", diff < 1e-10)
    sec.claim(f"Inputs rebuilt from outputs through {depths[-1]} blocks to {recon:.1e} "
              "(< 1e-10)", recon < 1e-10)
    sec.claim(f"Saved activations at N = {depths[-1]}: {saving:.0f}x less with the "
              "reversible stack, and constant in N",
              saving > 2 and len(set(rev_mem)) == 1 and plain_mem == sorted(plain_mem))


# -- (c) synthetic gradients ---------------------------------------------------------------

N_IN, N_CLASSES = 10, 4


def _teacher(n: int, rng):
    """Gaussian points labelled by the argmax of a random tanh network (4 classes)."""
    w1, w2 = rng.standard_normal((N_IN, 32)), rng.standard_normal((32, N_CLASSES))
    x = rng.standard_normal((n, N_IN))
    return x, (np.tanh(x @ w1) @ w2).argmax(axis=1)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum() / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


def _nets(width: int, seed: int):
    """(part1, part2, M), the same initial weights for a given seed. M, which predicts
    dL/dh from h and the label, starts at zero."""
    gg.manual_seed(seed)
    part1 = gg.nn.Sequential(gg.nn.Linear(N_IN, width), gg.nn.ReLU()).double()
    part2 = gg.nn.Sequential(gg.nn.Linear(width, width), gg.nn.ReLU(),
                             gg.nn.Linear(width, N_CLASSES)).double()
    m = gg.nn.Linear(width + N_CLASSES, width).double()
    gg.nn.init.zeros_(m.weight)
    gg.nn.init.zeros_(m.bias)
    return part1, part2, m


def _sg_step(nets, opts, xb, yb, onehot, batch):
    """One step: part1 from M's prediction, part2 from the loss, M from the true dL/dh.
    Returns (loss, cosine between prediction and true gradient)."""
    part1, part2, m = nets
    for o in opts:
        o.zero_grad()
    h = part1(xb)
    with gg.no_grad():
        g_hat = m(gg.concatenate([h, onehot], axis=1))   # predicted per-sample dL/dh
    h.backward(g_hat / batch)                             # part1's grads: (dh/dθ)^T ĝ
    h_in = h.detach().requires_grad_()
    loss = F.cross_entropy(part2(h_in), yb)
    loss.backward()                                       # part2's grads, and dL/dh
    target = h_in.grad * batch
    F.mse_loss(m(gg.concatenate([h.detach(), onehot], axis=1)), target).backward()
    for o in opts:
        o.step()
    return loss.item(), _cosine(g_hat.numpy(), target.numpy())


def _train(steps: int, width: int, batch: int, seed: int, mode: str, ctx, lr=3e-3):
    """Losses (and, for ``mode="synthetic"``, cosines) of one run on the teacher task.

    ``"synthetic"``: part1 learns from M's prediction; ``"backprop"``: the whole network
    from the true gradient; ``"frozen"``: part1 stays at its initial weights (the
    baseline that tells whether part1 learned anything). Same data, batches and initial
    weights in all three.
    """
    rng = np.random.default_rng(seed)
    x, y = _teacher(4096, rng)
    eye = np.eye(N_CLASSES)
    nets = _nets(width, seed)
    part1, part2, m = nets
    opts = [gg.optim.Adam(n.parameters(), lr=lr) for n in nets]
    trained = {"backprop": opts[:2], "frozen": opts[1:2]}.get(mode)
    losses, cosines = [], []
    for _ in ctx.steps(range(steps), desc=f"flow: {mode}"):
        idx = rng.integers(0, len(x), batch)
        xb, yb = gg.tensor(x[idx]), gg.tensor(y[idx])
        if mode == "synthetic":
            loss, cos = _sg_step(nets, opts, xb, yb, gg.tensor(eye[y[idx]]), batch)
            cosines.append(cos)
        else:
            for o in trained:
                o.zero_grad()
            h = part1(xb) if mode == "backprop" else part1(xb).detach()
            loss_t = F.cross_entropy(part2(h), yb)
            loss_t.backward()
            for o in trained:
                o.step()
            loss = loss_t.item()
        losses.append(loss)
    return np.array(losses), np.array(cosines)


def _smooth(v: np.ndarray, k: int) -> np.ndarray:
    k = max(1, min(k, len(v)))
    return np.convolve(v, np.ones(k) / k, mode="valid")


def _figure_sg(bp, sg, frozen, cos, k):
    plt = _plt()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.6), constrained_layout=True)
    steps = np.arange(len(sg))
    for v, colour, label in ((frozen, VERMILION, "first layer frozen"),
                             (bp, GREY, "backprop"), (sg, BLUE, "synthetic gradients")):
        left.plot(steps, v, color=colour, alpha=0.25, lw=0.8)
        left.plot(steps[k - 1:], _smooth(v, k), color=colour, lw=2, label=label)
    left.set(title="Training loss", xlabel="step", ylabel="cross-entropy (nats)")
    left.legend()
    right.axhline(0, color=GREY, lw=0.8)
    right.plot(steps, cos, color=ORANGE, alpha=0.3, lw=0.8)
    right.plot(steps[k - 1:], _smooth(cos, k), color=ORANGE, lw=2,
               label=f"moving mean of {k}")
    right.set(title="M's prediction vs the true dL/dh", xlabel="step",
              ylabel="cosine similarity", ylim=(-0.2, 1))
    right.legend(loc="lower right")
    return fig


def _synthetic_part(sec: Section) -> None:
    fast = sec.ctx.fast
    steps, width, batch = (150, 32, 64) if fast else (800, 64, 128)
    seed = sec.ctx.seed
    sg, cos = _train(steps, width, batch, seed, "synthetic", sec.ctx)
    bp, _ = _train(steps, width, batch, seed, "backprop", sec.ctx)
    frozen, _ = _train(steps, width, batch, seed, "frozen", sec.ctx)
    w = 10
    sg_factor = float(sg[:w].mean() / sg[-w:].mean())
    bp_factor = float(bp[:w].mean() / bp[-w:].mean())
    n_late = max(w, steps // 4)
    late = cos[-n_late:]
    late_cos = float(late.mean())
    final = {k: float(v[-n_late:].mean()) for k, v in
             (("synthetic", sg), ("backprop", bp), ("frozen", frozen))}

    sec.text(
        "**(c) Synthetic gradients.** In backprop the first layers wait for the forward "
        "and backward passes of everything above them. Synthetic gradients (Jaderberg et "
        "al., decoupled neural interfaces) cut the wait: a small linear module `M` looks "
        "at the interface activation `h` (and the label) and predicts `dL/dh`; the first "
        "part is updated at once with `h.backward(M(h, y))`, which hands it `(dh/dθ)ᵀ ĝ`, "
        "the gradient it would get if the prediction ĝ were true. The second part trains "
        "on a detached copy of `h` with the real loss, which also gives the true `dL/dh`, "
        "and `M` learns to regress it. The first part never sees a true gradient.")
    sec.code(inspect.getsource(_sg_step), "One training step.")
    sec.figure(_figure_sg(bp, sg, frozen, cos, min(25, steps // 5)), "flow_synthetic",
               f"Left: loss of a 10-{width}-{width}-4 ReLU network on a 4-class teacher task "
               f"(batch {batch}, Adam 3e-3), trained with synthetic gradients for its first "
               "layer and, from the same start on the same batches, with ordinary backprop "
               "and with the first layer frozen (only the rest learns). Right: cosine "
               "between M's prediction and the true dL/dh of each batch; M starts at zero, "
               "so it starts at 0.")
    sec.text(
        f"Over {steps} steps the loss falls **{sg_factor:.1f}x** with synthetic gradients "
        f"(first vs last {w} steps) against {bp_factor:.1f}x with backprop, and the "
        f"prediction's cosine to the true gradient rises from 0 to {late_cos:.2f} (mean "
        f"of the last {len(late)} steps). Does the first layer learn, or does the rest of the "
        f"network do all the work? Over the last {n_late} steps the loss is "
        f"{final['synthetic']:.3f} with synthetic gradients, {final['frozen']:.3f} with the "
        f"first layer frozen and {final['backprop']:.3f} with backprop: the first layer "
        "learns, somewhat behind backprop, from a gradient nobody computed.")
    sec.facts.update({"sg_losses": sg.tolist(), "bp_losses": bp.tolist(),
                      "sg_cosines": cos.tolist(), "sg_factor": sg_factor,
                      "bp_factor": bp_factor, "sg_late_cosine": late_cos,
                      "frozen_losses": frozen.tolist(), "sg_window": w,
                      "sg_late_steps": n_late, "late_loss": final})
    sec.claim(f"Training with synthetic gradients reduces the loss {sg_factor:.1f}x "
              f"(mean of the first {w} steps / last {w}; backprop: {bp_factor:.1f}x)",
              sg_factor > 1.5)
    sec.claim(f"The predicted gradient's cosine to the true dL/dh becomes positive: "
              f"{late_cos:.2f} over the last {len(late)} steps (0 at the start)",
              late_cos > 0.1 and cos[0] == 0.0)
    sec.claim(f"The first layer learns from them: late loss {final['synthetic']:.3f} against "
              f"{final['frozen']:.3f} with it frozen (backprop: {final['backprop']:.3f})",
              final["synthetic"] < final["frozen"])


# -- the lesson ----------------------------------------------------------------------------

def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def flow(ctx: Context) -> Section:
    """The lesson "Modifying gradient flow: hooks, reversible blocks, synthetic gradients"."""
    sec = Section("flow", "Modifying gradient flow: hooks, reversible blocks, synthetic "
                  "gradients", ctx)
    gg.manual_seed(ctx.seed)
    rng = np.random.default_rng(ctx.seed)
    sec.text(
        "Backward is a program, and it can be changed: research ideas from gradient "
        "reversal to memory-free deep stacks to decoupled training are small edits to what "
        "flows backwards. Three of them, each checked against the ordinary backward.")
    _hooks_part(sec, rng)
    _reversible_part(sec, rng)
    _synthetic_part(sec)
    return sec
