"""Decoupled neural interfaces: part 1 of a network learns from a *predicted* gradient.

In backpropagation the lower layers wait for the whole forward and backward pass above
them. Synthetic gradients (Jaderberg et al. 2017) break the wait: a small module ``M``
looks at the interface activation ``h`` (here, as in their "cDNI" variant, together with
the label) and predicts ``dL/dh``. Part 1 is updated at once from the prediction:

    h = part1(x)
    h.backward(M(h, y).detach())     # part 1's parameter gradients: (dh/dθ1)^T ĝ

``Tensor.backward(gradient)`` is exactly the vector-Jacobian product with the given
cotangent, so part 1 receives ``(dh/dθ1)^T ĝ``, the gradient it would get if ``ĝ`` were
the true ``dL/dh``. Part 2 then trains on a detached copy of ``h`` with the real loss,
which also yields the true ``dL/dh`` as the copy's ``.grad``; ``M`` is trained to regress
it (a mean-squared error). Part 1 never sees a true gradient.

``M`` is linear and starts at zero (so part 1 starts by standing still rather than
following noise). The targets are scaled by the batch size, so ``M`` predicts per-sample
gradients of O(1) and part 1 uses ``M(...) / batch``.

The task: 4 classes of 10-D points separated by a random 2-layer teacher network. It
prints the loss, the accuracy, and the cosine similarity between ``M``'s prediction and
the true gradient on fresh data.

Run: ``python examples/synthetic_gradients.py`` or with ``--fast`` / ``--quick`` (fewer
steps, for CI).
"""

from __future__ import annotations

import argparse

import numpy as np

import glassgrad as gg

F = gg.nn.functional
N_IN, N_CLASSES = 10, 4


def teacher_data(n: int, seed: int = 0):
    """(X, y): Gaussian inputs labelled by the argmax of a random tanh network."""
    rng = np.random.default_rng(seed)
    W1, W2 = rng.standard_normal((N_IN, 32)), rng.standard_normal((32, N_CLASSES))
    X = rng.standard_normal((n, N_IN))
    return X, np.tanh(X @ W1) @ W2


def labels(scores):
    return scores.argmax(axis=1)


class SyntheticGradient(gg.nn.Module):
    """``M(h, y)``: a linear prediction of ``dL/dh`` from the activation and the label."""

    def __init__(self, width: int):
        super().__init__()
        self.linear = gg.nn.Linear(width + N_CLASSES, width)
        gg.nn.init.zeros_(self.linear.weight)
        gg.nn.init.zeros_(self.linear.bias)

    def forward(self, h, y_onehot):
        return self.linear(gg.concatenate([h, y_onehot], axis=1))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum() / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


def train(steps: int, width: int = 64, batch: int = 128, seed: int = 0, lr: float = 3e-3):
    """Train with synthetic gradients for part 1; returns a dict of measurements."""
    X, scores = teacher_data(8192, seed)
    y = labels(scores)
    eye = np.eye(N_CLASSES)
    gg.manual_seed(seed)
    part1 = gg.nn.Sequential(gg.nn.Linear(N_IN, width), gg.nn.ReLU()).double()
    part2 = gg.nn.Sequential(gg.nn.Linear(width, width), gg.nn.ReLU(),
                             gg.nn.Linear(width, N_CLASSES)).double()
    M = SyntheticGradient(width).double()
    opt1 = gg.optim.Adam(part1.parameters(), lr=lr)
    opt2 = gg.optim.Adam(part2.parameters(), lr=lr)
    optM = gg.optim.Adam(M.parameters(), lr=lr)
    rng = np.random.default_rng(seed + 1)
    losses, cosines = [], []
    for _ in range(steps):
        idx = rng.integers(0, 6144, batch)  # the last 2048 points are held out
        xb, yb = gg.tensor(X[idx]), gg.tensor(y[idx])
        onehot = gg.tensor(eye[y[idx]])

        # part 1: update at once from the predicted gradient
        opt1.zero_grad()
        h = part1(xb)
        with gg.no_grad():
            g_hat = M(h.detach(), onehot)
        h.backward(g_hat / batch)
        opt1.step()

        # part 2: the real loss, on a detached copy of h (this also gives the true dL/dh)
        opt2.zero_grad()
        h_in = h.detach().requires_grad_()
        loss = F.cross_entropy(part2(h_in), yb)
        loss.backward()
        opt2.step()
        losses.append(loss.item())

        # M: regress the true gradient (per sample, hence * batch)
        optM.zero_grad()
        target = h_in.grad * batch
        F.mse_loss(M(h.detach(), onehot), target).backward()
        optM.step()
        cosines.append(cosine(g_hat.numpy(), target.numpy()))

    # on held-out data: accuracy, and M's prediction against the true gradient
    xh, yh = gg.tensor(X[6144:]), y[6144:]
    h = part1(xh).detach().requires_grad_()
    F.cross_entropy(part2(h), gg.tensor(yh)).backward()
    with gg.no_grad():
        pred = M(h.detach(), gg.tensor(eye[yh])).numpy()
        acc = float(np.mean(part2(h.detach()).numpy().argmax(1) == yh))
    true = h.grad.numpy() * len(yh)
    return {"losses": losses, "train_cosines": cosines, "heldout_accuracy": acc,
            "heldout_cosine": cosine(pred, true),
            "per_sample_cosine": float(np.median([cosine(p, t) for p, t in zip(pred, true)
                                                  if np.linalg.norm(t) > 1e-8]))}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fast", "--quick", action="store_true", dest="fast",
                        help="fewer steps, for CI")
    args = parser.parse_args(argv)
    steps = min(args.steps, 200) if args.fast else args.steps

    r = train(steps, width=32 if args.fast else 64, seed=args.seed)
    first, last = np.mean(r["losses"][:10]), np.mean(r["losses"][-10:])
    print(f"synthetic-gradient training, {steps} steps: loss {first:.3f} -> {last:.3f} "
          "(mean of the first and last 10 steps)")
    print(f"held-out accuracy {r['heldout_accuracy']:.1%} (chance {1 / N_CLASSES:.0%})")
    print(f"M's prediction vs the true dL/dh on held-out data: cosine {r['heldout_cosine']:.3f} "
          f"(whole batch), median per sample {r['per_sample_cosine']:.3f}")
    return r


if __name__ == "__main__":
    main()
