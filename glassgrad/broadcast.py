"""Undoing broadcasting: the one place where a cotangent is reduced to an input's shape.

If ``x`` of shape ``(5, 1)`` was broadcast to ``(3, 5, 4)`` in the forward pass, each of
its elements was used ``3 * 4`` times, so by the chain rule its cotangent is the sum of
the output cotangent over the broadcast axes: the leading axis that was added, and the
axis where ``x`` had size 1.
"""

from __future__ import annotations

__all__ = ["sum_to"]


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
    lead = len(gshape) - len(shape)
    if lead < 0:
        raise ValueError(f"sum_to: cannot reduce shape {gshape} to the larger shape {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1
    )
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if lead or g.shape != shape:
        g = g.reshape(shape)
    return g
