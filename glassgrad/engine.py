"""The backward pass: one iterative reverse traversal of the recorded graph.

1. Start from the roots with their seed cotangents. Nodes wait in a heap ordered by
   creation time, newest first: every consumer of a node was created after it, so when
   a node comes out of the heap all its consumers have delivered their cotangents.
   No recursion, so a graph a million nodes deep is fine.
2. For each node: hooks run, the primitive's VJP rule maps the summed cotangent to one
   cotangent per input, each is reduced to its input's shape (the one call to
   ``sum_to``) and passed on.
3. Leaves receive their totals last; their hooks run, then ``.grad`` accumulates (or, for
   ``autograd.grad``, the totals are returned instead).

With ``create_graph=True`` the same loop runs on Tensors with grad mode on: the rules
are plain array code, so the backward pass records a graph of its own.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush

import numpy as np

from . import anomaly, forward
from .backend import NDARRAY, own_copy
from .broadcast import sum_to
from .graph import FREED, Node, walk
from .modes import state
from .primitive import as_gradient, output_cotangents, select_output
from .tensor import POST_HOOKED, Tensor

__all__ = ["backward", "run_backward", "seed", "observe_backward", "observe_forward",
           "accumulate_grad"]


def seed(root: Tensor, gradient, create_graph: bool):
    """The cotangent that starts backward at ``root``: ones for a scalar, else given."""
    if gradient is None:
        if root._data.size != 1:
            raise RuntimeError(
                f"backward: the output has shape {root.shape}, not a single element; "
                "pass `gradient=` (d(loss)/d(output), same shape as the output), or "
                "reduce it first, e.g. out.sum().backward()"
            )
        g = np.ones_like(root._data)  # of the root's array type
    elif isinstance(gradient, Tensor):
        g = gradient if create_graph else gradient._data.copy()
    else:
        g = own_copy(gradient, root.dtype)
    if g.shape != root.shape:
        raise RuntimeError(
            f"backward: gradient has shape {g.shape} but the output has shape {root.shape}"
        )
    if create_graph and not isinstance(g, Tensor):
        g = Tensor._wrap(g)
    return g


def hook_name(hook) -> str:
    """How an error names a user's hook: its function name, as PyTorch does."""
    return getattr(hook, "__qualname__", None) or type(hook).__name__


def _call_hooks(hooks, g, create_graph: bool):
    """Run a tensor's hooks in order; each may return a replacement gradient.

    A replacement must be a Tensor or numeric array of the same shape and dtype (as in
    PyTorch): ``.grad`` must never change dtype or shape because of a hook.
    """
    for hook in list(hooks):
        gt = g if create_graph else Tensor._wrap(g)
        result = hook(gt)
        if result is None:
            continue
        who = f"hook {hook_name(hook)!r}"
        if not isinstance(result, Tensor):
            result = Tensor._wrap(as_gradient(result, who, 0))
        if result.shape != gt.shape:
            raise RuntimeError(
                f"{who} changed the shape of the gradient: it returned shape "
                f"{result.shape} for a gradient of shape {gt.shape}"
            )
        if result.dtype != gt.dtype:
            raise RuntimeError(
                f"{who} changed the dtype of the gradient: it returned {result.dtype} for "
                f"a gradient of dtype {gt.dtype}; return `new.astype(np.{gt.dtype})`"
            )
        g = result if create_graph else result._data
    return g


def _saved_for_graph(node: Node):
    """Saved values as Tensors wired to the graph, for differentiating the backward."""
    out = node.out
    if type(out) is tuple:  # a multi-output op: each output through its own SELECT node
        out = tuple(select_output(node, i, o) for i, o in enumerate(out))
    elif out is not None:
        t = object.__new__(Tensor)
        t._data, t._node, t.requires_grad = out, node, True
        out = t
    ins = node.ins
    if ins is not None:
        wired = []
        for d, p in zip(ins, node.parents):
            if d is None or p is None:
                wired.append(d)
            elif type(p) is Node:
                t = object.__new__(Tensor)
                t._data, t._node, t.requires_grad = d, p, True
                wired.append(t)
            else:
                wired.append(p)  # the leaf itself
        ins = wired
    if node.extra is not None and node.extra.duals is not None:
        out, ins = forward.saved_duals(node, out, ins)
    return out, ins


