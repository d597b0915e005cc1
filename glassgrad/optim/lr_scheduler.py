"""Learning-rate schedulers: change each group's ``lr`` as training goes, as PyTorch does.

A scheduler wraps an optimizer. Creating it records each group's starting rate as
``group["initial_lr"]`` (``base_lrs``) and counts as epoch 0; each ``step()`` then
advances ``last_epoch`` by one and writes the new rate into ``group["lr"]``. Call
``optimizer.step()`` first, then ``scheduler.step()``, once per epoch (or per batch,
whichever your schedule counts).

The rates follow PyTorch 2.x: ``step()`` uses the *recursive* form (each rate computed
from the group's current ``lr``, so several schedulers on one optimizer compose, and a
rate set by hand carries on), ``step(epoch)`` the closed form (from ``base_lrs``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from .optimizer import Optimizer, _plain

__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR"]


class LRScheduler:
    """Base class of the learning-rate schedulers.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose ``param_groups[i]["lr"]`` this scheduler sets.
    last_epoch : int
        Index of the last epoch seen; -1 (default) to start afresh. A value >= 0 resumes
        a schedule and needs ``"initial_lr"`` in every group (as a loaded optimizer state
        dict has).

    Attributes
    ----------
    base_lrs : list of float
        Each group's ``initial_lr``.
    last_epoch : int
        Number of ``step()`` calls since the start (0 right after creation).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer"
            )
        self.optimizer = optimizer
        groups = optimizer.param_groups
        if last_epoch == -1:
            for group in groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr', needed "
                        f"to resume at last_epoch={last_epoch}; load the optimizer's state dict "
                        "first, or start with last_epoch=-1"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        # the step that creation performs: epoch -1 -> 0, the rates stay as they are
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The rates for epoch ``last_epoch``, computed from the current ones (recursive).

        Called by :meth:`step`; to read the rates in use, call :meth:`get_last_lr`.
        """
        raise NotImplementedError

    def _get_closed_form_lr(self) -> list[float]:
        """The rates for epoch ``last_epoch``, computed from ``base_lrs`` directly."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates the last :meth:`step` set, one per parameter group."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance the schedule by one epoch and set each group's ``lr``.

        Parameters
        ----------
        epoch : int, optional
            Deprecated in PyTorch (and here): jump to this epoch, using the closed form.
        """
        if self._step_count == 1 and self.optimizer._step_count == 0:
            warnings.warn(
                "Detected call of `lr_scheduler.step()` before `optimizer.step()`: call "
                "optimizer.step() first, then scheduler.step(), or the first value of the "
                "schedule is skipped",
                UserWarning,
                stacklevel=2,
            )
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            warnings.warn(
                "passing an epoch to scheduler.step() is deprecated (as in PyTorch): call "
                "step() without arguments once per epoch",
                UserWarning,
                stacklevel=2,
            )
            self.last_epoch = epoch
            values = self._get_closed_form_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    # --- state dicts --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state: every attribute except the optimizer (as PyTorch).

        Save it together with the optimizer's state dict; to resume, create the
        optimizer and the scheduler, then load both.
        """
        return {
            k: (list(v) if isinstance(v, list) else v)
            for k, v in self.__dict__.items()
            if k not in ("optimizer", "_is_initial")
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a dict from :meth:`state_dict` (keys must be this scheduler's own)."""
        own = self.state_dict()
        unexpected = [k for k in state_dict if k not in own]
        missing = [k for k in own if k not in state_dict]
        if unexpected or missing:
            raise KeyError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, unexpected "
                f"keys {unexpected} (is this the state of another kind of scheduler?)"
            )
        for k, v in state_dict.items():
            v = _plain(v)  # a file round trip may hand back arrays
            setattr(self, k, list(v) if isinstance(own[k], list) else v)


class StepLR(LRScheduler):
    """Multiply each group's learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr(epoch) = base_lr * gamma ** (epoch // step_size)``

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Period of the decay, in epochs.
    gamma : float
        Multiplicative factor (default 0.1).
    last_epoch : int
        -1 to start afresh.

    Examples
    --------
    >>> import glassgrad as gg
    >>> opt = gg.optim.SGD([gg.zeros(2, requires_grad=True)], lr=1.0)
    >>> sched = gg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(sched.get_last_lr()[0])
    ...     opt.step()
    ...     sched.step()
    >>> lrs
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        if int(step_size) != step_size or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size = int(step_size)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """``lr * gamma`` on epochs that are multiples of ``step_size`` (not 0), else ``lr``."""
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply each group's learning rate by ``gamma`` every epoch.

    ``lr(epoch) = base_lr * gamma ** epoch``

    Examples
    --------
    >>> import glassgrad as gg
    >>> opt = gg.optim.SGD([gg.zeros(2, requires_grad=True)], lr=1.0)
    >>> sched = gg.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    >>> opt.step(); sched.step(); opt.step(); sched.step()
    >>> opt.param_groups[0]["lr"]
    0.25
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """``lr * gamma`` (the creation step keeps ``lr``)."""
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal each group's learning rate along a half cosine, from ``base_lr`` to ``eta_min``.

    Closed form, with :math:`t` the epoch::

        lr(t) = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2

    ``step()`` computes it recursively, as PyTorch, from the current rate (``T = T_max``)::

        lr(t) = eta_min + (lr(t-1) - eta_min) * (1 + cos(pi t / T)) / (1 + cos(pi (t-1) / T))

    and, where that ratio is 0/0 (at ``t - 1 = T_max`` and every ``2 T_max`` after),
    ``lr(t) = lr(t-1) + (base_lr - eta_min) * (1 - cos(pi / T_max)) / 2``; so past
    ``T_max`` the rate climbs back up the cosine (no restart).

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Number of epochs of the half period.
    eta_min : float
        Smallest learning rate (default 0).
    last_epoch : int
        -1 to start afresh.

    Examples
    --------
    >>> import glassgrad as gg
    >>> opt = gg.optim.SGD([gg.zeros(2, requires_grad=True)], lr=1.0)
    >>> sched = gg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2)
    >>> opt.step(); sched.step()
    >>> round(sched.get_last_lr()[0], 12)
    0.5
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        if not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The recursive cosine step (see the class docstring)."""
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:  # resumed at last_epoch > 0: closed form
            return [
                eta_min + (base - eta_min) * (1 + math.cos(t * math.pi / T)) / 2
                for base in self.base_lrs
            ]
        if (t - 1 - T) % (2 * T) == 0:  # at the bottom of the cosine: the ratio is 0/0
            return [
                lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for base, lr in zip(self.base_lrs, self._current_lrs())
            ]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            self.eta_min
            + (base - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base in self.base_lrs
        ]
