"""A small CNN classifies the 8x8 handwritten digits.

Data: as ``mlp_digits.py`` (``gg.data.load_digits``, a stratified 75/25 split, pixels
standardised with training statistics), but each image keeps its 2-D layout with one
channel, ``(N, 1, 8, 8)`` (NCHW, as PyTorch).

Model::

    Conv2d(1, 16, 3, padding=1)  -> BatchNorm2d(16) -> ReLU     16 x 8 x 8
    Conv2d(16, 32, 3, padding=1) -> BatchNorm2d(32) -> ReLU     32 x 8 x 8
    MaxPool2d(2)                                                 32 x 4 x 4
    Flatten -> Dropout(0.3) -> Linear(512, 10)                   10 logits

Each convolution's backward is im2col plus two matrix products; batch norm keeps running
statistics in training mode and uses them in eval mode. Trained with
``CrossEntropyLoss`` and Adam with a cosine learning-rate schedule.

Run: ``python examples/cnn_digits.py`` (15 epochs; prints the test accuracy and asserts it
is at least 97%) or with ``--fast`` (one epoch on a few hundred images, for CI).
"""

from __future__ import annotations

import argparse

import numpy as np

import glassgrad as gg
from glassgrad.data import DataLoader, TensorDataset, load_digits, train_test_split

TARGET = 0.97  # test accuracy the full run must reach


def prepare_data(split_seed: int = 0):
    """Train/test images (float32, shape (N, 1, 8, 8), standardised) and int64 labels."""
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, seed=split_seed, stratify=y)
    # Per-pixel statistics from the training set only; + 0.1 tames the near-constant
    # border pixels.
    mean, spread = X_train.mean(axis=0), X_train.std(axis=0) + 0.1
    X_train, X_test = (X_train - mean) / spread, (X_test - mean) / spread
    return X_train[:, None], X_test[:, None], y_train, y_test  # add the channel axis


def build_model(dropout: float = 0.3) -> gg.nn.Module:
    nn = gg.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(dropout), nn.Linear(32 * 4 * 4, 10),
    )


def accuracy(model: gg.nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of ``X`` classified as ``y``: eval mode (running BN statistics, no
    dropout), no graph recorded."""
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
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0, help="initial weights, dropout, order")
    parser.add_argument("--fast", action="store_true",
                        help="one epoch on 320 training images, no accuracy goal")
    args = parser.parse_args(argv)

    gg.manual_seed(args.seed)
    X_train, X_test, y_train, y_test = prepare_data()
    epochs = args.epochs
    if args.fast:
        epochs, X_train, y_train = 1, X_train[:320], y_train[:320]
    print(f"digits: {len(y_train)} training and {len(y_test)} test images, 1 x 8 x 8 each")
    model = build_model()
    train(model, X_train, y_train, epochs, args.lr, args.batch_size)
    acc = accuracy(model, X_test, y_test)
    print(f"test accuracy: {acc:.2%} ({round(acc * len(y_test))} of {len(y_test)})")
    if not args.fast:
        assert acc >= TARGET, f"test accuracy {acc:.2%} is below {TARGET:.0%}"
    return acc


if __name__ == "__main__":
    main()