def _node_extras(n: Node, g, create_graph: bool):
    """Tensor hooks and retain_grad of the tensor that node ``n`` produced."""
    extra = n.extra
    if extra.hooks:
        g = _call_hooks(extra.hooks, g, create_graph)
    if extra.retained is not None:
        t = extra.retained()
        if t is not None:
            gt = g if create_graph else Tensor._wrap(own_copy(g, g.dtype))
            old = t.grad
            t._grad = gt if old is None else old + gt
    return g


def _backward_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"backward through the graph a second time: the values saved by "
        f"{node.prim.name} were freed after the first backward. Pass "
        "`retain_graph=True` to the first backward() if you need to go through the "
        "graph again."
    )


class observe_backward:
    """Context manager: call ``observer(node, g, gxs)`` for every node backward visits.

    ``g`` is the total cotangent of the node's output, ``gxs`` one cotangent per input as
    it flows on (already reduced to the input's shape; ``None`` where the input needs
    no gradient). The instruments (step-by-step explain, gradient-flow statistics)
    watch the real backward pass through this instead of re-implementing it. Per thread;
    when no observer is set the backward pass pays nothing for it.

    >>> import glassgrad as gg
    >>> x = gg.ones(3, requires_grad=True)
    >>> seen = []
    >>> with gg.autograd.observe_backward(lambda node, g, gxs: seen.append(node.prim.name)):
    ...     (x * 2).sum().backward()
    >>> seen
    ['sum', 'mul']
    """

    def __init__(self, observer) -> None:
        self.observer = observer

    def __enter__(self):
        self.prev = state.backward_observer
        state.backward_observer = self.observer
        return self

    def __exit__(self, *exc) -> None:
        state.backward_observer = self.prev


class observe_forward:
    """Context manager: call ``observer(node, inputs, out)`` for every node an op records.

    ``inputs`` are the op's input arrays (constants included, in the op's argument
    order; for a custom ``Function``, its arguments), ``out`` its output array (a tuple for
    a multi-output op). Only ops that record a node (grad mode on, some input requiring
    grad) are seen. The graph pictures use it to remember constants and intermediate
    values that the graph itself does not keep. Per thread; while no observer is set the
    ops pay nothing for it (the check sits on the path anomaly mode already takes).

    >>> import glassgrad as gg
    >>> x = gg.ones(3, requires_grad=True)
    >>> seen = []
    >>> with gg.autograd.observe_forward(lambda node, ins, out: seen.append(node.prim.name)):
    ...     y = (x * 2).sum()
    >>> seen
    ['mul', 'sum']
    """

    def __init__(self, observer) -> None:
        self.observer = observer

    def __enter__(self):
        self.prev = state.forward_observer
        state.forward_observer = self.observer
        state.refresh()
        return self

    def __exit__(self, *exc) -> None:
        state.forward_observer = self.prev
        state.refresh()


def run_backward(roots, seeds, retain_graph, create_graph, capture=None):
    """Propagate cotangents from ``roots``; returns totals for ``capture`` if given.

    ``capture`` is a dict whose keys are leaf Tensors or Nodes (values ``None``); when
    given, leaves' ``.grad`` is left alone and each key's total cotangent is stored in
    it and the dict returned (``None`` where nothing arrived): ``autograd.grad``.
    """
    if retain_graph is None:
        retain_graph = create_graph
    prev_mode = state.grad_enabled
    state.grad_enabled = bool(create_graph)
    try:
        return _run(roots, seeds, retain_graph, create_graph, capture)
    finally:
        state.grad_enabled = prev_mode


