"""The recorded graph: nodes, and the protection of arrays saved for backward.

A :class:`Node` is what one primitive application leaves behind when grad mode is on
and some input requires grad. It points *backwards* only: to the nodes that made its
inputs (or to leaf tensors), never to its own output tensor, so a graph holds no
reference cycles and is freed by reference counting the moment it is dropped.
"""

from __future__ import annotations

import itertools

import numpy as np

from .backend import _NO_FLAGS, RAW_TYPES, base_of, can_freeze

__all__ = ["Node", "walk", "protect", "release", "saved_by", "why_read_only", "guarded",
           "FREED", "AccumulateGrad"]


_next_seq = itertools.count().__next__


class _Freed(tuple):
    """The ``ins`` of a node whose saved values were released (an empty tuple)."""

    def __repr__(self) -> str:
        return "FREED"


FREED = _Freed()


class _Name(str):
    """An op's name that is also callable: ``node.name`` (glassgrad) and ``node.name()``
    (PyTorch's ``grad_fn.name()``) both give it."""

    __slots__ = ()

    def __call__(self) -> str:
        return str(self)


class AccumulateGrad:
    """What ``next_functions`` shows for a leaf that requires grad, as PyTorch's
    ``AccumulateGrad`` node: ``.variable`` is the leaf tensor, and there is nothing
    behind it. Two of them for the same leaf compare (and hash) equal, so graph walks
    that keep a ``seen`` set visit each leaf once."""

    __slots__ = ("variable",)

    next_functions = ()
    name = _Name("AccumulateGrad")

    def __init__(self, variable) -> None:
        self.variable = variable

    def __eq__(self, other) -> bool:
        return type(other) is AccumulateGrad and other.variable is self.variable

    def __hash__(self) -> int:
        return hash((AccumulateGrad, id(self.variable)))

    def __repr__(self) -> str:
        return f"<AccumulateGrad of a leaf of shape {self.variable.shape}>"


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
    def trace(self):
        return None if self.extra is None else self.extra.trace

    @property
    def name(self) -> str:
        """The op's name (``mul``), as the graph pictures label a node. Also callable,
        so PyTorch's ``grad_fn.name()`` works (glassgrad's names are the op's, ``mul``,
        not torch's ``MulBackward0``)."""
        return _Name(self.prim.name)

    @property
    def next_functions(self) -> tuple:
        """One ``(fn, 0)`` pair per input, as PyTorch's ``grad_fn.next_functions``:
        ``fn`` is the input's Node, an :class:`AccumulateGrad` (``.variable`` is the
        leaf) for a leaf that requires grad, or ``None`` for an input needing no
        gradient. Read-only; :func:`walk` is the iterative traversal for large graphs.
        """
        out = []
        for p in self.parents:
            if p is None or type(p) is Node:
                out.append((p, 0))
            elif getattr(p, "requires_grad", False):
                out.append((AccumulateGrad(p), 0))
            else:
                out.append((None, 0))
        return tuple(out)

    @property
    def inputs(self) -> tuple:
        """The node's inputs, one per input of the op: the input's Node, the leaf Tensor,
        or None (an input that needs no gradient). For walking a graph by hand in a REPL:
        ``loss.grad_fn.inputs[0].inputs``..."""
        return tuple(self.parents)

    @property
    def saved(self) -> dict:
        """What the op keeps for its backward, by the names its rules use (``out``, ``x``,
        ``y``...): {name: array}. Empty after a backward that freed them."""
        kept = {}
        if self.out is not None:
            if type(self.out) is tuple:
                kept.update({f"out{i}": o for i, o in enumerate(self.out)})
            else:
                kept["out"] = self.out
        ins = self.ins
        if ins is not None and ins is not FREED:
            names = getattr(self.prim, "inputs", None) or [f"x{i}" for i in range(len(ins))]
            for name, arr in zip(names, ins):
                if arr is not None:
                    kept[name] = arr
        return kept

    def describe(self) -> str:
        """A few lines for a person: the op, where its rule is, its inputs and what it saved."""
        where = self.prim.where() if hasattr(self.prim, "where") else ""
        lines = [f"{self.prim.name} node: output shape {self.shape}, dtype {self.dtype}"
                 + (f"  (rule at {where})" if where else "")]
        for i, p in enumerate(self.parents):
            if p is None:
                what = "constant (no gradient)"
            elif type(p) is Node:
                what = f"{p.prim.name} node, shape {p.shape}"
            else:
                what = f"leaf tensor, shape {tuple(p.shape)}"
            lines.append(f"  input {i}: {what}")
        saved = self.saved
        if saved:
            items = ", ".join(f"{k} {tuple(getattr(v, 'shape', ()))} ({getattr(v, 'nbytes', 0)} B)"
                              for k, v in saved.items())
            lines.append(f"  saved for backward: {items}")
        elif self.ins is FREED:
            lines.append("  saved values: freed by a backward (use retain_graph=True to keep)")
        return "\n".join(lines)

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



