"""An MLP classifies the 8x8 handwritten digits: the PyTorch training loop on glassgrad.

Data: ``gg.data.load_digits`` (1797 images shipped with glassgrad), split 75/25 into
train and test sets with the same share of every digit in both (``stratify``), each
pixel standardised with the training set's mean and spread.

Model: 64 pixels -> Linear(64, 512) -> ReLU -> Dropout(0.3) -> Linear(512, 10) logits,
trained with ``CrossEntropyLoss`` and Adam on mini-batches from a shuffling
``DataLoader``, the learning rate annealed to zero along a cosine
(``CosineAnnealingLR``). ``model.train()`` switches dropout on, ``model.eval()`` off.

Run: ``python examples/mlp_digits.py`` (30 epochs, a few seconds; prints the test
accuracy and asserts it is at least 97%) or with ``--fast`` (two epochs, for CI).
"""

from __future__ import annotations

import argparse

import numpy as np

import glassgrad as gg
from glassgrad.data import DataLoader, TensorDataset, load_digits, train_test_split

TARGET = 0.97  # test accuracy the full run must reach


def prepare_data(split_seed: int = 0):
    """Train/test arrays: flattened images (float32, standardised) and int64 labels."""
    X, y = load_digits(flatten=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, seed=split_seed, stratify=y)
    # Statistics from the training set only: the test set must stay unseen. The + 0.1
    # keeps border pixels, which are almost always 0, from being blown up.
    mean, spread = X_train.mean(axis=0), X_train.std(axis=0) + 0.1
    return (X_train - mean) / spread, (X_test - mean) / spread, y_train, y_test


def build_model(hidden: int = 512, dropout: float = 0.3) -> gg.nn.Module:
    return gg.nn.Sequential(
        gg.nn.Linear(64, hidden), gg.nn.ReLU(), gg.nn.Dropout(dropout),
        gg.nn.Linear(hidden, 10),
    )


def accuracy(model: gg.nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of ``X`` classified as ``y`` (in eval mode, without recording a graph)."""
    model.eval()
    with gg.no_grad():
        predicted = model(gg.tensor(X)).numpy().argmax(axis=1)
    return float(np.mean(predicted == y))


def train(model, X_train, y_train, epochs: int, lr: float, batch_size: int) -> None:
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=batch_size, shuffle=True)
    loss_fn = gg.nn.CrossEntropyLoss()
    opt = gg.optim.Adam(model.parameters(), lr=lr)
    sched = gg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        sched.step()
        print(f"epoch {epoch + 1:3d}  train loss {total / len(y_train):.4f}")


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0, help="initial weights, dropout, order")
    parser.add_argument("--fast", action="store_true", help="two epochs, no accuracy goal")
    args = parser.parse_args(argv)
    epochs = min(args.epochs, 2) if args.fast else args.epochs

    gg.manual_seed(args.seed)  # every random draw below comes from glassgrad's generator
    X_train, X_test, y_train, y_test = prepare_data()
    print(f"digits: {len(y_train)} training and {len(y_test)} test images of 8x8 pixels")
    model = build_model()
    train(model, X_train, y_train, epochs, args.lr, args.batch_size)
    acc = accuracy(model, X_test, y_test)
    print(f"test accuracy: {acc:.2%} ({round(acc * len(y_test))} of {len(y_test)})")
    if not args.fast:
        assert acc >= TARGET, f"test accuracy {acc:.2%} is below {TARGET:.0%}"
    return acc


if __name__ == "__main__":
    main()