def _run(roots, seeds, retain_graph, create_graph, capture):
    grads: dict = {}  # Node -> summed cotangent of its output
    leaf_grads: dict = {}  # leaf Tensor -> summed cotangent (insertion ordered)
    for root, g in zip(roots, seeds):
        node = root._node
        key = node if node is not None else root
        table = grads if node is not None else leaf_grads
        prev = table.get(key)
        table[key] = g if prev is None else prev + g

    # 2. reverse topological sweep: always take the most recently created pending node.
    # Its consumers were all created after it, so they have all been processed and its
    # cotangent is complete. (A heap keyed on -seq; PyTorch orders its queue likewise.)
    heap = [(-n.seq, n) for n in grads]
    heapify(heap)
    # While exactly one node is pending it needs no ordering: it waits in ``single``
    # instead of the heap (a long chain then never touches the heap at all).
    single = heappop(heap)[1] if len(heap) == 1 else None
    check = state.anomaly
    observer = state.backward_observer
    grads_pop, grads_get = grads.pop, grads.get
    # leaves whose gradient is final before the sweep ends (post-accumulate hooks)
    uses = _leaf_uses(roots) if POST_HOOKED and capture is None else None
    given = set()
    while True:
        if single is not None:
            n, single = single, None
        elif heap:
            n = heappop(heap)[1]
        else:
            break
        g = grads_pop(n)
        if n.extra is not None:
            g = _node_extras(n, g, create_graph)
        if capture is not None and n in capture:
            capture[n] = g
        prim = n.prim
        parents = n.parents
        if n.ins is FREED:
            raise _backward_error(n)
        if create_graph:
            out, ins = _saved_for_graph(n)
        else:
            out, ins = n.out, n.ins
        if ins is None:
            ins = prim.nones if not prim.variadic else (None,) * len(parents)
        params = n.params
        if prim.outputs > 1:
            g = output_cotangents(g, n.shape, create_graph)
        if prim.variadic:
            gxs = prim.vjp(g, out, ins, *params)
        else:  # one rule per input, called only where a gradient is needed
            gxs = []
            for rule, p in zip(prim.vjp, parents):
                if p is None:
                    gxs.append(None)
                elif rule is None:
                    raise RuntimeError(f"{prim.name} is not differentiable in its "
                                       f"input {prim.inputs[len(gxs)]!r}")
                elif params:
                    gxs.append(rule(g, out, *ins, *params))
                else:
                    gxs.append(rule(g, out, *ins))
        if not retain_graph and (n.ins is not None or n.out is not None
                                 or prim.on_release is not None):
            n.release()  # the one place saved values are freed (nodes that saved any)
        if check:
            anomaly.check_backward(n, g, gxs, out, ins)
        if observer is not None:
            observer(n, g, [None if p is None or gx is None else
                            _fit(gx, p.shape if type(p) is Node else p._data.shape, n, gxs)
                            for p, gx in zip(parents, gxs)])

        for p, gx in zip(parents, gxs):
            if p is None:
                continue
            if gx is None:
                if uses is not None and p in uses:
                    _used(p, uses, leaf_grads, create_graph, given)
                continue
            if type(p) is Node:
                if gx.shape != p.shape:
                    gx = _fit(gx, p.shape, n, gxs)
                dtype = p.dtype
                if gx.dtype is not dtype and gx.dtype != dtype:
                    gx = gx.astype(dtype)
                prev = grads_get(p)
                if prev is None:
                    grads[p] = gx
                    if single is None and not heap:
                        single = p
                    else:
                        if single is not None:
                            heappush(heap, (-single.seq, single))
                            single = None
                        heappush(heap, (-p.seq, p))
                else:
                    grads[p] = prev + gx
            else:
                arr = p._data
                if gx.shape != arr.shape:
                    gx = _fit(gx, arr.shape, n, gxs)
                if gx.dtype != arr.dtype:
                    gx = gx.astype(arr.dtype)
                prev = leaf_grads.get(p)
                leaf_grads[p] = gx if prev is None else prev + gx
                if uses is not None and p in uses:
                    _used(p, uses, leaf_grads, create_graph, given)

    # 3. leaves (those still waiting: all of them, unless post-accumulate hooks)
    for leaf, g in leaf_grads.items():
        if capture is not None:
            hooks = getattr(leaf, "_hooks", None)
            if hooks:
                g = _call_hooks(hooks, g, create_graph)
            if leaf in capture:
                capture[leaf] = g
            continue
        _finish_leaf(leaf, g, create_graph, given)
    return capture


