"""Lesson: gradient checking, the seed's "Verify Your Backprop", on a custom layer.

A hand-written backward (:class:`Swish`) is checked against central differences with
``gg.autograd.gradcheck`` and passes; its twin with a sign error (:class:`BrokenSwish`)
fails, and inside a small model ``gg.autograd.find_bad_backward`` names it among the
healthy ops. A last figure shows why the check runs in float64: the error of a central
difference against its step ``eps`` is a U (truncation on the right, round-off on the
left), and its floor in float32 is far above a wrong rule's tell-tale size.
"""

from __future__ import annotations

import inspect
import os

import numpy as np

import glassgrad as gg

from ._report import Context, Section

__all__ = ["gradcheck", "Swish", "BrokenSwish", "swish_prime"]

# Okabe-Ito colours (safe for colour-blind readers)
BLUE, VERMILION, GREEN, ORANGE, PURPLE, GREY = (
    "#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#6b6b6b")


class Swish(gg.autograd.Function):
    """swish(x) = x * sigmoid(x), with its derivative worked out by hand."""

    @staticmethod
    def forward(ctx, x):
        s = gg.sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved_tensors
        # d/dx [x s(x)] = s + x s'(x),  s' = s (1 - s)   =>   s (1 + x (1 - s))
        return g * s * (1 + x * (1 - s))


class BrokenSwish(gg.autograd.Function):
    """The same forward; the backward carries a sign slip in the product-rule term."""

    @staticmethod
    def forward(ctx, x):
        s = gg.sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved_tensors
        return g * s * (1 - x * (1 - s))  # BUG: "-" where the product rule gives "+"


def swish_prime(x: np.ndarray) -> np.ndarray:
    """The exact derivative in NumPy: s (1 + x (1 - s))."""
    s = 1 / (1 + np.exp(-x))
    return s * (1 + x * (1 - s))


def _swish_derivatives(x: float) -> tuple:
    """(f, f', f''') of swish at ``x``, by hand, for the error model of the eps figure.

    With s = sigmoid(x): s' = s(1-s), s'' = s'(1-2s), s''' = s''(1-2s) - 2 s'^2, and
    f = x s, f' = s + x s', f''' = 3 s'' + x s'''.
    """
    s = 1 / (1 + np.exp(-x))
    s1 = s * (1 - s)
    s2 = s1 * (1 - 2 * s)
    s3 = s2 * (1 - 2 * s) - 2 * s1 ** 2
    return x * s, s + x * s1, 3 * s2 + x * s3


# -- computations ------------------------------------------------------------------------

def _elementwise_check(fn, x: np.ndarray, eps: float) -> tuple:
    """(analytical, numerical) derivative per element of an elementwise ``fn``.

    The analytical one is the engine's backward (the gradient of ``fn(x).sum()``); the
    numerical one a central difference of the engine's forward. ``fn`` acts element by
    element, so nudging every element at once gives each element's own derivative.
    """
    xt = gg.tensor(x, dtype=np.float64, requires_grad=True)
    fn(xt).sum().backward()
    with gg.no_grad():
        plus = fn(gg.tensor(x + eps)).numpy()
        minus = fn(gg.tensor(x - eps)).numpy()
    return xt.grad.numpy(), (plus - minus) / (2 * eps)


def _relative(a: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), 1e-300)


def _eps_sweep(x0: float, eps: np.ndarray, dtype) -> np.ndarray:
    """Relative error of the central difference of the engine's Swish at ``x0``, per eps,
    computed in ``dtype`` (float64 or float32), against the exact derivative."""
    exact = swish_prime(np.float64(x0))
    xs = np.full(eps.shape, x0, dtype=dtype)
    steps = eps.astype(dtype)
    with gg.no_grad():
        plus = Swish.apply(gg.tensor(xs + steps, dtype=dtype)).numpy().astype(np.float64)
        minus = Swish.apply(gg.tensor(xs - steps, dtype=dtype)).numpy().astype(np.float64)
    numerical = (plus - minus) / (2 * steps.astype(np.float64))
    return np.maximum(np.abs(numerical - exact) / abs(exact), 1e-17)  # exact 0 -> floor


def _model(act):
    """A small model of several ops around the activation ``act``:
    tanh(x W1 + b1) -> act -> (. W2) -> mean of squares."""
    def fn(x, w1, b1, w2):
        h = gg.tanh(x @ w1 + b1)
        return ((act(h) @ w2) ** 2).mean()
    return fn


def _model_inputs(rng, fast: bool) -> list:
    n, d, k = (6, 4, 5) if fast else (16, 8, 12)
    return [gg.tensor(rng.standard_normal(s), dtype=np.float64) for s in
            ((n, d), (d, k), (k,), (k, 3))]


