"""``make demo`` / ``python -m glassgrad.demo``: backpropagation, shown and checked.

1. The chain rule on one number: z = 3x + 5, forward and backward by hand and by the
   engine.
2. The classic: a 2-4-1 sigmoid network learns XOR with binary cross-entropy (full batch,
   lr 0.7, 6000 epochs), trained with the engine's ``backward()``. On the first step the
   engine's gradients are compared with the hand-derived formulas
   (dz2 = a2 - y, dW2 = a1.T @ dz2 / m, ...), and with central differences.
3. A picture of the loss curve and the learned decision surface (with matplotlib).
4. Forward vs reverse mode: the Jacobian of f: R^n -> R^m by ``jacfwd`` (n forward
   passes) and by ``jacrev`` (m backward passes), timed on both sides of the crossover.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import glassgrad as gg


def chain_rule() -> None:
    print("1. The chain rule on one number: z = (x * 3) + 5 at x = 2")
    x = gg.tensor(2.0, requires_grad=True)
    a = x * 3
    z = a + 5
    z.backward()
    # by hand: dz/dz = 1;  dz/da = 1 (from + 5);  da/dx = 3 (from * 3)
    dz = 1.0
    da = dz * 1.0
    dx = da * 3.0
    print(f"   forward: a = {a.item():g}, z = {z.item():g}")
    print(f"   backward by hand: dz/dx = 1 * 1 * 3 = {dx:g};  engine: x.grad = {x.grad.item():g}")
    assert x.grad.item() == dx
    print(f"   the recorded graph: z <- {z.grad_fn.name} <- "
          f"{z.grad_fn.parents[0].name} <- x\n")


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
    """The 2-layer MLP and its mean binary cross-entropy, on glassgrad tensors."""
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
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def train_xor(epochs: int, lr: float, seed: int):
    print(f"2. A 2-4-1 sigmoid MLP learns XOR (BCE, full batch, lr {lr}, {epochs} epochs)")
    start = init_xor(seed)
    params = {k: gg.tensor(v, requires_grad=True) for k, v in start.items()}
    X, y = gg.tensor(XOR_X), gg.tensor(XOR_Y)
    losses = []
    for epoch in range(epochs):
        _, a2, loss = forward(params, X, y)
        loss.backward()
        if epoch == 0:
            check_first_step(params, start)
        with gg.no_grad():
            for p in params.values():
                p -= lr * p.grad
                p.grad = None
        losses.append(loss.item())
        if epoch % 1000 == 0:
            print(f"   epoch {epoch:5d}  loss {loss.item():.6f}")
    _, a2, loss = forward(params, X, y)
    print(f"   final loss {loss.item():.6f}; predictions for (0,0) (0,1) (1,0) (1,1):")
    print("   " + "  ".join(f"{p:.3f}" for p in a2.numpy().ravel()))
    assert np.array_equal(a2.numpy().ravel() > 0.5, XOR_Y.ravel() > 0.5), "XOR not learned"
    return params, losses


def check_first_step(params, start) -> None:
    by_hand = hand_gradients(start, XOR_X, XOR_Y)
    worst = max(float(np.max(np.abs(params[k].grad.numpy() - by_hand[k]))) for k in by_hand)
    print(f"   step 1: engine gradients vs the hand-derived formulas: max |diff| = {worst:.2e}")
    assert worst < 1e-12, "engine and hand-derived gradients disagree"

    def loss_of(W1, b1, W2, b2):
        return forward({"W1": W1, "b1": b1, "W2": W2, "b2": b2}, gg.tensor(XOR_X),
                       gg.tensor(XOR_Y))[2]

    numeric = gg.autograd.numerical_gradient(loss_of, [start[k] for k in by_hand], eps=1e-6)
    worst_num = max(float(np.max(np.abs(n - by_hand[k]))) for n, k in zip(numeric, by_hand))
    print(f"   step 1: vs central differences (eps 1e-6):          max |diff| = {worst_num:.2e}")
    assert worst_num < 1e-8


def plot(params, losses, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("3. (matplotlib is not installed: `pip install glassgrad[plot]` for pictures)")
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(losses)
    ax1.set(title="XOR: training loss", xlabel="epoch", ylabel="binary cross-entropy",
            yscale="log")
    grid = np.linspace(-0.25, 1.25, 121)
    gx, gy = np.meshgrid(grid, grid)
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    with gg.no_grad():
        _, a2, _ = forward(params, gg.tensor(pts), gg.tensor(np.zeros((len(pts), 1))))
    ax2.contourf(gx, gy, a2.numpy().reshape(gx.shape), levels=20, cmap="RdBu_r")
    ax2.scatter(XOR_X[:, 0], XOR_X[:, 1], c=XOR_Y.ravel(), cmap="RdBu_r", edgecolors="k",
                s=120)
    ax2.set(title="learned output a2(x1, x2)", xlabel="x1", ylabel="x2")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"3. pictures: {path}")


def crossover_function(n: int, m: int, hidden: int = 32, seed: int = 0):
    """f: R^n -> R^m, f(x) = W2 tanh(W1 x): a small network with n inputs, m outputs."""
    rng = np.random.default_rng(seed)
    W1 = gg.tensor(rng.standard_normal((hidden, n)) / np.sqrt(n))
    W2 = gg.tensor(rng.standard_normal((m, hidden)) / np.sqrt(hidden))

    def f(x):
        return W2 @ gg.tanh(W1 @ x)

    return f


def time_jacobians(n: int, m: int, repeats: int = 3):
    """Best-of-``repeats`` seconds for jacfwd and jacrev of f: R^n -> R^m (and a check)."""
    f = crossover_function(n, m)
    x = gg.tensor(np.random.default_rng(1).standard_normal(n))
    best = {}
    for name, transform in (("jacfwd", gg.func.jacfwd), ("jacrev", gg.func.jacrev)):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            jac = transform(f)(x)
            times.append(time.perf_counter() - start)
        best[name] = (min(times), jac.numpy())
    assert np.allclose(best["jacfwd"][1], best["jacrev"][1], rtol=1e-9, atol=1e-12)
    return best["jacfwd"][0], best["jacrev"][0]


CROSSOVER_SIZES = [(2, 64), (8, 64), (64, 64), (64, 8), (64, 2), (256, 4), (4, 256)]


def crossover(sizes=CROSSOVER_SIZES, repeats: int = 3):
    """Print (and return) the jacfwd/jacrev timing table for f: R^n -> R^m."""
    print("4. Forward vs reverse mode: the Jacobian of f: R^n -> R^m, f(x) = W2 tanh(W1 x)")
    print("   jacfwd needs n forward passes, jacrev m backward passes:")
    print(f"   {'n':>5} {'m':>5} {'jacfwd ms':>10} {'jacrev ms':>10}  faster")
    rows = []
    for n, m in sizes:
        t_fwd, t_rev = time_jacobians(n, m, repeats)
        rows.append((n, m, t_fwd, t_rev))
        winner = "forward" if t_fwd < t_rev else "reverse"
        print(f"   {n:5d} {m:5d} {t_fwd * 1e3:10.2f} {t_rev * 1e3:10.2f}  {winner}")
    print("   one scalar loss and many parameters (m = 1, n huge) is why deep learning uses "
          "reverse mode.\n")
    return rows


def plot_crossover(path: str, sweep=(1, 2, 4, 8, 16, 32, 64, 128), fixed: int = 16) -> None:
    """Plot jacfwd and jacrev time as n grows (m fixed) and as m grows (n fixed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, vary in zip(axes, ("n", "m")):
        pairs = [(k, fixed) if vary == "n" else (fixed, k) for k in sweep]
        times = np.array([time_jacobians(n, m, repeats=2) for n, m in pairs]) * 1e3
        ax.loglog(sweep, times[:, 0], "o-", label="jacfwd (n forward passes)")
        ax.loglog(sweep, times[:, 1], "s-", label="jacrev (m backward passes)")
        other = "m" if vary == "n" else "n"
        ax.set(xlabel=f"{vary} ({other} = {fixed})", title=f"cost as {vary} grows")
        ax.legend()
    axes[0].set_ylabel("time for the full Jacobian (ms)")
    fig.suptitle("Jacobian of f: R^n -> R^m by forward and by reverse mode")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6000)
    parser.add_argument("--lr", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="demo-output", help="folder for the pictures")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    chain_rule()
    params, losses = train_xor(args.epochs, args.lr, args.seed)
    if not args.no_plot:
        os.makedirs(args.out, exist_ok=True)
        plot(params, losses, os.path.join(args.out, "xor.png"))
    crossover()
    if not args.no_plot and _have_matplotlib():
        path = os.path.join(args.out, "forward-vs-reverse.png")
        plot_crossover(path)
        print(f"   picture: {path}")


def _have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
