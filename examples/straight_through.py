"""Straight-through estimators: training through sign() and round(), whose derivative is 0.

``sign(x)`` and ``round(x)`` are piecewise constant: their true derivative is 0 wherever
it exists, so backpropagation through them delivers no signal at all to what comes
before (``gg.sign``'s rule honestly returns zeros). The straight-through estimator (STE,
Bengio et al. 2013; Hinton's lectures) uses the quantized value forward but *pretends*
the op was the identity backward: the cotangent ``g`` is passed through unchanged. The
clipped variant (Courbariaux et al., BinaryConnect / BinaryNet) passes it only where
``|x| <= 1``, i.e. it differentiates ``clip(x, -1, 1)`` instead, which stops latent
weights from drifting far past the point where their sign can no longer change.

Two ways to write it, and they give the same gradients to the last bit:

1. a custom Function (:class:`SignSTE`, :class:`RoundSTE`): forward quantizes, backward
   returns ``g`` (times the mask ``|x| <= 1`` when clipped);
2. the detach trick, no new op: ``s + (q - s).detach()`` with ``s = x`` (or
   ``clip(x, -1, 1)``). Forward, the two ``s`` cancel and the value is ``q``; backward,
   the detached part is a constant, so the gradient is that of ``s``: 1 (or the clip's
   0/1 mask, inclusive at the bounds).

The demo trains a classifier whose weights are binary, ``w_eff = alpha * sign(w)``, with
real latent weights ``w`` updated by Adam through the STE, on a linearly separable task
whose separating direction has +-1 entries (so a binary weight vector can solve it).

Run: ``python examples/straight_through.py`` or with ``--fast`` / ``--quick`` (fewer
steps, for CI). Prints the gradient agreement of the two forms and the accuracy.
"""

from __future__ import annotations

import argparse

import numpy as np

import glassgrad as gg


class SignSTE(gg.autograd.Function):
    """``sign(x)`` forward; backward the identity, or ``g * (|x| <= 1)`` if ``clip``."""

    @staticmethod
    def forward(ctx, x, clip=False):
        ctx.clip = clip
        ctx.save_for_backward(x)
        return gg.sign(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.clip:
            g = g * (gg.abs(x) <= 1)
        return g, None


class RoundSTE(gg.autograd.Function):
    """``round(x)`` (NumPy's, halves to even) forward; backward as :class:`SignSTE`."""

    @staticmethod
    def forward(ctx, x, clip=False):
        ctx.clip = clip
        ctx.save_for_backward(x)
        return gg.tensor(np.round(x.numpy()))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.clip:
            g = g * (gg.abs(x) <= 1)
        return g, None


def straight_through(x, q, clip: bool = False):
    """The detach trick: value ``q`` (computed from ``x``), gradient of ``x`` (or of
    ``clip(x, -1, 1)``)."""
    s = gg.clip(x, -1.0, 1.0) if clip else x
    return s + (q - s).detach()


def sign_ste(x, clip: bool = False):
    """``sign(x)`` with a straight-through gradient, by the detach trick."""
    return straight_through(x, gg.sign(x), clip)


def round_ste(x, clip: bool = False):
    """``round(x)`` with a straight-through gradient, by the detach trick."""
    return straight_through(x, gg.tensor(np.round(x.numpy())), clip)


def compare_forms(seed: int = 0) -> float:
    """Largest |difference| between the Function and detach-trick gradients (and values),
    over sign and round, clipped or not, on inputs that include 0, +-1 and +-0.5."""
    rng = np.random.default_rng(seed)
    data = np.concatenate([rng.uniform(-3, 3, 40), [0.0, 1.0, -1.0, 0.5, -0.5, 1.5]])
    weights = rng.standard_normal(data.shape)
    worst = 0.0
    for fn, trick in ((SignSTE.apply, sign_ste), (RoundSTE.apply, round_ste)):
        for clip in (False, True):
            got = []
            for f in (fn, trick):
                x = gg.tensor(data, requires_grad=True)
                y = f(x, clip)
                (y * gg.tensor(weights)).sum().backward()
                got.append((y.numpy(), x.grad.numpy()))
            (v1, g1), (v2, g2) = got
            worst = max(worst, float(np.max(np.abs(v1 - v2))), float(np.max(np.abs(g1 - g2))))
    return worst


def separable_data(n: int, dim: int, seed: int = 0):
    """Points labelled by the side of a hyperplane through 0 whose normal is +-1s."""
    rng = np.random.default_rng(seed)
    direction = rng.choice([-1.0, 1.0], size=dim)
    X = rng.standard_normal((n, dim))
    margin = X @ direction
    keep = np.abs(margin) > 0.5  # a margin, so that the task is cleanly separable
    return X[keep], (margin[keep] > 0).astype(np.float64)


class BinaryLinear(gg.nn.Module):
    """A linear classifier whose effective weights are ``alpha * sign(w)``."""

    def __init__(self, dim: int, clip: bool = True):
        super().__init__()
        self.w = gg.nn.Parameter(gg.tensor(np.random.default_rng(1).normal(0, 0.1, dim)))
        self.alpha = gg.nn.Parameter(gg.tensor(np.array(1.0)))
        self.clip = clip

    def forward(self, x):
        return x @ (self.alpha * SignSTE.apply(self.w, self.clip))


def train_binary(steps: int, dim: int = 16, seed: int = 0, lr: float = 0.05):
    """Train :class:`BinaryLinear`; returns (losses, accuracy, effective weights)."""
    X, y = separable_data(2000, dim, seed)
    Xt, yt = gg.tensor(X), gg.tensor(y)
    model = BinaryLinear(dim)
    opt = gg.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = gg.nn.functional.binary_cross_entropy_with_logits(model(Xt), yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with gg.no_grad():
        acc = float(np.mean((model(Xt).numpy() > 0) == (y > 0.5)))
        w_eff = (model.alpha * gg.sign(model.w)).numpy()
    return losses, acc, w_eff


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fast", "--quick", action="store_true", dest="fast",
                        help="fewer steps, for CI")
    args = parser.parse_args(argv)
    steps = min(args.steps, 80) if args.fast else args.steps

    worst = compare_forms(args.seed)
    print(f"Function vs detach trick (sign, round; clipped or not): max |diff| = {worst:.1e}")
    x = gg.tensor(np.array([-2.0, -0.3, 0.7]), requires_grad=True)
    gg.sign(x).sum().backward()
    print(f"true gradient of sign at {x.numpy()}: {x.grad.numpy()} (no signal)")
    losses, acc, w_eff = train_binary(steps, seed=args.seed)
    print(f"binary-weight classifier: loss {losses[0]:.3f} -> {losses[-1]:.3f} "
          f"in {steps} steps, accuracy {acc:.1%}")
    print(f"distinct effective weights: {np.unique(np.round(w_eff, 6))}")
    assert worst == 0.0, "the two straight-through forms disagree"
    return {"max_diff": worst, "losses": losses, "accuracy": acc, "weights": w_eff}


if __name__ == "__main__":
    main()
