"""Lessons 4 and 5: the seed page's 2-4-1 sigmoid network, by hand and by the engine.

Lesson 4 checks every gradient the engine computes for the network against the
hand-derived formulas of the page (``dz2 = a2 - y``, ``dW2 = a1.T @ dz2 / m``, ...) and
against central differences, and shows the backward pass ``gg.compile`` writes beside the
one written by hand. Lesson 5 trains the network on XOR and shows what it learned.
"""

from __future__ import annotations

import inspect

import numpy as np

import glassgrad as gg

from ._report import Context, Section

__all__ = ["XOR_X", "XOR_Y", "init_xor", "forward", "hand_gradients", "train_xor", "mlp",
           "xor"]

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)


def init_xor(seed: int):
    """The seed page's initialisation: N(0, 1) * 0.5 weights, zero biases."""
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.standard_normal((2, 4)) * 0.5, "b1": np.zeros((1, 4)),
        "W2": rng.standard_normal((4, 1)) * 0.5, "b2": np.zeros((1, 1)),
    }


def forward(params, X, y):
    """The 2-layer MLP and its mean binary cross-entropy, on glassgrad tensors.
    Returns ``(a1, a2, loss)``."""
    a1 = gg.sigmoid(X @ params["W1"] + params["b1"])
    a2 = gg.sigmoid(a1 @ params["W2"] + params["b2"])
    loss = -(y * gg.log(a2) + (1 - y) * gg.log(1 - a2)).mean()
    return a1, a2, loss


def hand_gradients(p, X, y):
    """Backprop written out by hand, as on the seed page (mean BCE over m examples)."""
    m = X.shape[0]
    a1 = 1 / (1 + np.exp(-(X @ p["W1"] + p["b1"])))
    a2 = 1 / (1 + np.exp(-(a1 @ p["W2"] + p["b2"])))
    dz2 = a2 - y                      # BCE through a sigmoid: the a2(1-a2) factors cancel
    dW2 = a1.T @ dz2 / m
    db2 = dz2.sum(axis=0, keepdims=True) / m
    da1 = dz2 @ p["W2"].T
    dz1 = da1 * a1 * (1 - a1)         # sigmoid'(z1) = a1 (1 - a1)
    dW1 = X.T @ dz1 / m
    db1 = dz1.sum(axis=0, keepdims=True) / m
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "dz2": dz2, "da1": da1, "dz1": dz1}


def _engine_gradients(start):
    """The engine's gradients at ``start``, intermediates included (retain_grad)."""
    params = {k: gg.tensor(v, requires_grad=True) for k, v in start.items()}
    X, y = gg.tensor(XOR_X), gg.tensor(XOR_Y)
    z1 = X @ params["W1"] + params["b1"]
    a1 = gg.sigmoid(z1)
    z2 = a1 @ params["W2"] + params["b2"]
    a2 = gg.sigmoid(z2)
    loss = -(y * gg.log(a2) + (1 - y) * gg.log(1 - a2)).mean()
    for t in (z1, a1, z2):
        t.retain_grad()
    loss.backward()
    got = {k: p.grad.numpy() for k, p in params.items()}
    got.update(dz2=z2.grad.numpy(), da1=a1.grad.numpy(), dz1=z1.grad.numpy())
    return got


