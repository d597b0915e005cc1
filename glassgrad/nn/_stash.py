"""Helpers shared by the fused nn primitives: the stash, and calling a primitive on
arrays or Tensors alike.

A fused forward often computes something its backward needs again: conv2d's im2col
columns, max-pool's argmax, batch norm's mean and 1/sigma. Recomputing it would cost a
second pass over the data. A :class:`Stash` is passed to the primitive as one of its
non-tensor parameters; the forward stores the arrays in it, the VJP rules read them
on the ordinary (array) backward, and the engine empties it when the node releases its
saved values (``on_release``), exactly as it frees ``out`` and the saved inputs. The
higher-order path (rules running on Tensors, ``create_graph=True``) never relies on a
stash for anything differentiable: it recomputes from the saved Tensor inputs, so the
recomputation itself is recorded. (Integer indices, such as max-pool's argmax, are
constants and may be reused on both paths.)
"""

from __future__ import annotations

import numpy as np

from ..backend import asarray, shape_of
from ..primitive import apply
from ..tensor import Tensor

__all__ = ["Stash", "release_stash", "call", "is_array", "shape_of"]


class Stash:
    """A slot for arrays a fused forward hands to its own backward."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values = None

    def __repr__(self) -> str:
        return "Stash(empty)" if self.values is None else "Stash(filled)"


def release_stash(node) -> None:
    """``on_release`` hook: drop what the node's stash holds once backward consumed it."""
    for p in node.params:
        if type(p) is Stash:
            p.values = None


def is_array(v) -> bool:
    """True for plain arrays (the ordinary backward), False for Tensors (higher order).

    Rules are written once for both; this is only for the places where the two paths
    must differ: a stash holds arrays from the forward, which the higher-order path
    must recompute with recorded ops instead (so they differentiate)."""
    return not isinstance(v, Tensor)




def check_input_dtype(who, x, weight) -> None:
    """A layer's input must have its weight's dtype, as in PyTorch.

    NumPy would promote silently (an int64 or float64 batch into a float32 layer gives a
    float64 output and float64 gradient arithmetic); PyTorch raises, and so do we.
    """
    xd = getattr(x, "dtype", None)
    if xd is None:
        xd = np.result_type(x)
    wd = weight.dtype
    if xd != wd:
        who = who if isinstance(who, str) else repr(who)  # a layer: named only on error
        raise TypeError(
            f"{who}: the input has dtype {xd} but the layer's weight has dtype {wd}; "
            f"convert the input with x.astype(np.{wd}) (or the layer with .to({wd}))"
        )


def call(prim, inputs: tuple, params: tuple):
    """Run ``prim`` on arrays directly, or record it when any input is a Tensor.

    Rules use this to call another primitive (conv2d's VJP calls col2im): on arrays it
    is the plain NumPy forward, on Tensors a recorded node, so the rule differentiates.
    """
    if any(isinstance(v, Tensor) for v in inputs):
        return apply(prim, inputs, params)
    out = prim.forward(*inputs, *params)
    return asarray(out)
