"""Gradient clipping, as ``torch.nn.utils``: call between ``backward()`` and ``step()``.

``clip_grad_norm_`` rescales all gradients together when their joint norm is too large
(the direction of the update is kept, only its length is capped), which tames the
occasional exploding step of RNNs and deep nets. ``clip_grad_value_`` clamps each
gradient element on its own.
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from .module import _writable

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def _scale_grad(p, factor) -> None:
    """Multiply ``p.grad`` by ``factor`` in place (a fresh array if the old one is locked)."""
    g = p.grad
    with np.errstate(invalid="ignore"):  # inf * 0 after an infinite norm: NaN, as torch
        if g._node is None and _writable(g._data):
            np.multiply(g._data, factor, out=g._data, casting="unsafe")
        else:
            p.grad = Tensor._wrap((g._data * factor).astype(g._data.dtype))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale gradients so that their total norm is at most ``max_norm``; return the norm.

    The total norm is the ``norm_type``-norm of all gradients seen as one vector,
    ``(sum_p ||g_p||_q^q)^(1/q)`` (the largest ``|g|`` for ``q = inf``). Every gradient
    is multiplied by ``min(1, max_norm / (total + 1e-6))``, as PyTorch does.

    Parameters
    ----------
    parameters : iterable of Tensors (or one Tensor); those without ``.grad`` are skipped
    max_norm : float
    norm_type : float, default 2.0; ``float("inf")`` for the max-norm
    error_if_nonfinite : bool
        Raise if the total norm is NaN or infinite (instead of scaling by it).

    Returns
    -------
    Tensor
        The total norm before clipping (a 0-d tensor).

    Examples
    --------
    >>> w = gg.tensor([3.0, 4.0], requires_grad=True)
    >>> (w * w).sum().backward()          # grad = [6, 8], norm 10
    >>> float(gg.nn.utils.clip_grad_norm_([w], max_norm=1.0))
    10.0
    >>> bool(abs(float((w.grad * w.grad).sum()) - 1.0) < 1e-4)
    True
    """
    params = _grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not params:
        return Tensor._wrap(np.array(0.0, dtype=np.float32))
    dtype = params[0].grad._data.dtype
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(p.grad._data), initial=0.0)) for p in params)
    else:
        # one norm per gradient, then the norm of those norms, as PyTorch computes it
        norms = np.array([np.linalg.norm(p.grad._data.ravel(), ord=norm_type)
                          for p in params], dtype=np.float64)
        total = float(np.linalg.norm(norms, ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{total}, so they cannot be clipped; set error_if_nonfinite=False to scale "
            "by it anyway, or find where the NaN/Inf came from (gg.autograd.detect_anomaly)"
        )
    coef = min(max_norm / (total + 1e-6), 1.0)
    for p in params:
        _scale_grad(p, coef)
    return Tensor._wrap(np.array(total, dtype=dtype))


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place.

    >>> w = gg.tensor([1.0, -1.0], requires_grad=True)
    >>> (w * 10).sum().backward()
    >>> gg.nn.utils.clip_grad_value_([w], 0.5)
    >>> w.grad
    tensor([0.5, 0.5])
    """
    clip_value = float(clip_value)
    for p in _grads(parameters):
        g = p.grad
        if g._node is None and _writable(g._data):
            np.clip(g._data, -clip_value, clip_value, out=g._data)
        else:
            p.grad = Tensor._wrap(np.clip(g._data, -clip_value, clip_value))
