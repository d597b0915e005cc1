"""The recorded graph: nodes, and the protection of arrays saved for backward.

A :class:`Node` is what one primitive application leaves behind when grad mode is on
and some input requires grad. It points *backwards* only: to the nodes that made its
inputs (or to leaf tensors), never to its own output tensor, so a graph holds no
reference cycles and is freed by reference counting the moment it is dropped.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["Node", "protect", "release", "FREED"]


_next_seq = itertools.count().__next__


class _Freed(tuple):
    """The ``ins`` of a node whose saved values were released (an empty tuple)."""

    def __repr__(self) -> str:
        return "FREED"


FREED = _Freed()


class _Extra:
    """Per-node extras most nodes never need: tensor hooks, retain_grad, anomaly trace,
    forward-mode tangents."""

    __slots__ = ("hooks", "retained", "trace", "duals")

    def __init__(self) -> None:
        self.hooks = None
        self.retained = None
        self.trace = None
        self.duals = None  # forward-mode tangents of the saved values (forward.py)


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
        "prim", "parents", "out", "ins", "params", "shape", "dtype", "protected", "extra",
        "seq", "__weakref__",
    )

    def __init__(self, prim, parents, out, ins, params, shape, dtype):
        self.prim = prim
        self.parents = parents
        self.out = out
        self.ins = ins
        self.params = params
        self.shape = shape
        self.dtype = dtype
        self.protected = None
        self.extra = None  # rarely used: an _Extra with hooks, retained tensor, trace
        # Creation order. A node is always created after the nodes of its inputs, so
        # visiting nodes from the highest seq down is a topological order of the graph.
        self.seq = _next_seq()

    # -- the rarely used parts live in one optional object, keeping nodes small --
    def _extra(self) -> _Extra:
        if self.extra is None:
            self.extra = _Extra()
        return self.extra

    @property
    def hooks(self):
        return None if self.extra is None else self.extra.hooks

    @property
    def trace(self):
        return None if self.extra is None else self.extra.trace

    @property
    def freed(self) -> bool:
        return self.ins is FREED

    def name(self) -> str:
        return self.prim.name

    def __repr__(self) -> str:
        return f"<{self.prim.name} node, output shape {self.shape}>"

    def release(self) -> None:
        """Drop the saved values (after a backward without ``retain_graph``)."""
        if self.out is not None or self.ins is not None:
            self.out = None
            self.ins = FREED
        if self.prim.on_release is not None:
            self.prim.on_release(self)
        if self.protected is not None:
            arrays, self.protected = self.protected, None
            release(arrays)

    def __del__(self):
        # A graph dropped without backward must still hand the arrays it protected back
        # to the user as writable.
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
    entry = _protected.get(id(arr))
    if entry is not None:
        entry[0] += 1
        return True
    if not arr.flags.writeable:
        return False  # already read-only for a reason of its own (a broadcast view)
    arr.setflags(write=False)
    _protected[id(arr)] = [1, opname, arr]
    return True


def release(arrays) -> None:
    """Undo :func:`protect` for each array (writable again once no graph holds it)."""
    get = _protected.get
    for arr in arrays:
        key = id(arr)
        entry = get(key)
        if entry is None:
            continue
        if entry[0] > 1:
            entry[0] -= 1
            continue
        del _protected[key]
        try:
            arr.setflags(write=True)
        except ValueError:  # a view whose base is still protected elsewhere
            pass


def saved_by(arr: np.ndarray) -> str | None:
    """Name of an op whose live graph saved ``arr`` (None if it is not protected)."""
    entry = _protected.get(id(arr))
    return None if entry is None else entry[1]
