"""Trading compute for memory: activation checkpointing, and what a graph keeps.

``checkpoint(fn, *args)`` runs ``fn`` without recording its intermediates and recomputes
them during backward (``torch.utils.checkpoint.checkpoint``); ``saved_tensors_summary``
lists, per op, the arrays a live graph keeps for its backward pass, so the saving (or
the layer that holds the memory) can be seen::

    y = checkpoint(block, x)              # block's activations are not kept
    print(saved_tensors_summary(loss))    # per-op table of saved bytes, with a total
"""

from __future__ import annotations

import functools
from collections import namedtuple

import numpy as np

from .. import creation
from ..backend import RAW_TYPES
from ..engine import backward
from ..graph import FREED, Node, _next_seq, walk
from ..modes import state
from ..primitive import Slots
from ..tensor import Tensor
from .function import Function, FunctionCtx, _Output

__all__ = ["checkpoint", "saved_tensors_summary", "SavedTensorsSummary"]


# --- checkpoint ---------------------------------------------------------------------------

def _rng_snapshot():
    """The default generator's stream position (``gg.manual_seed`` / ``dropout``)."""
    gen = creation._generator
    return type(gen.bit_generator), gen.bit_generator.state


def _rng_replay(snapshot) -> np.random.Generator:
    """A fresh generator positioned where the snapshot was taken (the live one is left
    untouched, so the recomputation does not disturb the user's random stream)."""
    bit_type, bit_state = snapshot
    bit = bit_type()
    bit.state = bit_state
    return np.random.Generator(bit)


def _check_self_contained(outs, first: int) -> None:
    """The recomputed graph must end at leaves: a non-leaf tensor that ``fn`` reads from
    outside (a closure over an earlier result) would send the inner backward into the
    outer graph, computing part of its gradients early and freeing it."""
    stack = [o._node for o in outs if isinstance(o, Tensor) and o._node is not None]
    seen = set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for p in node.parents:
            if type(p) is not Node:
                continue
            if p.seq < first:
                raise RuntimeError(
                    f"checkpoint: fn uses a tensor computed outside the segment (the "
                    f"output of {p.name}, shape {p.shape}) that requires grad, by closure "
                    "or keyword; pass it as an argument, checkpoint(fn, x, that_tensor), "
                    "so its gradient flows through the checkpoint"
                )
            stack.append(p)


class _Checkpoint(Function):
    """One node standing for a whole checkpointed segment ``fn(*args)``."""

    @classmethod
    def _primitive(cls):
        prim = cls.__dict__.get("_glassgrad_primitive")
        if prim is None:
            prim = super()._primitive()
            rule = prim.vjp

            # Function hands backward zeros for an output that never reached the loss;
            # note which did, so the recomputed backward starts only from those and a
            # parameter reached only through an unused output keeps grad None (torch).
            @functools.wraps(rule)
            def vjp(g, out, ins, ctx, *rest):
                ctx.reached = ([gi is not None for gi in g.grads] if isinstance(g, Slots)
                               else None)
                return rule(g, out, ins, ctx, *rest)

            prim.vjp = vjp
        return prim

    @staticmethod
    def forward(ctx, fn, rng, n_dummy, *args):
        ctx.fn, ctx.rng, ctx.n_dummy = fn, rng, n_dummy
        ctx.args = tuple(None if isinstance(a, Tensor) else a for a in args)
        ctx.save_for_backward(*(a for a in args if isinstance(a, Tensor)))
        real = args[:len(args) - n_dummy]
        out = fn(*real)
        ctx.multi = isinstance(out, (tuple, list))
        outs = tuple(out) if ctx.multi else (out,)
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                raise TypeError(
                    f"checkpoint: fn must return a Tensor or a tuple of Tensors; output {i} "
                    f"is a {type(o).__name__}. Return constants from outside the segment"
                )
        return tuple(outs) if ctx.multi else outs[0]

    @staticmethod
    def backward(ctx, *grad_outputs):
        if state.grad_enabled:  # Function backward runs with grad mode on: create_graph
            raise RuntimeError(
                "checkpoint: backward(create_graph=True) (double backward) through a "
                "checkpointed segment is not supported: its gradient would be cut off "
                "from the inputs. Call fn(*args) without checkpoint for higher-order "
                "gradients (or use gg.func.hessian on the plain function)"
            )
        saved = iter(ctx.saved_tensors)
        originals = [next(saved) if a is None else a for a in ctx.args]
        n = len(originals) - ctx.n_dummy
        # The inputs as fresh leaves, so the recomputed graph ends at them.
        leaves = []
        for a in originals[:n]:
            if isinstance(a, Tensor):
                leaf = a.detach()
                leaf.requires_grad = a.requires_grad
                leaves.append(leaf)
            else:
                leaves.append(a)
        live = creation._generator
        if ctx.rng is not None:  # preserve_rng_state: replay fn's draws
            creation._generator = _rng_replay(ctx.rng)
        first = _next_seq()  # every node of the recomputation comes after this
        state.grad_enabled = True
        try:
            out = ctx.fn(*leaves)
        finally:
            state.grad_enabled = False
            creation._generator = live
        outs = tuple(out) if ctx.multi else (out,)
        _check_self_contained(outs, first)
        roots, seeds = [], []
        reached = getattr(ctx, "reached", None) or [True] * len(outs)
        for o, g, r in zip(outs, grad_outputs, reached):
            if r and isinstance(o, Tensor) and o.requires_grad:
                roots.append(o)
                seeds.append(g)
        if roots:
            # backward, not autograd.grad: parameters fn closes over (a module's weights)
            # accumulate their .grad here, exactly as in the plain graph.
            backward(roots, seeds)
        grads = [leaf.grad if isinstance(leaf, Tensor) and leaf.requires_grad else None
                 for leaf in leaves]
        return (None, None, None, *grads, *([None] * ctx.n_dummy))