def _finish_leaf(leaf, g, create_graph: bool, given: set) -> None:
    """A leaf's total cotangent: through its hooks into ``.grad`` (whose post-accumulate
    hooks then run)."""
    hooks = getattr(leaf, "_hooks", None)
    if hooks:
        g = _call_hooks(hooks, g, create_graph)
    accumulate_grad(leaf, g, create_graph, given)


def _leaf_uses(roots) -> dict:
    """For each leaf with post-accumulate hooks: how many node inputs of the graph are
    it. When that many contributions have been processed, its gradient is final."""
    uses: dict = {}
    for node in walk(roots):
        for p in node.parents:
            if p is not None and type(p) is not Node and getattr(p, "_post_hooks", None):
                uses[p] = uses.get(p, 0) + 1
    return uses


def _used(leaf, uses: dict, leaf_grads: dict, create_graph: bool, given: set) -> None:
    """One of ``leaf``'s uses has been processed; the last one finishes it now."""
    left = uses[leaf] - 1
    if left:
        uses[leaf] = left
        return
    del uses[leaf]
    g = leaf_grads.pop(leaf, None)
    if g is not None:
        _finish_leaf(leaf, g, create_graph, given)


def accumulate_grad(leaf, g, create_graph: bool, given: set) -> None:
    """Add the gradient ``g`` into ``leaf.grad`` as every backward does (and a compiled
    step, which computes the same ``g`` without a graph). ``given`` holds the ids of the
    arrays already handed to a ``.grad`` in this pass."""
    if not create_graph:
        # .grad must own a writable array of its own: rules may pass one array to
        # several inputs (add) or return read-only broadcast views.
        if type(g) is not NDARRAY or not g.flags.writeable or id(g) in given:
            g = own_copy(g, leaf._data.dtype)
        given.add(id(g))
    old = leaf.grad
    if old is None:
        leaf._grad = g if create_graph else Tensor._wrap(g)
    elif create_graph or old.requires_grad:
        leaf._grad = old + g
    else:
        old._data = old._data + g
    post = getattr(leaf, "_post_hooks", None) if POST_HOOKED else None
    if post:  # register_post_accumulate_grad_hook: .grad is final now
        for fn in tuple(post):
            fn(leaf)


def _fit(gx, shape, node, gxs):
    """Reduce a cotangent to its input's shape, or explain why it cannot be.

    A gradient may be larger than its input only where the input was broadcast; any
    other shape is a bug in a rule, a custom Function or a hook, never reshaped.
    """
    try:
        return sum_to(gx, shape)
    except ValueError:
        pass
    index = next(i for i, g in enumerate(gxs) if g is gx)
    raise RuntimeError(
        f"{node.prim.what} returned an invalid gradient at index {index}: got shape "
        f"{gx.shape} for an input of shape {shape}. A gradient must have its input's shape "
        "(or a shape the input broadcasts to, which is then summed back)"
    )


def backward(tensors, gradients, retain_graph=None, create_graph=False) -> None:
    """Accumulate d(tensors)/d(leaf) into every reachable leaf's ``.grad``."""
    roots, seeds = [], []
    for t, gradient in zip(tensors, gradients):
        if not t.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no grad_fn; did you "
                "forget requires_grad=True on the inputs, or compute it under no_grad?"
            )
        roots.append(t)
        seeds.append(seed(t, gradient, create_graph))
    run_backward(roots, seeds, retain_graph, create_graph)
