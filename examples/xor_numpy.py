"""XOR by hand: a 2-4-1 sigmoid network with backpropagation written out in plain NumPy.

No autograd here. ``forward`` keeps every intermediate value (z1, a1, z2, a2) because
the backward pass needs them; ``backward`` applies the chain rule layer by layer, from
the loss back to the first weight matrix; ``update`` takes one gradient-descent step.
Before training, the hand-derived gradients are checked against central differences,
the standard way to catch a wrong derivative.

``examples/xor_glassgrad.py`` builds the same model with ``gg.nn`` and checks that the
engine's gradients equal the ones computed here.

Run: ``python examples/xor_numpy.py`` (6000 epochs, asserts XOR is learned) or with
``--fast`` (a few hundred epochs, for CI).
"""

from __future__ import annotations

import argparse

import numpy as np

# The four XOR points and their targets, one row per example.
X_XOR = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y_XOR = np.array([[0.0], [1.0], [1.0], [0.0]])


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + e^-z); its derivative is s(z) (1 - s(z))."""
    return 1.0 / (1.0 + np.exp(-z))


class TwoLayerNet:
    """x -> sigmoid(x W1 + b1) -> sigmoid(. W2 + b2), trained on mean binary cross-entropy.

    Weights are stored as (in, out) matrices so that a batch ``X`` of shape (m, in)
    multiplies from the left: ``z1 = X @ W1 + b1``. (``gg.nn.Linear`` and PyTorch store
    the transpose, (out, in), and compute ``x @ W.T + b``.)

    Parameters
    ----------
    n_in, n_hidden, n_out : int
        Layer widths (2, 4, 1 for XOR).
    lr : float
        Gradient-descent step size.
    seed : int
        Seeds the initial weights: standard normal times 0.5; biases start at zero.
    """

    def __init__(self, n_in: int = 2, n_hidden: int = 4, n_out: int = 1, lr: float = 0.7,
                 seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.lr = lr
        self.W1 = 0.5 * rng.standard_normal((n_in, n_hidden))
        self.b1 = np.zeros((1, n_hidden))
        self.W2 = 0.5 * rng.standard_normal((n_hidden, n_out))
        self.b2 = np.zeros((1, n_out))

    def params(self) -> dict[str, np.ndarray]:
        """The four parameter arrays by name (the live arrays, not copies)."""
        return {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Compute the prediction, keeping each layer's pre- and post-activation."""
        self.z1 = X @ self.W1 + self.b1       # (m, hidden)
        self.a1 = sigmoid(self.z1)
        self.z2 = self.a1 @ self.W2 + self.b2  # (m, out)
        self.a2 = sigmoid(self.z2)
        return self.a2

    @staticmethod
    def loss(a2: np.ndarray, y: np.ndarray) -> float:
        """Mean binary cross-entropy -[y log a2 + (1 - y) log(1 - a2)] over all outputs."""
        return float(-np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2)))

    def backward(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of the mean BCE with respect to every parameter (after ``forward``).

        With n = a2.size outputs, L = -(1/n) sum[y log a2 + (1-y) log(1-a2)], so
        dL/da2 = (a2 - y) / (n a2 (1 - a2)). The sigmoid contributes
        da2/dz2 = a2 (1 - a2), which cancels the denominator: dL/dz2 = (a2 - y) / n.
        From there each step is one use of the chain rule.
        """
        n = self.a2.size
        dz2 = (self.a2 - y) / n                      # loss through the output sigmoid
        self.dW2 = self.a1.T @ dz2                   # z2 = a1 W2 + b2, so dz2/dW2 gives a1
        self.db2 = dz2.sum(axis=0, keepdims=True)    # b2 was broadcast over the m rows
        da1 = dz2 @ self.W2.T                        # ... and dz2/da1 gives W2
        dz1 = da1 * self.a1 * (1 - self.a1)          # sigmoid'(z1) = a1 (1 - a1)
        self.dW1 = X.T @ dz1
        self.db1 = dz1.sum(axis=0, keepdims=True)
        return {"W1": self.dW1, "b1": self.db1, "W2": self.dW2, "b2": self.db2}

    def update(self) -> None:
        """One gradient-descent step, in place: p <- p - lr * dL/dp."""
        self.W1 -= self.lr * self.dW1
        self.b1 -= self.lr * self.db1
        self.W2 -= self.lr * self.dW2
        self.b2 -= self.lr * self.db2

    def train(self, X: np.ndarray, y: np.ndarray, epochs: int, log_every: int = 1000,
              verbose: bool = True) -> list[float]:
        """Full-batch gradient descent; returns the loss before each step."""
        losses = []
        for epoch in range(epochs):
            a2 = self.forward(X)
            losses.append(self.loss(a2, y))
            self.backward(X, y)
            self.update()
            if verbose and epoch % log_every == 0:
                print(f"epoch {epoch:5d}  loss {losses[-1]:.6f}")
        return losses


def numerical_gradients(net: TwoLayerNet, X: np.ndarray, y: np.ndarray,
                        eps: float = 1e-6) -> dict[str, np.ndarray]:
    """Central differences (L(p + eps) - L(p - eps)) / (2 eps), one parameter entry at a time.

    The error is O(eps^2), so in float64 it agrees with a correct analytic gradient to
    about 1e-9; a wrong derivative is off by far more.
    """
    grads = {}
    for name, p in net.params().items():
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            saved = p[idx]
            p[idx] = saved + eps
            up = net.loss(net.forward(X), y)
            p[idx] = saved - eps
            down = net.loss(net.forward(X), y)
            p[idx] = saved  # restore before the next entry
            g[idx] = (up - down) / (2 * eps)
        grads[name] = g
    return grads


def check_gradients(net: TwoLayerNet, X: np.ndarray, y: np.ndarray) -> float:
    """Largest |hand-derived - central difference| over all parameters (asserted small)."""
    numeric = numerical_gradients(net, X, y)
    net.forward(X)
    analytic = net.backward(X, y)
    worst = max(float(np.max(np.abs(analytic[k] - numeric[k]))) for k in analytic)
    assert worst < 1e-8, f"hand-derived gradients disagree with central differences: {worst:.2e}"
    return worst


def main(argv=None) -> TwoLayerNet:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6000)
    parser.add_argument("--lr", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fast", action="store_true", help="a few hundred epochs, no goal")
    args = parser.parse_args(argv)
    epochs = min(args.epochs, 300) if args.fast else args.epochs

    net = TwoLayerNet(2, 4, 1, lr=args.lr, seed=args.seed)
    worst = check_gradients(net, X_XOR, Y_XOR)
    print(f"gradient check at the initial weights: max |backprop - numerical| = {worst:.1e}")
    losses = net.train(X_XOR, Y_XOR, epochs, log_every=max(epochs // 6, 1))
    pred = net.forward(X_XOR)
    print(f"final loss {net.loss(pred, Y_XOR):.6f} after {epochs} epochs")
    print("predictions for (0,0) (0,1) (1,0) (1,1): "
          + "  ".join(f"{p:.3f}" for p in pred.ravel()))
    if not args.fast:
        assert losses[-1] < losses[0], "the loss did not go down"
        assert np.array_equal(pred > 0.5, Y_XOR > 0.5), "XOR was not learned"
    return net


if __name__ == "__main__":
    main()
