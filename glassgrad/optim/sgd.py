"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, check_nonnegative

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), PyTorch's rule exactly.

    For each parameter :math:`p` with gradient :math:`g`, at step :math:`t`::

        g <- -g                              if maximize
        g <- g + weight_decay * p            (L2 penalty, added to the gradient)
        if momentum != 0:
            b <- g                                        at t = 1
            b <- momentum * b + (1 - dampening) * g       for t > 1
            g <- g + momentum * b    if nesterov,   else   g <- b
        p <- p - lr * g

    Note that the first step copies the gradient into the buffer without dampening.
    The buffer ``b`` is ``state[p]["momentum_buffer"]``.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters, or parameter groups (dicts) with per-group hyper-parameters.
    lr : float
        Learning rate (default 1e-3, as PyTorch 2.x).
    momentum : float
        Momentum factor (default 0: plain gradient descent).
    dampening : float
        Dampening for momentum: the new gradient enters the buffer times
        ``1 - dampening``.
    weight_decay : float
        L2 penalty coefficient.
    nesterov : bool
        Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    maximize : bool
        Ascend the objective instead of descending it (keyword-only, as PyTorch).

    Examples
    --------
    >>> import glassgrad as gg
    >>> w = gg.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = gg.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    >>> w
    tensor([ 0.46, -0.46], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group, where):
        check_nonnegative(group, ("lr", "momentum", "weight_decay"), where)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"{where}: Nesterov momentum needs momentum > 0 and dampening == 0 "
                f"(got momentum={group['momentum']}, dampening={group['dampening']})"
            )

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        """One SGD step for parameter array ``p`` with gradient ``g`` (see the class)."""
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        if group["maximize"]:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * p
        if momentum != 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = Tensor(g)  # a copy: b <- g at the first step
                buf = state["momentum_buffer"].data
            else:
                buf = state["momentum_buffer"].data
                buf *= momentum
                buf += (1 - group["dampening"]) * g
            g = g + momentum * buf if group["nesterov"] else buf
        p -= group["lr"] * g
