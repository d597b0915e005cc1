"""Algebra a person does by hand, applied to the traced graph before its backward runs.

Some pairs of ops have a backward far simpler than the two rules chained. The classic:
a sigmoid output p = sigmoid(z) fed to binary cross-entropy. Chained, the rules compute
``g * (p - y) / (p (1 - p))`` and then multiply by the sigmoid's ``p (1 - p)``; by hand
the two cancel and ``dL/dz = g * (p - y)`` (the seed page's ``dz2 = a2 - y``). Each rule
here is a small card: which op consumes which, and the combined VJP with its derivation.
The rewrite touches only the trace's own graph (it is thrown away after the trace), so
eager training never sees it.
"""

from __future__ import annotations

from ..graph import Node, walk
from ..nn._loss_ops import _clamped_logs
from ..primitive import Primitive

__all__ = ["rewrite", "FUSIONS", "PRIMS"]


def _never(z, y):
    raise RuntimeError("a fused backward rule has no forward of its own")


def _sigmoid_bce_z(g, out, p, y):
    return g * (p - y)


def _sigmoid_bce_y(g, out, p, y):
    log_p, log_q = _clamped_logs(p)
    return g * (log_q - log_p)


SIGMOID_BCE = Primitive(
    "sigmoid+binary_cross_entropy", _never, (_sigmoid_bce_z, _sigmoid_bce_y),
    doc="loss = bce(sigmoid(z), y). d loss/dp = (p - y) / (p (1 - p)) and dp/dz = "
        "p (1 - p) cancel:\nVJP: gz = g * (p - y),  gy = g * (log(1 - p) - log(p)).")


def _sigmoid_then_bce(n: Node):
    """bce(p, y) whose p is a sigmoid's output: one node from z with the saved p, y."""
    if n.prim.name != "binary_cross_entropy" or type(n.parents[0]) is not Node:
        return None
    m = n.parents[0]
    if m.prim.name != "sigmoid" or n.ins is None:
        return None
    return SIGMOID_BCE, [m.parents[0], n.parents[1]], n.ins


FUSIONS = [_sigmoid_then_bce]
PRIMS = [SIGMOID_BCE]  # the fused rules' cards (for the program's comments)


def rewrite(root: Node) -> int:
    """Apply every fusion to the graph behind ``root``; returns how many applied."""
    count = 0
    for n in walk([root]):
        for fusion in FUSIONS:
            hit = fusion(n)
            if hit is not None:
                n.prim, n.parents, n.ins = hit[0], hit[1], hit[2]
                count += 1
                break
    return count

