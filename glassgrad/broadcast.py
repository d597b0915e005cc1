"""Undoing broadcasting: the one place where a cotangent is reduced to an input's shape.

If ``x`` of shape ``(5, 1)`` was broadcast to ``(3, 5, 4)`` in the forward pass, each of
its elements was used ``3 * 4`` times, so by the chain rule its cotangent is the sum of
the output cotangent over the broadcast axes: the leading axis that was added, and the
axis where ``x`` had size 1.
"""

from __future__ import annotations

__all__ = ["sum_to", "expand_to"]


import numpy as np

from .backend import NDARRAY

# (gshape, shape) -> axes to sum and whether a reshape is needed. Shapes repeat every
# training step, so a plan is made once; the cache is emptied when it reaches
# _MAX_PLANS entries, which bounds its memory when shapes keep changing (variable batch
# or sequence lengths) at the price of re-planning a few shapes now and then.
_plans: dict = {}
_MAX_PLANS = 4096


def _plan(gshape: tuple, shape: tuple):
    """Check that ``shape`` broadcasts to ``gshape``, and say how to reduce to it.

    Only a cotangent of a shape the input broadcasts to can be summed back to it: a
    (3, 2) or (6, 1) gradient for a (2, 3) input has the right element count but no
    meaning, and reshaping it would silently scramble the gradient.
    """
    lead = len(gshape) - len(shape)
    if lead < 0 or any(n != 1 and n != gshape[lead + i] for i, n in enumerate(shape)):
        raise ValueError(
            f"sum_to: a gradient of shape {gshape} cannot be reduced to shape {shape}: "
            f"{shape} does not broadcast to {gshape}"
        )
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1
    )
    if len(_plans) >= _MAX_PLANS:
        _plans.clear()
    plan = _plans[gshape, shape] = (axes, lead > 0)
    return plan


def sum_to(g, shape: tuple):
    """Sum ``g`` over the axes that broadcasting to ``g.shape`` added or stretched.

    Works on ``np.ndarray`` and on ``Tensor`` alike (it uses only ``sum`` and ``reshape``).

    >>> import numpy as np
    >>> sum_to(np.ones((3, 5, 4)), (5, 1)).tolist()[0]
    [12.0]
    """
    gshape = g.shape
    if gshape == shape:
        return g
    plan = _plans.get((gshape, shape))
    axes, reshape = plan if plan is not None else _plan(gshape, shape)
    if axes:
        if type(g) is NDARRAY:  # np.add.reduce: ndarray.sum without its Python wrapper
            g = np.add.reduce(g, axis=axes, keepdims=True)
        else:
            g = g.sum(axis=axes, keepdims=True)
    if reshape:
        g = g.reshape(shape)
    return g


def expand_to(g, shape: tuple):
    """Broadcast ``g`` up to ``shape`` (the adjoint of ``sum_to``), as a fresh array.

    ``np.broadcast_to`` would do, but it is slow on small arrays and returns a read-only
    view; filling an empty array is several times faster. Tensors (create_graph) take
    the differentiable ``broadcast_to``.
    """
    if type(g) is NDARRAY:
        out = np.empty(shape, dtype=g.dtype)
        out[...] = g
        return out
    return np.broadcast_to(g, shape)