def _short_site(message: str) -> str:
    """The report's message with its creation site relative to the package's folder."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(gg.__file__))) + os.sep
    return message.replace(root, "")


def _op_names(fn, inputs) -> list:
    """The ops ``fn`` records, by name, in creation order (each name once)."""
    leaves = [gg.tensor(t.numpy(), requires_grad=True) for t in inputs]
    names = []
    for node in reversed(gg.autograd.walk([fn(*leaves)])):
        if node.name not in names:
            names.append(node.name)
    return names


# -- figures -------------------------------------------------------------------------------

def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _figure_scatter(x, good, broken, numerical):
    plt = _plt()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.6), constrained_layout=True)
    grid = np.linspace(x.min() - 0.3, x.max() + 0.3, 300)
    left.plot(grid, swish_prime(grid), color=GREY, lw=1.2, label="exact  s(1 + x(1 - s))")
    left.plot(x, numerical, "o", ms=7, mfc="none", color="black", label="central difference")
    left.plot(x, good, "x", ms=6, color=BLUE, label="Swish.backward")
    left.plot(x, broken, "^", ms=5, color=VERMILION, label="BrokenSwish.backward")
    left.set(title="Derivative of swish per element", xlabel="input x",
             ylabel="d swish / dx")
    left.legend(fontsize=8, loc="upper left")
    lo, hi = min(numerical.min(), broken.min()), max(numerical.max(), broken.max())
    pad = 0.05 * (hi - lo)
    line = np.array([lo - pad, hi + pad])
    right.plot(line, line, color=GREY, lw=1, ls="--", label="analytical = numerical")
    right.plot(numerical, good, "o", color=BLUE, ms=6, label="Swish")
    right.plot(numerical, broken, "^", color=VERMILION, ms=6, label="BrokenSwish")
    right.set(title="Analytical vs numerical", xlabel="numerical (central difference)",
              ylabel="analytical (backward)")
    right.legend(fontsize=8, loc="upper left")
    return fig


def _figure_eps(eps, err64, err32, x0):
    plt = _plt()
    f, f1, f3 = _swish_derivatives(x0)
    fig, ax = plt.subplots(figsize=(8, 4.4), constrained_layout=True)
    ax.loglog(eps, err64, "o-", ms=3, color=BLUE, label="float64")
    ax.loglog(eps, err32, "s-", ms=3, color=ORANGE, label="float32")
    for unit, colour in ((2.0 ** -53, BLUE), (2.0 ** -24, ORANGE)):
        ax.loglog(eps, unit * abs(f) / eps / abs(f1), ls=":", color=colour, lw=1)
    ax.loglog(eps, abs(f3) * eps ** 2 / 6 / abs(f1), ls="--", color=GREY, lw=1,
              label="truncation  |f'''| eps² / 6 |f'|")
    ax.plot([], [], ls=":", color=GREY, label="round-off  u |f| / eps |f'|")
    ax.set_ylim(1e-13, 10)
    ax.set(title=f"Central difference error vs step, swish'({x0})",
           xlabel="step eps", ylabel="relative error of (f(x+eps) - f(x-eps)) / 2eps")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(True, which="major", alpha=0.3)
    return fig


# -- the lesson ----------------------------------------------------------------------------

def gradcheck(ctx: Context) -> Section:
    """The lesson "Gradient checking: trust, but verify"."""
    sec = Section("gradcheck", "Gradient checking: trust, but verify", ctx)
    gg.manual_seed(ctx.seed)
    rng = np.random.default_rng(ctx.seed)
    n = 8 if ctx.fast else 24
    x = np.sort(rng.uniform(-4, 4, n))
    eps = 1e-6

    sec.text(
        "A custom layer brings its own backward, and nothing but a check tells you it is "
        "right. The check is the seed's: nudge one input by a small `eps` either way and "
        "compare the slope `(f(x + eps) - f(x - eps)) / (2 eps)` with what backward says. "
        "Our layer is **swish**, `f(x) = x s(x)` with `s` the sigmoid. The product rule "
        "gives `f'(x) = s + x s'`, and `s' = s (1 - s)`, so `f'(x) = s (1 + x (1 - s))`: "
        "one line of backward, written below as a `gg.autograd.Function`.")
    sec.code(inspect.getsource(Swish), "The custom Function, as this lesson runs it.")

    # 1. the correct Function passes
    xt = gg.tensor(x, dtype=np.float64, requires_grad=True)
    passed = gg.autograd.gradcheck(Swish.apply, (xt,), eps=eps)
    good, numerical = _elementwise_check(Swish.apply, x, eps)
    rel_good = float(_relative(good, numerical).max())
    sec.text(
        "`gg.autograd.gradcheck(Swish.apply, (x,))` builds the whole Jacobian both ways "
        f"(one backward per output, two forwards per input) in float64, here for {n} "
        f"inputs. It passes, and the largest relative error between backward and the "
        f"central difference is **{rel_good:.1e}**: that is the size of agreement to "
        "expect from a correct rule.")

    # 2. the broken twin fails
    sec.code(inspect.getsource(BrokenSwish), "Its twin with one wrong sign.")
    try:
        gg.autograd.gradcheck(BrokenSwish.apply, (xt,), eps=eps)
        message, broken_fails = "gradcheck passed (it should not have)", False
    except gg.autograd.GradcheckError as err:
        message, broken_fails = str(err), True
    broken, _ = _elementwise_check(BrokenSwish.apply, x, eps)
    rel_broken = float(_relative(broken, numerical).max())
    sec.text(
        "The twin's backward has `-` where the product rule gives `+`. It still runs, "
        "still returns numbers of the right shape, and a network would still train on "
        "it, following the wrong gradient. gradcheck refuses it, naming the worst "
        "Jacobian entries with both values:")
    sec.code(message, "The GradcheckError's message.")
    sec.figure(_figure_scatter(x, good, broken, numerical), "gradcheck_scatter",
               "Left: the derivative of swish at each checked input; the central "
               "differences (circles) sit on the exact curve, Swish's backward (crosses) "
               "inside them, BrokenSwish's (triangles) away from them except near x = 0, "
               "where the wrong term x s (1 - s) vanishes. Right: the same numbers, "
               "analytical against numerical; a correct rule lies on the dashed line.")

    # 3. find_bad_backward names the op inside a model
    inputs = _model_inputs(rng, ctx.fast)
    report = gg.autograd.find_bad_backward(_model(BrokenSwish.apply), *inputs)
    healthy = gg.autograd.find_bad_backward(_model(Swish.apply), *inputs)
    ops = _op_names(_model(BrokenSwish.apply), inputs)
    sec.text(
        "In a model the broken rule hides among healthy ops: gradcheck of the whole loss "
        "says that something is wrong, not where. `gg.autograd.find_bad_backward` "
        "runs the model once and checks every recorded node on its own, its backward "
        "against central differences of that node's own forward. The model here is "
        f"`mean((act(tanh(x W1 + b1)) W2)^2)`, with the ops {', '.join(ops)}; with "
        "`act = BrokenSwish.apply` it reports:")
    sec.code(_short_site(str(report)),
             "find_bad_backward's report (a BadBackward, with the same facts as attributes: "
             "`.op`, `.filename`, `.lineno`, `.input_index`, `.worst_index`, `.rel_error`): "
             "the line that made the op is the lesson's own.")
    sec.text(
        "With the correct `Swish` in the same model it returns `None`: every node agrees. "
        "A relative error near 1e-10 means a correct rule; one near 1e-1 means a wrong "
        "one; in between, suspect the check itself (a float32 input, a kink, a step too "
        "small). The figure below shows where the check's own error comes from.")

    # 4. the error of central differences against eps
    x0 = 0.7
    steps = np.logspace(-14, -0.5, 48 if ctx.fast else 80)
    err64 = _eps_sweep(x0, steps, np.float64)
    err32 = _eps_sweep(x0, steps, np.float32)
    best64, best32 = float(steps[np.argmin(err64)]), float(steps[np.argmin(err32)])
    sec.figure(_figure_eps(steps, err64, err32, x0), "gradcheck_eps",
               "Relative error of the central difference against the exact derivative, "
               "log-log. Right of the minimum the Taylor remainder (eps²) dominates; left "
               "of it the rounding of f (about u/eps, u the unit round-off) does. Dotted "
               f"and dashed: the two error models. float32's floor ({err32.min():.0e} "
               "here) is orders of magnitude higher: a subtle mistake would hide in it.")
    sec.text(
        f"In float64 the error bottoms out at **{err64.min():.1e}** for `eps` near "
        f"{best64:.0e}, close to the cube root of the unit round-off (about 5e-6), where "
        f"the two errors meet; in float32 the best is {err32.min():.1e} at {best32:.0e}. That "
        "is why gradcheck works in float64 with `eps = 1e-6`, and why it warns when "
        "given float32 tensors.")

    sec.facts.update({
        "x": x.tolist(), "grad_good": good.tolist(), "grad_broken": broken.tolist(),
        "numerical": numerical.tolist(), "max_rel_error_good": rel_good,
        "max_rel_error_broken": rel_broken, "gradcheck_good": bool(passed),
        "gradcheck_message": message, "bad_op": report.op if report else None,
        "bad_report": str(report), "healthy_model_report": healthy,
        "model_ops": ops, "eps": steps.tolist(), "err64": err64.tolist(),
        "err32": err32.tolist(), "best_eps64": best64, "min_err64": float(err64.min()),
        "min_err32": float(err32.min()),
    })
    sec.claim(f"The hand-written Swish backward passes gg.autograd.gradcheck in float64 "
              f"({n} inputs, eps = {eps:g})", passed)
    sec.claim(f"Its largest relative error against central differences is {rel_good:.1e} "
              "(< 1e-7)", rel_good < 1e-7)
    sec.claim(f"BrokenSwish (one sign flipped) fails gradcheck: GradcheckError, worst "
              f"relative error {rel_broken:.2f}", broken_fails and rel_broken > 1e-2)
    named = report is not None and report.op == "BrokenSwish"
    sec.claim(f"find_bad_backward names BrokenSwish in a model of {len(ops)} kinds of ops "
              "and blames none of the healthy ones (the correct Swish model: no report)",
              named and healthy is None)
    sec.claim(f"Central differences in float64 are most accurate near eps = {best64:.0e} "
              f"(error {err64.min():.1e}); float32's best is {err32.min():.1e}",
              1e-8 <= best64 <= 1e-3 and err64.min() < 1e-9 and err32.min() > 1e3 * err64.min())
    return sec
