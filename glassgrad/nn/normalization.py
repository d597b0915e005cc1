"""Normalization layers: ``BatchNorm1d``, ``BatchNorm2d`` and ``LayerNorm``.

All three run the fused ``normalize`` primitive (``glassgrad/nn/_norm_ops.py``), whose
backward is the compact closed form
``gx = (1/M) * gamma/sigma * (M g - sum(g) - xhat * sum(g * xhat))``.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..tensor import Tensor
from ._stash import shape_of
from .functional import batch_norm, layer_norm
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class _BatchNorm(Module):
    """Shared body of the batch norms; subclasses only say which input ranks they take."""

    _ranks: tuple = ()
    _shapes: str = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype=None) -> None:
        super().__init__()
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dtype = np.dtype(dtype) if dtype is not None else dtypes.default_dtype
        if affine:
            self.weight = Parameter(np.ones(self.num_features, dtype))
            self.bias = Parameter(np.zeros(self.num_features, dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        """Running statistics reset; weight 1 and bias 0."""
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
            self.bias.data[...] = 0

    def forward(self, x):
        shape = shape_of(x)
        if len(shape) not in self._ranks:
            raise ValueError(f"{type(self).__name__}({self.num_features}): expected "
                             f"{self._shapes} input, got shape {shape}")
        if shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}): input has "
                             f"{shape[1]} channels (shape {shape}), expected "
                             f"{self.num_features}")
        factor = self._count_batch()
        # Batch statistics while training, or whenever there are no running ones.
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return batch_norm(x, self.running_mean if track else None,
                          self.running_var if track else None, self.weight, self.bias,
                          use_batch, factor, self.eps)

    def _count_batch(self) -> float:
        """Count a training batch (when tracking) and return the weight of its statistics
        in the running ones: ``momentum``, or 1/n for PyTorch's cumulative average when
        ``momentum`` is None."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data[...] += 1
            if self.momentum is None:  # cumulative moving average, as PyTorch
                factor = 1.0 / float(self.num_batches_tracked.item())
        return factor

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) input, per feature/channel C.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``. Training uses the batch's
    mean and biased variance and updates ``running_mean`` and ``running_var``
    (unbiased) with ``momentum`` (None: a cumulative average); evaluation uses them.
    Buffers and parameters are PyTorch's: ``weight`` (1s), ``bias`` (0s),
    ``running_mean``, ``running_var``, ``num_batches_tracked``.

    Examples
    --------
    >>> bn = gg.nn.BatchNorm1d(4)
    >>> bn(gg.randn(8, 4)).shape
    (8, 4)
    >>> sorted(bn.state_dict())
    ['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight']
    """

    _ranks = (2, 3)
    _shapes = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) input, per channel (statistics over N, H, W).

    See :class:`BatchNorm1d` for the parameters, buffers and the train/eval behaviour.

    Examples
    --------
    >>> gg.nn.BatchNorm2d(3)(gg.randn(2, 3, 5, 5)).shape
    (2, 3, 5, 5)
    """

    _ranks = (4,)
    _shapes = "(N, C, H, W)"


class LayerNorm(Module):
    """Normalize each sample over its trailing ``normalized_shape`` axes.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with per-sample statistics, the
    same in training and evaluation. ``weight`` (1s) and ``bias`` (0s) have shape
    ``normalized_shape`` (elementwise, unlike batch norm's per-channel ones).

    Examples
    --------
    >>> ln = gg.nn.LayerNorm(16)
    >>> ln(gg.randn(4, 10, 16)).shape
    (4, 10, 16)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype=None) -> None:
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = np.dtype(dtype) if dtype is not None else dtypes.default_dtype
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """Weight 1 and bias 0."""
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
