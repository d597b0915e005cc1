"""A gradient reversal layer and domain-adversarial training (DANN, Ganin & Lempitsky 2015).

The layer is the identity forward and multiplies the cotangent by ``-lambda`` backward:

    forward:  out = x
    backward: gx  = -lambda * g

It is deliberately *not* the derivative of its forward (that would be ``g``): it is a
way to make one backward pass do gradient descent on one part of a network and gradient
*ascent* on another. ``gg.autograd.gradcheck`` therefore rejects it, as it should, and
the test that holds up is that its gradient is exactly ``-lambda`` times the plain one.

Domain-adversarial training puts it between a feature extractor and a domain
classifier. Everything is minimised in one ``loss = label_loss + domain_loss`` step:
the label head and the domain head descend on their own losses, while the extractor
receives ``+grad(label_loss) - lambda * grad(domain_loss)``: it learns features that
keep the label predictable and make the domain *un*predictable.

The demo data: two domains ("source" and "target") of 8-D points whose label depends
on the first two coordinates only; the target domain is shifted along the other six
(a nuisance that betrays the domain). It prints, with and without reversal
(``lambda = 0``), the label accuracy, the domain head's loss late in training and the
accuracy of a *fresh* logistic probe trained on the frozen features. Honest result: the
reversal keeps the label task solved and stops the domain head from simply winning (its
loss stays high on most seeds), but in this short run the simultaneous min-max game
oscillates and the fresh probe still separates the domains; getting features that are
truly domain-invariant takes the usual DANN care (a ramped lambda, more steps, tuned
learning rates). The test therefore checks the gradient property and that the label
loss falls with the reversal in place, not domain invariance.

Run: ``python examples/gradient_reversal.py`` or with ``--fast`` / ``--quick`` (fewer
steps, for CI).
"""

from __future__ import annotations

import argparse

import numpy as np

import glassgrad as gg

F = gg.nn.functional


class GradReverse(gg.autograd.Function):
    """Identity forward; ``-lambda * g`` backward. ``GradReverse.apply(x, lam)``."""

    @staticmethod
    def forward(ctx, x, lam=1.0):
        ctx.lam = float(lam)
        return x.clone()  # a new tensor: the output is not the input object

    @staticmethod
    def backward(ctx, g):
        return -ctx.lam * g, None


def grad_reverse(x, lam: float = 1.0):
    """The gradient reversal layer as a function."""
    return GradReverse.apply(x, lam)


def reversal_ratio(lam: float = 0.7, seed: int = 0) -> float:
    """Largest |reversed gradient - (-lam) * plain gradient| of a small composite (0.0:
    the reversal is one multiply of the cotangent that arrives at it)."""
    rng = np.random.default_rng(seed)
    data, w = rng.standard_normal((4, 3)), gg.tensor(rng.standard_normal((3, 2)))
    grads = []
    for layer in (lambda t: t, lambda t: grad_reverse(t, lam)):
        x = gg.tensor(data, requires_grad=True)
        # the layer sits on the leaf, so x.grad is its output: exactly -lam * g
        (layer(x).tanh() @ w).sin().sum().backward()
        grads.append(x.grad.numpy())
    plain, reversed_ = grads
    return float(np.max(np.abs(reversed_ - (-lam) * plain)))


