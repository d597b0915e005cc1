"""``autograd.grad``: the gradients of outputs with respect to chosen inputs, returned
rather than accumulated into ``.grad``."""

from __future__ import annotations

import numpy as np

from ..engine import run_backward, seed
from ..tensor import Tensor

__all__ = ["grad"]


def _as_tuple(x):
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _graph_key(t: Tensor):
    """What the graph knows ``t`` by: its node, or for a leaf the leaf tensor itself (for
    a forward-mode dual, the leaf underneath it)."""
    if t._node is not None:
        return t._node
    while getattr(t, "_level", 0):
        t = t._primal
    return t


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Compute d(outputs)/d(inputs) without touching any ``.grad``.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensors
    inputs : Tensor or sequence of Tensors (leaves or intermediate results)
    grad_outputs : cotangents for ``outputs`` (needed for non-scalar outputs)
    retain_graph : keep saved values for another pass (defaults to ``create_graph``)
    create_graph : record the backward pass so the result can be differentiated again
    allow_unused : return ``None`` for an input the outputs do not depend on, instead
        of raising

    Returns
    -------
    tuple of Tensors, one per input.

    Examples
    --------
    >>> x = gg.tensor(3.0, requires_grad=True)
    >>> (dx,) = gg.autograd.grad(x ** 3, x, create_graph=True)   # 3 x^2 = 27
    >>> (ddx,) = gg.autograd.grad(dx, x)                          # 6 x = 18
    """
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,) * len(outputs) if grad_outputs is None else (
            grad_outputs,)
    grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs"
        )
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    roots, seeds = [], []
    for i, (out, go) in enumerate(zip(outputs, grad_outputs)):
        if not out.requires_grad:
            if allow_unused:
                continue
            raise RuntimeError(
                f"grad: output {i} does not require grad (it does not depend on any input "
                "that requires grad)"
            )
        # a root that is itself a leaf (an identity function) is known to the graph by
        # the same key as an input: the leaf under a forward-mode dual
        roots.append(out if out._node is not None else _graph_key(out))
        seeds.append(seed(out, go, create_graph))
    keys = [_graph_key(t) for t in inputs]
    capture = dict.fromkeys(keys)
    if roots:
        run_backward(roots, seeds, retain_graph, create_graph, capture)
    results = []
    for i, (t, key) in enumerate(zip(inputs, keys)):
        g = capture[key]
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} was not used to compute the outputs; pass "
                    "allow_unused=True to get None for it"
                )
            results.append(None)
        elif isinstance(g, Tensor):
            results.append(g)
        else:
            results.append(Tensor._wrap(np.array(g, dtype=t.dtype)))
    return tuple(results)
