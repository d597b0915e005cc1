"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_nonnegative

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e; centered form from Graves, 2013), PyTorch's rule exactly.

    For each parameter :math:`p` with gradient :math:`g`::

        g <- -g                                     if maximize
        g <- g + weight_decay * p                   (L2 penalty)
        v <- alpha * v + (1 - alpha) * g**2         state "square_avg"
        if centered:
            a <- alpha * a + (1 - alpha) * g        state "grad_avg"
            s <- sqrt(v - a**2) + eps               (a running standard deviation)
        else:
            s <- sqrt(v) + eps
        if momentum > 0:
            b <- momentum * b + g / s               state "momentum_buffer"
            p <- p - lr * b
        else:
            p <- p - lr * g / s

    ``v``, ``a`` and ``b`` start at zero; there is no bias correction (unlike Adam).

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters, or parameter groups (dicts) with per-group hyper-parameters.
    lr : float
        Learning rate.
    alpha : float
        Smoothing constant of the running averages.
    eps : float
        Added to the denominator, for numerical stability.
    weight_decay : float
        L2 penalty coefficient.
    momentum : float
        Momentum factor.
    centered : bool
        Normalise by the running variance of the gradient instead of its raw second
        moment.
    maximize : bool
        Ascend the objective instead (keyword-only).

    Examples
    --------
    >>> import glassgrad as gg
    >>> w = gg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = gg.optim.RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward()
    >>> opt.step()           # first step: g / sqrt(0.01 g**2) = 10 sign(g)
    >>> print(w.data.round(4))
    [ 0.9 -1.9]
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group, where):
        check_nonnegative(group, ("lr", "eps", "momentum", "weight_decay", "alpha"), where)

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        """One RMSprop step for parameter array ``p`` with gradient ``g`` (see the class)."""
        alpha, momentum, weight_decay = group["alpha"], group["momentum"], group["weight_decay"]
        self._count_step(state, p)
        v = self._buffer(state, "square_avg", p)
        if momentum > 0:
            buf = self._buffer(state, "momentum_buffer", p)
        if group["centered"]:
            a = self._buffer(state, "grad_avg", p)
        if group["maximize"]:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * p
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            a += (1 - alpha) * (g - a)  # PyTorch's lerp form of alpha a + (1 - alpha) g
            s = np.sqrt(v - a * a)
        else:
            s = np.sqrt(v)
        s += group["eps"]
        if momentum > 0:
            buf *= momentum
            buf += g / s
            p -= group["lr"] * buf
        else:
            p -= group["lr"] * g / s
