"""The three graph pictures of the README, drawn by ``gg.viz``.

1. ``z = x * 3 + 5`` after ``z.backward()``: the seed's first graph, ``x -> *3 -> +5 -> z``,
   with every value and every gradient (``dz = 1``, ``da = dz * 1``, ``dx = da * 3``).
2. The seed's 2-4-1 sigmoid MLP on XOR after one backward: parameters named after the
   model, the data and targets as constants, each op coloured by the gradient it passed on.
3. A small CNN with one box per module (``collapse="module"``), as PyTorch users think of
   their model.

The forward and backward passes run inside ``with gg.viz.record():`` so the pictures can
show what the graph itself forgets (constants, intermediate values, the gradient that
reached each op). Uses Graphviz's ``dot`` when installed, else the matplotlib layout.

Run: ``python examples/graph_pictures.py --out DIR`` (default ``./graph-pictures``);
``--format svg`` for SVG instead of PNG; ``--fast`` draws only the first.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import glassgrad as gg


def chain_rule_graph(path: Path) -> Path:
    """``z = x * 3 + 5`` at ``x = 2``: values 6 and 11, gradients 1, 1 and dz/dx = 3."""
    x = gg.tensor(2.0, requires_grad=True)
    with gg.viz.record():
        z = x * 3 + 5
        z.backward()
    return gg.viz.draw(z, path, params={"x": x, "z": z})


def xor_graph(path: Path, seed: int = 0) -> Path:
    """The 2-4-1 sigmoid MLP with binary cross-entropy on the four XOR points, one backward."""
    gg.manual_seed(seed)
    model = gg.nn.Sequential(gg.nn.Linear(2, 4), gg.nn.Sigmoid(),
                             gg.nn.Linear(4, 1), gg.nn.Sigmoid())
    x = gg.tensor(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32))
    y = gg.tensor(np.array([[0], [1], [1], [0]], dtype=np.float32))
    with gg.viz.record():
        loss = gg.nn.functional.binary_cross_entropy(model(x), y)
        loss.backward()
    names = dict(model.named_parameters())
    names.update({"x (XOR inputs)": x, "y (targets)": y, "loss": loss})
    return gg.viz.draw(loss, path, params=names)


class SmallCNN(gg.nn.Module):
    """conv -> ReLU -> max-pool -> conv -> ReLU -> flatten -> linear, on 1x8x8 images."""

    def __init__(self):
        super().__init__()
        self.conv1 = gg.nn.Conv2d(1, 4, 3, padding=1)
        self.relu1 = gg.nn.ReLU()
        self.pool = gg.nn.MaxPool2d(2)
        self.conv2 = gg.nn.Conv2d(4, 8, 3, padding=1)
        self.relu2 = gg.nn.ReLU()
        self.flatten = gg.nn.Flatten()
        self.fc = gg.nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = self.pool(self.relu1(self.conv1(x)))
        return self.fc(self.flatten(self.relu2(self.conv2(x))))


def cnn_graph(path: Path, seed: int = 0) -> Path:
    """A small CNN on a batch of 8 random 8x8 images, one box per module call."""
    gg.manual_seed(seed)
    model = SmallCNN()
    images = gg.randn(8, 1, 8, 8)
    labels = gg.tensor(np.arange(8) % 10)
    with gg.viz.record(), gg.viz.trace_modules(model):
        loss = gg.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
    return gg.viz.draw(loss, path, model=model, collapse="module",
                       params={"images": images, "labels": labels, "loss": loss})


def main(argv=None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("graph-pictures"),
                        help="folder for the pictures (created if missing)")
    parser.add_argument("--format", choices=("png", "svg"), default="png")
    parser.add_argument("--fast", action="store_true", help="only the z = x * 3 + 5 picture")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    written = [chain_rule_graph(args.out / f"z_graph.{args.format}")]
    if not args.fast:
        written += [xor_graph(args.out / f"xor_mlp.{args.format}"),
                    cnn_graph(args.out / f"cnn_collapsed.{args.format}")]
    for p in written:
        print(f"wrote {p}")
    return written


if __name__ == "__main__":
    main()