def domain_data(n: int, seed: int = 0, shift: float = 2.0):
    """(X, label, domain): two domains of ``n`` points each; the label is the
    linear rule ``x0 + x1 > 0``, the target domain is shifted along coordinates 2..7."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2 * n, 8))
    domain = np.repeat([0, 1], n)
    X[domain == 1, 2:] += shift
    label = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, label, domain


class DANN(gg.nn.Module):
    """Feature extractor, label head, and a domain head behind a gradient reversal."""

    def __init__(self, hidden: int = 16, lam: float = 1.0):
        super().__init__()
        self.features = gg.nn.Sequential(gg.nn.Linear(8, hidden), gg.nn.ReLU(),
                                         gg.nn.Linear(hidden, hidden))
        self.label_head = gg.nn.Linear(hidden, 2)
        self.domain_head = gg.nn.Sequential(gg.nn.Linear(hidden, hidden), gg.nn.ReLU(),
                                            gg.nn.Linear(hidden, 2))
        self.lam = lam

    def forward(self, x):
        h = self.features(x)
        return self.label_head(h), self.domain_head(grad_reverse(h, self.lam))


def probe_accuracy(h: np.ndarray, target: np.ndarray, steps: int = 200) -> float:
    """Train a fresh logistic regression on fixed features ``h``; its training accuracy
    (an upper bound on what it can tell apart: no held-out flattery)."""
    h = (h - h.mean(0)) / (h.std(0) + 1e-8)
    probe = gg.nn.Linear(h.shape[1], 2).double()
    opt = gg.optim.Adam(probe.parameters(), lr=0.05)
    ht, tt = gg.tensor(h), gg.tensor(target)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(probe(ht), tt).backward()
        opt.step()
    with gg.no_grad():
        return float(np.mean(probe(ht).numpy().argmax(1) == target))


def train_dann(steps: int, lam: float = 1.0, seed: int = 0, n: int = 500, lr: float = 0.01):
    """Train a :class:`DANN`; returns the label accuracy (both domains), the accuracy of
    a fresh domain probe on the learnt features, and the label and domain-head losses of
    every step."""
    X, label, domain = domain_data(n, seed)
    gg.manual_seed(seed)
    model = DANN(lam=lam).double()
    opt = gg.optim.Adam(model.parameters(), lr=lr)
    Xt, yt, dt = gg.tensor(X), gg.tensor(label), gg.tensor(domain)
    source = gg.tensor(np.flatnonzero(domain == 0))
    losses, domain_losses = [], []
    for _ in range(steps):
        opt.zero_grad()
        label_logits, domain_logits = model(Xt)
        # labels are known on the source domain only (the domain-adaptation setting)
        label_loss = F.cross_entropy(label_logits[source], yt[source])
        domain_loss = F.cross_entropy(domain_logits, dt)
        (label_loss + domain_loss).backward()
        opt.step()
        losses.append(label_loss.item())
        domain_losses.append(domain_loss.item())
    with gg.no_grad():
        label_logits, _ = model(Xt)
        h = model.features(Xt).numpy()
    label_acc = float(np.mean(label_logits.numpy().argmax(1) == label))
    return {"label_acc": label_acc, "domain_probe_acc": probe_accuracy(h, domain),
            "label_losses": losses, "domain_losses": domain_losses}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--lam", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fast", "--quick", action="store_true", dest="fast",
                        help="fewer steps, for CI")
    args = parser.parse_args(argv)
    steps = min(args.steps, 250) if args.fast else args.steps

    worst = reversal_ratio()
    print(f"reversed gradient vs -lambda * plain gradient: max |diff| = {worst:.1e}")
    x = gg.tensor(np.random.default_rng(0).standard_normal(3), requires_grad=True)
    try:
        gg.autograd.gradcheck(lambda t: grad_reverse(t, 0.5), (x,))
        print("gradcheck accepted the reversal layer (unexpected)")
        refused = False
    except gg.autograd.GradcheckError:
        print("gradcheck rejects the reversal layer, as it should: its backward is not "
              "the derivative of its forward")
        refused = True

    out = {"max_diff": worst, "gradcheck_refused": refused}
    for lam in (0.0, args.lam):
        r = train_dann(steps, lam, args.seed)
        late = float(np.mean(r["domain_losses"][-20:]))
        print(f"lambda = {lam:g}: label accuracy {r['label_acc']:.1%}, label loss "
              f"{r['label_losses'][0]:.3f} -> {r['label_losses'][-1]:.3f}; domain head loss "
              f"(last 20 steps) {late:.3f}; fresh domain probe accuracy "
              f"{r['domain_probe_acc']:.1%} (chance 50%)")
        out[lam] = r
    assert worst == 0.0 and refused
    return out


if __name__ == "__main__":
    main()