def mlp(ctx: Context) -> Section:
    sec = Section("mlp", "The 2-layer sigmoid MLP: the engine against the formulas by hand",
                  ctx)
    sec.text("""
        The network of the seed page: `a1 = sigmoid(X @ W1 + b1)`, `a2 = sigmoid(a1 @ W2 +
        b2)`, with the mean binary cross-entropy over the `m = 4` points of XOR. Deriving
        its backward by hand gives six lines; the sigmoid's derivative `a2 (1 - a2)`
        cancels against the cross-entropy's `1 / (a2 (1 - a2))`, which is why the output
        error is simply `dz2 = a2 - y`.

        The engine knows none of these formulas: it applies one local rule per op. Below,
        every gradient it computes at the initial weights is compared with the formula
        (the engine's cotangents of `z2`, `a1`, `z1` carry the `1/m` of the mean, so the
        table divides the hand values by `m`) and with central differences of the
        loss.""")
    start = init_xor(ctx.seed)
    by_hand = hand_gradients(start, XOR_X, XOR_Y)
    engine = _engine_gradients(start)
    m = XOR_X.shape[0]

    def loss_of(W1, b1, W2, b2):
        params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
        return forward(params, gg.tensor(XOR_X), gg.tensor(XOR_Y))[2]

    names = ("W1", "b1", "W2", "b2")
    numeric = dict(zip(names, gg.autograd.numerical_gradient(
        loss_of, [start[k] for k in names], eps=1e-6)))
    formulas = {
        "dz2": "(a2 - y) / m", "da1": "dz2 @ W2.T / m", "dz1": "da1 * a1 * (1 - a1) / m",
        "W2": "a1.T @ dz2 / m", "b2": "dz2.sum(axis=0) / m", "W1": "X.T @ dz1 / m",
        "b1": "dz1.sum(axis=0) / m"}
    rows, worst_hand, worst_num = [], 0.0, 0.0
    for key, formula in formulas.items():
        hand = by_hand[key] / m if key in ("dz2", "da1", "dz1") else by_hand[key]
        d_hand = float(np.max(np.abs(engine[key] - hand)))
        worst_hand = max(worst_hand, d_hand)
        if key in numeric:
            d_num = float(np.max(np.abs(engine[key] - numeric[key])))
            worst_num = max(worst_num, d_num)
            num_text = f"{d_num:.1e}"
        else:
            num_text = "(not a parameter)"
        label = key if key.startswith("d") else f"d{key}"
        rows.append((label, f"`{formula}`", f"{d_hand:.1e}", num_text))
    sec.table(["gradient", "formula by hand", "max |engine - hand|",
               "max |engine - central diff.|"], rows,
              "At the seed's initial weights; central differences with eps = 1e-6.")
    sec.claim(f"the engine's gradients equal the hand-derived formulas (largest difference "
              f"{worst_hand:.1e})", worst_hand < 1e-12)
    sec.claim(f"and agree with central differences (largest difference {worst_num:.1e})",
              worst_num < 1e-8)

    # the same backward, written out by gg.compile
    params = {k: gg.tensor(v, requires_grad=True) for k, v in start.items()}
    X, y = gg.tensor(XOR_X), gg.tensor(XOR_Y)

    def step(X, y):  # the same network, with the library's BCE (what the fusion knows)
        a1 = gg.sigmoid(X @ params["W1"] + params["b1"])
        a2 = gg.sigmoid(a1 @ params["W2"] + params["b2"])
        return gg.nn.functional.binary_cross_entropy(a2, y)

    compiled = gg.compile(step, X, y)
    compiled(X, y)
    worst_compiled = max(float(np.max(np.abs(params[k].grad.numpy() - engine[k])))
                         for k in names)
    source = compiled.source
    backward = source[source.index("# ---- backward"):].split("\n    return")[0]
    hand_src = inspect.getsource(hand_gradients)
    hand_body = hand_src[hand_src.index("    dz2 ="):hand_src.index("    return")]
    sec.text("""
        `gg.compile` traces one step through the same local rules and writes the backward
        pass out as NumPy source. Written with `F.binary_cross_entropy`, the sigmoid
        followed by the cross-entropy is fused into `p - y`, as a person would simplify
        it; the `1/m` of the mean is folded into it (`0.25 * (sigmoid2 - y)`). Left, the
        lines by hand; right, what the compiler wrote.""")
    sec.side_by_side(("by hand (the seed page)", inspect.cleandoc("\n" + hand_body)),
                     ("written by gg.compile", inspect.cleandoc("\n" + backward)))
    sec.claim(f"the compiled step's gradients equal the engine's (largest difference "
              f"{worst_compiled:.1e})", worst_compiled < 1e-12)
    sec.facts.update(worst_hand=worst_hand, worst_numeric=worst_num,
                     worst_compiled=worst_compiled, compiled_source=source)
    return sec


def train_xor(epochs: int, lr: float, seed: int, steps=lambda r: r):
    """Train the network with the engine's ``backward()``: (params, losses)."""
    start = init_xor(seed)
    params = {k: gg.tensor(v, requires_grad=True) for k, v in start.items()}
    X, y = gg.tensor(XOR_X), gg.tensor(XOR_Y)
    losses = np.empty(epochs)
    for epoch in steps(range(epochs)):
        _, _, loss = forward(params, X, y)
        loss.backward()
        with gg.no_grad():
            for p in params.values():
                p -= lr * p.grad
                p.grad = None
        losses[epoch] = loss.item()
    return params, losses


def _predict(params, points):
    with gg.no_grad():
        a1, a2, _ = forward(params, gg.tensor(points), gg.tensor(np.zeros((len(points), 1))))
    return a1.numpy(), a2.numpy()[:, 0]


