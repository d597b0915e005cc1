"""XOR with glassgrad: the network of ``xor_numpy.py``, written the PyTorch way.

The model is ``Sequential(Linear(2, 4), Sigmoid(), Linear(4, 1), Sigmoid())`` trained on
``BCELoss`` with ``gg.optim.SGD``: ``model(x)``, ``loss.backward()``, ``opt.step()``.
No derivative is written here: the engine derives what ``xor_numpy.py`` spells out by
hand. Two checks tie the two programs together:

1. On identical weights, the engine's gradients equal the hand-derived ones
   (:func:`gradients_agree`), to rounding error in float64.
2. Started from the same weights, training follows the same trajectory: after the last
   epoch both programs hold the same weights.

Run: ``python examples/xor_glassgrad.py`` (6000 epochs, asserts XOR is learned) or with
``--fast`` (a few hundred epochs, for CI).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import glassgrad as gg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xor_numpy import TwoLayerNet  # noqa: E402  (the sibling example)


def build_model() -> gg.nn.Module:
    """2 inputs -> 4 sigmoid units -> 1 sigmoid output, as the seed lesson's network."""
    return gg.nn.Sequential(
        gg.nn.Linear(2, 4), gg.nn.Sigmoid(),
        gg.nn.Linear(4, 1), gg.nn.Sigmoid(),
    )


def copy_weights(net: TwoLayerNet, model: gg.nn.Module) -> None:
    """Load the NumPy network's weights into ``model``.

    The state-dict keys are PyTorch's (``"<layer index>.weight"``); ``Linear`` keeps its
    weight as (out, in) and computes ``x @ W.T + b``, so the NumPy (in, out) matrices go
    in transposed and the (1, out) bias rows as vectors.
    """
    model.load_state_dict({
        "0.weight": net.W1.T, "0.bias": net.b1[0],
        "2.weight": net.W2.T, "2.bias": net.b2[0],
    })


def _as_numpy_layout(model: gg.nn.Module, of_grad: bool) -> dict[str, np.ndarray]:
    """The model's parameters (or their gradients) in xor_numpy's names and layout."""
    def get(p):
        return (p.grad if of_grad else p).numpy()

    first, second = model[0], model[2]
    return {
        "W1": get(first.weight).T, "b1": get(first.bias)[None],
        "W2": get(second.weight).T, "b2": get(second.bias)[None],
    }


def gradients_agree(seed: int = 0, tol: float = 1e-12) -> float:
    """Compare engine and hand-derived gradients on identical weights and data.

    Builds ``TwoLayerNet(seed=seed)``, copies its weights into a float64 glassgrad model,
    computes the mean BCE on the XOR data both ways and returns the largest absolute
    difference over the four gradients (and the loss). Raises ``AssertionError`` if it
    exceeds ``tol``.
    """
    X, y = gg.data.xor()
    net = TwoLayerNet(2, 4, 1, seed=seed)
    model = build_model().double()  # float64 like the NumPy net: compare to rounding error
    copy_weights(net, model)

    loss = gg.nn.BCELoss()(model(gg.tensor(X)), gg.tensor(y))
    loss.backward()
    hand_loss = net.loss(net.forward(X), y)
    by_hand = net.backward(X, y)
    by_engine = _as_numpy_layout(model, of_grad=True)

    worst = abs(loss.item() - hand_loss)
    for name, g in by_hand.items():
        assert by_engine[name].shape == g.shape, name
        worst = max(worst, float(np.max(np.abs(by_engine[name] - g))))
    assert worst <= tol, f"engine and hand-derived gradients differ by {worst:.2e} > {tol:g}"
    return worst


def train(model: gg.nn.Module, X: gg.Tensor, y: gg.Tensor, epochs: int, lr: float,
          log_every: int = 1000) -> list[float]:
    """Full-batch gradient descent, the PyTorch loop; returns the loss of every epoch."""
    loss_fn = gg.nn.BCELoss()
    opt = gg.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if epoch % log_every == 0:
            print(f"epoch {epoch:5d}  loss {losses[-1]:.6f}")
    return losses


def main(argv=None) -> gg.nn.Module:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6000)
    parser.add_argument("--lr", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fast", action="store_true", help="a few hundred epochs, no goal")
    args = parser.parse_args(argv)
    epochs = min(args.epochs, 300) if args.fast else args.epochs

    worst = gradients_agree(args.seed)
    print(f"engine vs hand-derived gradients on identical weights: max |diff| = {worst:.1e}")

    # Start from xor_numpy's initial weights, so the two programs can be compared epoch
    # by epoch; float64 so that they agree to rounding error.
    net = TwoLayerNet(2, 4, 1, lr=args.lr, seed=args.seed)
    model = build_model().double()
    copy_weights(net, model)
    X_np, y_np = gg.data.xor()
    losses = train(model, gg.tensor(X_np), gg.tensor(y_np), epochs, args.lr,
                   log_every=max(epochs // 6, 1))

    with gg.no_grad():
        pred = model(gg.tensor(X_np))
        final = gg.nn.BCELoss()(pred, gg.tensor(y_np)).item()
        pred = pred.numpy()
    print(f"final loss {final:.6f} after {epochs} epochs")
    print("predictions for (0,0) (0,1) (1,0) (1,1): "
          + "  ".join(f"{p:.3f}" for p in pred.ravel()))

    net.train(X_np, y_np, epochs, verbose=False)  # the same steps, by hand
    drift = max(float(np.max(np.abs(w - net.params()[k])))
                for k, w in _as_numpy_layout(model, of_grad=False).items())
    print(f"weights after training vs xor_numpy.py's: max |diff| = {drift:.1e}")
    assert drift < 1e-8, "glassgrad and the hand-written NumPy training diverged"
    if not args.fast:
        assert final < losses[0], "the loss did not go down"
        assert np.array_equal(pred > 0.5, y_np > 0.5), "XOR was not learned"
    return model


if __name__ == "__main__":
    main()
