"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_nonnegative

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), PyTorch's rule exactly.

    For each parameter :math:`p` with gradient :math:`g`, at step :math:`t = 1, 2, ...`::

        g <- -g                                  if maximize
        p <- p * (1 - lr * weight_decay)         if decoupled_weight_decay  (AdamW)
        g <- g + weight_decay * p                otherwise                  (L2 penalty)
        m <- beta1 * m + (1 - beta1) * g         first moment   (state "exp_avg")
        v <- beta2 * v + (1 - beta2) * g**2      second moment  (state "exp_avg_sq")
        v_max <- max(v_max, v)                   if amsgrad     (state "max_exp_avg_sq")
        p <- p - lr / (1 - beta1**t) * m / (sqrt(v or v_max) / sqrt(1 - beta2**t) + eps)

    ``m`` and ``v`` start at zero; dividing by ``1 - beta**t`` undoes that bias. ``eps``
    is added after the bias correction of ``sqrt(v)``, as PyTorch does.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters, or parameter groups (dicts) with per-group hyper-parameters.
    lr : float
        Learning rate.
    betas : (float, float)
        Decay rates of the first and second moment averages.
    eps : float
        Added to the denominator, for numerical stability.
    weight_decay : float
        L2 penalty coefficient (Adam), or decoupled decay rate (AdamW).
    amsgrad : bool
        Use the running maximum of ``v`` (the AMSGrad variant).
    maximize : bool
        Ascend the objective instead (keyword-only, as PyTorch).
    decoupled_weight_decay : bool
        Shrink the parameters directly instead of adding to the gradient: this is AdamW.

    Examples
    --------
    >>> import glassgrad as gg
    >>> w = gg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = gg.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()           # the first Adam step moves each entry by about lr
    >>> print(w.data.round(4))
    [ 0.9 -1.9]
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _check_group(self, group, where):
        check_nonnegative(group, ("lr", "eps", "weight_decay"), where)
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"{where}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{where}: invalid betas[{i}] {beta!r} (must be in [0, 1))")

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        """One Adam step for parameter array ``p`` with gradient ``g`` (see the class)."""
        lr, weight_decay, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        t = self._count_step(state, p)
        m = self._buffer(state, "exp_avg", p)
        v = self._buffer(state, "exp_avg_sq", p)
        if group["maximize"]:
            g = -g
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                p *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * p
        # m <- beta1 m + (1 - beta1) g, written as PyTorch's lerp: m + (1 - beta1)(g - m)
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * g * g
        if group["amsgrad"]:
            v_max = self._buffer(state, "max_exp_avg_sq", p)
            np.maximum(v_max, v, out=v_max)
            v = v_max
        step_size = lr / (1 - beta1**t)
        denom = np.sqrt(v) / (1 - beta2**t) ** 0.5 + eps
        p -= step_size * m / denom


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay.

    The same rule as :class:`Adam`, except that weight decay shrinks the parameters
    directly, ``p <- p * (1 - lr * weight_decay)``, before the Adam update, instead of
    adding ``weight_decay * p`` to the gradient (where Adam's normalisation would scale
    it down along with the gradient). The default ``weight_decay`` is 1e-2, as PyTorch.

    Examples
    --------
    >>> import glassgrad as gg
    >>> w = gg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = gg.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()           # p * (1 - 0.05), then the Adam step of about lr
    >>> print(w.data.round(4))
    [ 0.85 -1.8 ]
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # AdamW is always decoupled, whatever was saved
            group["decoupled_weight_decay"] = True