def _points(ax):
    """The four XOR points, visible on any background: white circles for 0, black
    triangles for 1, each with an edge of the other colour."""
    zero, one = XOR_Y[:, 0] == 0, XOR_Y[:, 0] == 1
    ax.scatter(XOR_X[zero, 0], XOR_X[zero, 1], s=130, marker="o", c="white",
               edgecolors="black", linewidths=1.6, label="y = 0", zorder=3)
    ax.scatter(XOR_X[one, 0], XOR_X[one, 1], s=150, marker="^", c="black",
               edgecolors="white", linewidths=1.6, label="y = 1", zorder=3)


def xor(ctx: Context) -> Section:
    epochs, lr = 6000, 0.7
    sec = Section("xor", "XOR solved", ctx)
    sec.text(f"""
        XOR is the smallest problem a single linear unit cannot solve: no line separates
        (0,1) and (1,0) from (0,0) and (1,1). Two hidden sigmoid units are enough in
        principle, four make it easy. Trained with `loss.backward()` and plain gradient
        descent (full batch, learning rate {lr}, {epochs} epochs, the seed's
        initialisation).""")
    params, losses = train_xor(epochs, lr, ctx.seed,
                               steps=lambda r: ctx.steps(r, desc="XOR training"))
    _, pred = _predict(params, XOR_X)
    correct = int(np.sum((pred > 0.5) == (XOR_Y[:, 0] > 0.5)))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.semilogy(np.arange(1, epochs + 1), losses, color="#0072B2")
    ax.set(xlabel="epoch", ylabel="mean binary cross-entropy",
           title="Training loss (log scale)")
    ax.grid(True, which="both", alpha=0.25)
    fig.tight_layout()
    sec.figure(fig, "xor-loss", "The loss falls slowly while the hidden units are still "
               "symmetric-ish, then quickly once they specialise.")

    grid = np.linspace(-0.25, 1.25, 151)
    gx, gy = np.meshgrid(grid, grid)
    hidden, out = _predict(params, np.stack([gx.ravel(), gy.ravel()], axis=1))
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    surface = ax.contourf(gx, gy, out.reshape(gx.shape), levels=np.linspace(0, 1, 21),
                          cmap="coolwarm", vmin=0, vmax=1)
    ax.contour(gx, gy, out.reshape(gx.shape), levels=[0.5], colors="black",
               linewidths=1.5, linestyles="--")
    _points(ax)
    fig.colorbar(surface, ax=ax, label="network output a2 = P(y = 1)", ticks=[0, .25, .5,
                                                                               .75, 1])
    ax.set(xlabel="x1", ylabel="x2", title="Decision surface (dashed: a2 = 0.5)",
           aspect="equal")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    fig.tight_layout()
    sec.figure(fig, "xor-decision", "What the network outputs everywhere in the plane; the "
               "four training points on top.")

    fig, axes = plt.subplots(1, 4, figsize=(10, 2.9), sharey=True)
    for j, ax in enumerate(axes):
        im = ax.contourf(gx, gy, hidden[:, j].reshape(gx.shape),
                         levels=np.linspace(0, 1, 11), cmap="viridis", vmin=0, vmax=1)
        _points(ax)
        w = params["W2"].numpy()[j, 0]
        ax.set(title=f"hidden unit {j + 1}\n(weight to output {w:+.1f})", xlabel="x1",
               aspect="equal")
    axes[0].set_ylabel("x2")
    fig.colorbar(im, ax=axes, label="activation a1", shrink=0.9)
    sec.figure(fig, "xor-hidden", "Each hidden unit is a soft half-plane; the output unit "
               "adds them with the weights shown, which carves out the XOR pattern.")
    sec.table(["input (x1, x2)", "target", "output a2"],
              [(f"({int(a)}, {int(b)})", int(t), f"{p:.3f}")
               for (a, b), t, p in zip(XOR_X, XOR_Y[:, 0], pred)])
    sec.claim(f"XOR solved: {correct} of 4 points classified correctly (final loss "
              f"{losses[-1]:.4f})", correct == 4)
    sec.claim(f"the loss fell {losses[0] / losses[-1]:.0f}-fold "
              f"({losses[0]:.3f} to {losses[-1]:.4f})", losses[-1] < losses[0] / 10)
    sec.facts.update(losses=losses, predictions=pred, correct=correct)
    return sec
