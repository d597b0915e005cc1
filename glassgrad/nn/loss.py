"""Loss modules: ``MSELoss``, ``BCELoss``, ``BCEWithLogitsLoss``, ``CrossEntropyLoss``,
``NLLLoss``, each calling its :mod:`glassgrad.nn.functional` form.

``reduction`` is 'mean' (default), 'sum' or 'none', exactly as PyTorch: for the class
losses with ``weight`` or ``ignore_index``, 'mean' divides by the total weight of the
counted targets, not by N. Class weights and ``pos_weight`` are buffers (in the state
dict when given), as in PyTorch.
"""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss"]


def _buffer(value):
    return value if value is None or isinstance(value, Tensor) else Tensor(value)


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or "
                             f"'none', got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error: mean((input - target)**2) (or sum / elementwise).

    >>> gg.nn.MSELoss()(gg.tensor([1.0, 2.0]), gg.tensor([1.0, 4.0]))
    tensor(2.)
    """

    def forward(self, input, target):  # noqa: A002
        return F.mse_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1] (logs clamped at -100).

    On logits use :class:`BCEWithLogitsLoss`, which is exact where this saturates.
    """

    def __init__(self, weight=None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))

    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one stable step (any finite logit).

    ``pos_weight`` (one per class, last axis) weighs the positive examples.

    >>> loss = gg.nn.BCEWithLogitsLoss()(gg.tensor([1e4, -1e4]), gg.tensor([1.0, 0.0]))
    >>> float(loss)
    0.0
    """

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))
        self.register_buffer("pos_weight", _buffer(pos_weight))

    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                  self.pos_weight)


class CrossEntropyLoss(_Loss):
    """Softmax + negative log-likelihood from logits (N, C, ...) and class indices.

    The gradient is softmax(logits) - onehot(target) (scaled by 1/N for 'mean').
    ``weight`` rescales classes, targets equal to ``ignore_index`` are skipped,
    ``label_smoothing`` mixes in the uniform distribution, as PyTorch.

    >>> loss_fn = gg.nn.CrossEntropyLoss()
    >>> float(loss_fn(gg.zeros(2, 4), gg.tensor([0, 3])))  # log(4)
    1.3862943649291992
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):  # noqa: A002
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (e.g. from :class:`LogSoftmax`)."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))
        self.ignore_index = ignore_index

    def forward(self, input, target):  # noqa: A002
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)