def walk(roots) -> list:
    """Every node that ``roots`` (Tensors or Nodes) depend on, in creation order.

    The one traversal of a recorded graph outside the backward pass: pictures, the
    step-by-step explanation and code generation all read the graph through it. Creation
    order is a topological order (a node is made after the nodes of its inputs) and the
    same on every run. Iterative, so a graph a million nodes deep is fine.
    """
    seen: dict = {}
    stack = []
    for r in roots:
        node = r if isinstance(r, Node) else getattr(r, "_node", None)
        if node is not None and node not in seen:
            seen[node] = None
            stack.append(node)
    while stack:
        node = stack.pop()
        for p in node.parents:
            if type(p) is Node and p not in seen:
                seen[p] = None
                stack.append(p)
    return sorted(seen, key=_seq_of)


def _seq_of(node: Node) -> int:
    return node.seq


# --- protection of saved arrays -----------------------------------------------------------
# An array that a live graph saved for backward must not change before that backward, or
# the gradient is silently wrong. Every saved array is registered here (keyed by id: the
# array is alive while registered because the graph holds it) with a count of the live
# nodes that saved it and the first one's op name, for error messages.
#
# Two tiers, for speed. Arrays of *leaf* tensors (parameters, data) and the arrays that
# saved views look into are also made read-only with NumPy's flag, because the user may
# hold raw references to them from before the forward pass. Arrays made by recorded ops
# are only reachable through their Tensors, so it is enough that every way a Tensor
# hands out its array (``.data``, ``numpy()``, ``np.asarray``, in-place ops, also on
# ``detach()``-ed aliases) consults the registry: see :func:`guarded`.
_protected: dict[int, list] = {}


def protect(arr: np.ndarray, opname: str, flag: bool, arrays: list) -> None:
    """Register ``arr`` (and the array it is a view of) as saved by a live node.

    ``flag`` also makes it read-only with NumPy's flag (leaf arrays; viewed arrays always).
    Each registered array is appended to ``arrays``, which the node keeps for
    :func:`release`. An array read-only for a reason of its own (a broadcast view) is
    skipped: nothing can write into it anyway.
    """
    registry = _protected
    no_flags = _NO_FLAGS  # usually empty: the test is then free
    while True:
        # An array type without NumPy's writeable flag (CuPy) gets the registry tier only.
        flagged = not no_flags or type(arr) not in no_flags
        flag = flag and flagged
        entry = registry.get(id(arr))
        if entry is not None:
            entry[0] += 1
            if flag and not entry[3]:
                arr.setflags(write=False)
                entry[3] = True
            arrays.append(arr)
        elif not flagged or arr.flags.writeable:
            if flag:
                arr.setflags(write=False)
            registry[id(arr)] = [1, opname, arr, flag]
            arrays.append(arr)
        arr = getattr(arr, "base", None)  # base_of, inlined: this runs for every saved array
        if type(arr) not in RAW_TYPES:
            return
        flag = True  # the viewed array may be a leaf's: the user can hold it


def release(arrays) -> None:
    """Undo :func:`protect` for each array (writable again once no live node holds it)."""
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
        if entry[3]:
            try:
                arr.setflags(write=True)
            except ValueError:  # a view whose base is still protected elsewhere
                pass


def has_protected() -> bool:
    """Whether any live graph protects a saved array now (else no array is read-only
    because of a graph, and writers may skip the per-array check)."""
    return bool(_protected)


def saved_by(arr) -> str | None:
    """Name of an op whose live graph saved ``arr`` or the array it views (else None).

    ``arr`` may be a Tensor or an array. Public as ``gg.autograd.saved_by``: when NumPy
    says "output array is read-only" about ``w.data -= 1``, this names the op whose
    pending backward needs those values (run that backward first, or drop its graph).
    """
    arr = getattr(arr, "_data", arr)
    if type(arr) not in RAW_TYPES:
        return None
    entry = _protected.get(id(arr))
    if entry is None:
        base = base_of(arr)
        if base is not None:
            entry = _protected.get(id(base))
    return None if entry is None else entry[1]


def why_read_only(arr) -> str | None:
    """None when ``arr`` may be written in place; otherwise why not, in the words every
    in-place writer (in-place ops, optimizers, ``load_state_dict``, ``nn.init``,
    gradient clipping) puts in its error: the one writability rule."""
    op = saved_by(arr)
    if op is not None:
        return f"a live graph saved it for the backward of {op}"
    if can_freeze(arr) and not arr.flags.writeable:
        return "its array is read-only"
    return None


def guarded(arr: np.ndarray) -> np.ndarray:
    """``arr`` as a Tensor may hand it out: a read-only view while a live graph needs it."""
    if can_freeze(arr) and arr.flags.writeable and saved_by(arr) is not None:
        view = arr.view()
        view.setflags(write=False)
        return view
    return arr