def checkpoint(fn, *args, use_reentrant=None, preserve_rng_state=True, **kwargs):
    """``fn(*args)`` whose intermediates are recomputed in backward instead of kept.

    As ``torch.utils.checkpoint.checkpoint(fn, *args)``: the forward runs under
    ``no_grad`` (nothing inside ``fn`` is recorded or saved); the result joins the graph
    through one node that saves only the Tensor arguments. Its backward re-runs ``fn``
    on them with recording on and backpropagates the incoming cotangent through that
    recomputed graph, to the arguments and to every parameter ``fn`` closes over (a
    module's weights get their ``.grad`` as without checkpointing). Gradients are
    bit-identical to the plain ones: the recomputation does the same arithmetic in the
    same order.

    - ``fn`` returns a Tensor or a tuple of Tensors (several outputs are fine).
    - Randomness from glassgrad's default generator (``F.dropout``, ``gg.randn`` inside
      ``fn``) is replayed: the recomputation draws the same numbers, and the user's
      stream is not advanced by it (``preserve_rng_state=False`` skips this: the
      recomputation then draws on, from the live stream). A private
      ``generator=`` passed to ops inside ``fn`` is not replayed (PyTorch: the same).
    - When no argument requires grad (the first segment of a network, fed raw data) the
      node is still recorded, so closed-over parameters get their gradients; the output
      then requires grad whenever grad mode is on.
    - ``create_graph=True`` (double backward) through the segment raises an error.
    - Differences from the plain graph: hooks on a parameter used inside the segment run
      once per segment backward, not once with the total; ``fn`` must not change the
      state it reads (batch-norm running statistics are updated again on recomputation,
      as in PyTorch).

    Keyword arguments go to ``fn``; Tensors among them are treated as values ``fn``
    closes over (leaves get ``.grad``; pass a non-leaf that needs a gradient
    positionally: a closure over one is an error at backward). ``use_reentrant`` is
    accepted for PyTorch compatibility and ignored.
    """
    del use_reentrant
    if not callable(fn):
        raise TypeError(f"checkpoint: fn must be callable, got {type(fn).__name__}; "
                        "write checkpoint(fn, *args)")
    if kwargs:
        fn = functools.partial(fn, **kwargs)
    if not state.grad_enabled:
        return fn(*args)
    extra = ()
    if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        extra = (Tensor(np.zeros(0), requires_grad=True),)
    return _Checkpoint.apply(fn, _rng_snapshot() if preserve_rng_state else None, len(extra),
                     *args, *extra)


# --- saved_tensors_summary ----------------------------------------------------------------

Row = namedtuple("Row", "op count bytes")
Row.__doc__ = """One op's share: ``count`` nodes of it hold ``bytes`` of distinct saved arrays."""


