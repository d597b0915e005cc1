"""Lesson 3: forward mode and reverse mode compute the same derivative at different costs.

For ``f: R^n -> R^m`` the full Jacobian takes ``n`` forward-mode passes (one JVP per input
direction, ``gg.func.jacfwd``) or ``m`` reverse-mode passes (one VJP per output,
``gg.func.jacrev``). Training has ``m = 1`` (a scalar loss) and ``n`` in the millions:
the reason deep learning runs backward.
"""

from __future__ import annotations

import time

import numpy as np

import glassgrad as gg

from ._report import Context, Section

__all__ = ["modes", "crossover_function", "time_jacobians"]


def crossover_function(n: int, m: int, hidden: int = 32, seed: int = 0):
    """f: R^n -> R^m, f(x) = W2 tanh(W1 x): a small network with n inputs, m outputs."""
    rng = np.random.default_rng(seed)
    W1 = gg.tensor(rng.standard_normal((hidden, n)) / np.sqrt(n))
    W2 = gg.tensor(rng.standard_normal((m, hidden)) / np.sqrt(hidden))

    def f(x):
        return W2 @ gg.tanh(W1 @ x)

    return f


def time_jacobians(n: int, m: int, repeats: int = 3):
    """Best-of-``repeats`` seconds for jacfwd and jacrev of f: R^n -> R^m, and the largest
    difference between the two Jacobians."""
    f = crossover_function(n, m)
    x = gg.tensor(np.random.default_rng(1).standard_normal(n))
    best, jacs = {}, {}
    for name, transform in (("jacfwd", gg.func.jacfwd), ("jacrev", gg.func.jacrev)):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            jac = transform(f)(x)
            times.append(time.perf_counter() - start)
        best[name], jacs[name] = min(times), jac.numpy()
    diff = float(np.max(np.abs(jacs["jacfwd"] - jacs["jacrev"])))
    return best["jacfwd"], best["jacrev"], diff


def modes(ctx: Context) -> Section:
    sec = Section("modes", "Forward mode and reverse mode", ctx)
    sec.text("""
        The chain rule can be applied from the inputs forward or from the output backward.
        **Forward mode** pushes a tangent (how the inputs move) through the graph next to
        the values: one pass gives the derivative of every output along one input
        direction, a Jacobian-vector product. **Reverse mode** (backpropagation) pulls a
        cotangent (how much each value matters to the output) back through the recorded
        graph: one pass gives the derivative of one output with respect to every input,
        a vector-Jacobian product.

        For `f: R^n -> R^m` the full Jacobian therefore costs `n` forward passes
        (`gg.func.jacfwd`) or `m` backward passes (`gg.func.jacrev`). Below, `f(x) = W2
        tanh(W1 x)` with 32 hidden units: as `n` grows with `m` fixed, forward mode slows
        down and reverse mode does not, and the other way round.""")
    sweep = (1, 4, 16, 64) if ctx.fast else (1, 2, 4, 8, 16, 32, 64, 128)
    # the two far ends differ 16-fold in passes: timing noise cannot swap the winner
    fixed = 4 if ctx.fast else 8
    repeats = 3  # best of 3 even when fast: one slow call must not decide a claim
    curves = {}
    worst_diff = 0.0
    for vary in ctx.steps(("n", "m"), desc="forward vs reverse"):
        pairs = [(k, fixed) if vary == "n" else (fixed, k) for k in sweep]
        rows = []
        for n, m in pairs:
            t_fwd, t_rev, diff = time_jacobians(n, m, repeats)
            worst_diff = max(worst_diff, diff)
            rows.append((t_fwd, t_rev))
        curves[vary] = np.array(rows) * 1e3

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True)
    for ax, vary in zip(axes, ("n", "m")):
        other = "m" if vary == "n" else "n"
        ax.loglog(sweep, curves[vary][:, 0], "o-", color="#0072B2",
                  label="jacfwd: n forward passes")
        ax.loglog(sweep, curves[vary][:, 1], "s--", color="#D55E00",
                  label="jacrev: m backward passes")
        ax.set(xlabel=f"{vary} ({other} = {fixed})",
               title=f"{'inputs' if vary == 'n' else 'outputs'} {vary} grow")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("time for the whole Jacobian (ms)")
    axes[0].legend(loc="upper left", fontsize=9)
    fig.suptitle("The Jacobian of f: R^n -> R^m, by forward and by reverse mode")
    fig.tight_layout()
    sec.figure(fig, "forward-vs-reverse",
               "Time for the full Jacobian (best of the repeats). Left: more inputs, "
               "forward mode pays; right: more outputs, reverse mode pays.")

    n_wide = sweep[-1]
    fwd_many_in, rev_many_in = curves["n"][-1]
    fwd_many_out, rev_many_out = curves["m"][-1]
    sec.table(["shape of f", "jacfwd (ms)", "jacrev (ms)", "faster"], [
        (f"R^{n_wide} -> R^{fixed}", f"{fwd_many_in:.2f}", f"{rev_many_in:.2f}",
         "reverse" if rev_many_in < fwd_many_in else "forward"),
        (f"R^{fixed} -> R^{n_wide}", f"{fwd_many_out:.2f}", f"{rev_many_out:.2f}",
         "forward" if fwd_many_out < rev_many_out else "reverse"),
    ], "The two ends of the sweep.")
    sec.text("""
        A loss is one number (`m = 1`) of millions of parameters: reverse mode gets all of
        its gradient in one backward pass, forward mode would need millions of passes.
        Forward mode wins for few inputs and many outputs (sensitivities of a simulation
        to a handful of parameters), and inside Hessian-vector products.""")
    sec.facts.update(max_jacobian_difference=worst_diff, curves=curves, sweep=sweep)
    sec.claim(f"both modes give the same Jacobian (largest difference {worst_diff:.1e})",
              worst_diff < 1e-10)
    sec.claim(f"with {n_wide} inputs and {fixed} outputs reverse mode is faster "
              f"({rev_many_in:.2f} ms vs {fwd_many_in:.2f} ms)", rev_many_in < fwd_many_in)
    sec.claim(f"with {fixed} inputs and {n_wide} outputs forward mode is faster "
              f"({fwd_many_out:.2f} ms vs {rev_many_out:.2f} ms)", fwd_many_out < rev_many_out)
    return sec
