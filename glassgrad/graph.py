"""The recorded graph: nodes, and the protection of arrays saved for backward.

A :class:`Node` is what one primitive application leaves behind when grad mode is on
and some input requires grad. It points *backwards* only: to the nodes that made its
inputs (or to leaf tensors), never to its own output tensor, so a graph holds no
reference cycles and is freed by reference counting the moment it is dropped.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Node", "protect", "release"]


class Node:
    """One recorded primitive application (PyTorch calls it a ``grad_fn``).

    Attributes
    ----------
    prim : Primitive
        The operation; ``prim.vjp`` maps the output cotangent to input cotangents.
    parents : tuple
        One entry per input: the input's ``Node``, the leaf ``Tensor`` itself, or
        ``None`` for an input that needs no gradient.
    out, ins : saved values (the output array and the input arrays the rule uses),
        dropped after backward unless ``retain_graph=True``.
    params : tuple of the op's non-tensor arguments (axis, shape, index, ...).
    shape, dtype : of the output, so cotangents can be checked and unbroadcast.
    """

    __slots__ = (
        "prim", "parents", "out", "ins", "params", "shape", "dtype",
        "freed", "hooks", "retained", "protected", "trace", "__weakref__",
    )

    def __init__(self, prim, parents, out, ins, params, shape, dtype):
        self.prim = prim
        self.parents = parents
        self.out = out
        self.ins = ins
        self.params = params
        self.shape = shape
        self.dtype = dtype
        self.freed = False
        self.hooks = None
        self.retained = None
        self.protected = None
        self.trace = None

    def name(self) -> str:
        return self.prim.name

    def __repr__(self) -> str:
        return f"<{self.prim.name} node, output shape {self.shape}>"

    def release(self) -> None:
        """Drop the saved values (after a backward without ``retain_graph``)."""
        if self.out is not None or self.ins is not None:
            self.out = None
            self.ins = None
            self.freed = True
        if self.prim.on_release is not None:
            self.prim.on_release(self)
        if self.protected is not None:
            release(self.protected)
            self.protected = None

    def __del__(self):
        # A graph dropped without backward must still hand its leaves' arrays back
        # to the user as writable; only nodes that protected something do any work.
        if self.protected is not None:
            try:
                release(self.protected)
            except Exception:  # interpreter shutdown: module globals may be gone
                pass

    # Public-facing names as PyTorch's grad_fn offers them.
    @property
    def next_functions(self):
        return tuple(p for p in self.parents)


# --- protection of saved leaf arrays --------------------------------------------------
# Arrays of leaf tensors (parameters, inputs) that a live graph saved are made read-only
# until that graph is released, so ``w.data -= ...`` or an in-place op between forward
# and backward fails loudly instead of silently corrupting the gradient. One array may be
# saved by several live graphs: ``_protected`` counts them (keyed by id; the array is
# alive while counted because the graph holds it) and remembers the first op's name.
_protected: dict[int, list] = {}


def protect(arr: np.ndarray, opname: str) -> bool:
    """Mark ``arr`` read-only on behalf of a graph; False if it cannot be (not ours)."""
    key = id(arr)
    entry = _protected.get(key)
    if entry is not None:
        entry[0] += 1
        return True
    if not arr.flags.writeable:
        return False  # already read-only for a reason of its own (a broadcast view)
    arr.flags.writeable = False
    _protected[key] = [1, opname, arr]
    return True


def release(arrays) -> None:
    for arr in arrays:
        key = id(arr)
        entry = _protected.get(key)
        if entry is None:
            continue
        entry[0] -= 1
        if entry[0] == 0:
            del _protected[key]
            try:
                arr.flags.writeable = True
            except ValueError:  # a view whose base is still protected elsewhere
                pass


def saved_by(arr: np.ndarray) -> str | None:
    """Name of an op whose live graph saved ``arr`` (None if it is not protected)."""
    entry = _protected.get(id(arr))
    return None if entry is None else entry[1]