def _arrays_in(value, found: list) -> None:
    """Collect the raw arrays inside a saved value (array, Tensor, tuple, stash)."""
    if value is None or value is FREED:
        return
    if type(value) in RAW_TYPES:
        found.append(value)
    elif isinstance(value, Tensor):
        found.append(value._data)
    elif isinstance(value, (tuple, list)):
        for v in value:
            _arrays_in(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _arrays_in(v, found)
    elif hasattr(value, "values") and type(value).__name__ == "Stash":
        _arrays_in(value.values, found)


def _saved_by_node(node: Node) -> list:
    found: list = []
    _arrays_in(node.out, found)
    _arrays_in(node.ins, found)
    for p in node.params or ():
        if isinstance(p, FunctionCtx):
            if p._freed:
                continue
            for t in p._saved:
                if isinstance(t, _Output):
                    found.append(p._outputs[t.i][0])
                else:
                    _arrays_in(t, found)
        elif type(p).__name__ == "Stash":
            _arrays_in(p.values, found)
    return found


class SavedTensorsSummary:
    """What a live graph keeps for its backward pass, per op (see
    :func:`saved_tensors_summary`).

    ``rows``: ``Row(op, count, bytes)`` per op name, largest first (``count`` = nodes of
    that op in the graph); ``total_bytes``: all distinct saved arrays; ``arrays``: how
    many; ``leaf_bytes``: the part that is the arrays of leaf tensors that require grad
    (parameters, inputs) or views into them (``w.T``), which the graph keeps alive but
    does not add to memory; ``nodes``: nodes walked.
    """

    def __init__(self, rows, total_bytes, arrays, leaf_bytes, nodes):
        self.rows = rows
        self.total_bytes = total_bytes
        self.arrays = arrays
        self.leaf_bytes = leaf_bytes
        self.nodes = nodes

    def __repr__(self) -> str:
        return (f"<SavedTensorsSummary {self.nodes} nodes, {self.arrays} arrays, "
                f"{_fmt(self.total_bytes)}>")

    def __str__(self) -> str:
        w = max([len("op"), *(len(r.op) for r in self.rows)])
        lines = [f"{'op':<{w}}  {'nodes':>6}  {'bytes':>12}  {'share':>6}"]
        total = self.total_bytes or 1
        for r in self.rows:
            lines.append(f"{r.op:<{w}}  {r.count:>6}  {_fmt(r.bytes):>12}  "
                         f"{100 * r.bytes / total:>5.1f}%")
        lines.append(f"{'total':<{w}}  {self.nodes:>6}  {_fmt(self.total_bytes):>12}  "
                     f"({self.arrays} distinct arrays; {_fmt(self.leaf_bytes)} of them "
                     "belong to leaf tensors)")
        return "\n".join(lines)


def _fmt(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _is_leafs(arr, leaf_ids) -> bool:
    """True when ``arr`` is a leaf tensor's array or a view into one (``w.T``)."""
    while type(arr) in RAW_TYPES:
        if id(arr) in leaf_ids:
            return True
        arr = getattr(arr, "base", None)
    return False


def saved_tensors_summary(*outputs) -> SavedTensorsSummary:
    """What the live graph behind ``outputs`` keeps for backward, per op, in bytes.

    Walks the graph (``gg.autograd.walk``) and collects each node's saved values: its
    saved output and inputs, the stash of the fused nn ops (im2col columns, norm
    statistics), and a custom Function's ``save_for_backward`` tensors. An array saved
    by several nodes (one op's output is the next one's saved input) is counted once,
    for the first node (in creation order) that holds it; arrays are told apart by
    identity, so a view counts its own ``nbytes`` (``leaf_bytes`` says how much of the
    total is parameters and their views, memory the graph does not add). Values already freed by a
    backward are not counted. glassgrad-only (PyTorch has no such inventory).
    Several outputs may be given: ``saved_tensors_summary(loss1, loss2)``.

    Example::

        s = saved_tensors_summary(loss)
        s.total_bytes, s.rows[0]          # Row(op='matmul', count=3, bytes=...)
        print(s)                          # a table, largest op first
    """
    nodes = walk(outputs)
    leaf_ids = set()
    for n in nodes:
        for p in n.parents:
            if isinstance(p, Tensor):
                leaf_ids.add(id(p._data))
    for o in outputs:
        if isinstance(o, Tensor) and o._node is None:
            leaf_ids.add(id(o._data))
    seen: set = set()
    per_op: dict = {}
    total = leaf_bytes = count = 0
    for n in nodes:
        name = n.prim.name
        entry = per_op.setdefault(name, [0, 0])
        entry[0] += 1
        for arr in _saved_by_node(n):
            key = id(arr)
            if key in seen:
                continue
            seen.add(key)
            size = int(arr.nbytes)
            entry[1] += size
            total += size
            count += 1
            if _is_leafs(arr, leaf_ids):
                leaf_bytes += size
    rows = sorted((Row(op, c, b) for op, (c, b) in per_op.items()),
                  key=lambda r: (-r.bytes, r.op))
    return SavedTensorsSummary(rows, total, count, leaf_bytes, len(nodes))
