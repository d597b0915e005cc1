"""``gg.nn.functional`` (``F``): the stateless forms of the layers, activations and losses.

Names and argument names are PyTorch's (``dim=``, ``reduction=``, ``negative_slope=``),
so code moves between the two libraries unchanged. Where a layer earns its own backward
(conv2d, the pools, batch/layer norm, (log-)softmax, the cross-entropies, softplus, erf)
it is a fused primitive with its derivation beside it, in ``glassgrad/nn/_*_ops.py``;
everything else here is a composite of existing ops and needs no rule.

>>> import glassgrad as gg
>>> import glassgrad.nn.functional as F
>>> logits = gg.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
>>> loss = F.cross_entropy(logits, gg.tensor([0]))
>>> loss.backward()
>>> logits.grad.shape                     # softmax(logits) - onehot(0)
(1, 3)

``inplace=`` arguments are accepted for compatibility and ignored: glassgrad never
overwrites a tensor that a graph may still need.
"""

from __future__ import annotations

import numpy as np

from .. import creation, ops
from ..primitive import OpError
from ..tensor import Tensor
from ._activation_ops import (
    elu,
    gelu,
    log_softmax,
    sigmoid,
    softmax,
    softplus,
    tanh,
)
from ._activation_ops import leaky_relu as _leaky_relu
from ._conv_ops import conv2d
from ._loss_ops import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    nll_loss,
)
from ._norm_ops import batch_norm, layer_norm
from ._pool_ops import avg_pool2d, max_pool2d
from ._stash import check_input_dtype, shape_of

__all__ = [
    "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax", "softplus",
    "elu", "dropout", "linear", "conv2d", "max_pool2d", "avg_pool2d", "batch_norm",
    "layer_norm", "embedding", "one_hot", "mse_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "pad",
]


def relu(input, inplace=False):  # noqa: A002  (PyTorch's argument names)
    """max(x, 0), gradient 0 at 0 (as PyTorch).

    >>> F.relu(gg.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    return ops.relu(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    """x where x > 0, else ``negative_slope * x``.

    >>> F.leaky_relu(gg.tensor([-1.0, 2.0]), negative_slope=0.1)
    tensor([-0.1,  2. ])
    """
    return _leaky_relu(input, negative_slope)


def linear(input, weight, bias=None):  # noqa: A002
    """``input @ weight.T + bias`` with PyTorch's (out_features, in_features) weight.

    >>> F.linear(gg.ones(5, 3), gg.ones(2, 3)).shape
    (5, 2)
    """
    wshape, xshape = shape_of(weight), shape_of(input)
    if len(wshape) != 2 or not xshape or xshape[-1] != wshape[1]:
        raise OpError(f"linear: input of shape {xshape} does not fit a weight of shape "
                      f"{wshape} (out_features, in_features): the input's last dimension "
                      f"must be {wshape[1] if len(wshape) == 2 else 'in_features'}")
    check_input_dtype("linear", input, weight)
    out = ops.matmul(input, ops.transpose(weight))
    return out if bias is None else out + bias


def dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero each element with probability ``p`` and scale the rest by 1/(1 - p).

    The scale keeps the expected value unchanged, so evaluation (``training=False``)
    is the identity. The mask comes from glassgrad's seeded generator.

    >>> F.dropout(gg.ones(4), p=0.5, training=False)   # evaluation: the identity
    tensor([1., 1., 1., 1.])
    """
    if not 0.0 <= p <= 1.0:
        raise OpError(f"dropout: p must be a probability in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    data = input._data if isinstance(input, Tensor) else np.asarray(input)
    keep = creation.default_generator().random(data.shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return input * (keep * scale).astype(data.dtype)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,  # noqa: A002
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` picked by the integer indices ``input``: ``weight[input]``.

    The gradient scatters back into the picked rows (repeats add up); the row
    ``padding_idx`` gets no gradient, as in PyTorch.

    >>> F.embedding(gg.tensor([2, 0]), gg.arange(6.0).reshape(3, 2))
    tensor([[4., 5.],
            [0., 1.]])
    """
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are "
                                  "not supported by glassgrad")
    idx = np.asarray(input._data if isinstance(input, Tensor) else input)
    if idx.dtype.kind not in "iu":
        raise OpError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    n = shape_of(weight)[0]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"embedding: index out of range for a table of {n} rows "
                         f"(got indices from {idx.min()} to {idx.max()})")
    out = ops.getitem(weight, idx)
    if padding_idx is not None:
        pad = (idx == padding_idx % n)[..., None]
        out = ops.where(pad, out.detach(), out)
    return out


def one_hot(tensor, num_classes=-1):
    """Integer class indices -> one-hot int64 tensor with a new trailing axis.

    >>> F.one_hot(gg.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    idx = np.asarray(tensor._data if isinstance(tensor, Tensor) else tensor)
    if idx.dtype.kind not in "iu":
        raise OpError(f"one_hot: indices must be integers, got dtype {idx.dtype}")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise OpError(f"one_hot: class values must be in [0, {num_classes}), got "
                      f"{idx.min()}..{idx.max()}")
    return Tensor._wrap((idx[..., None] == np.arange(num_classes)).astype(np.int64))


def pad(input, pad, mode="constant", value=None):  # noqa: A002  (PyTorch's names)
    """Pad (or, with negative widths, crop) the last dimensions, as ``torch.nn.functional.pad``.

    ``pad`` is torch's flat tuple, *last dimension first*: ``(left, right)`` pads the last
    axis, ``(left, right, top, bottom)`` the last two, and so on. It is built on
    :func:`glassgrad.pad` (NumPy's ``pad_width``, first axis first), so the gradient is
    the interior of the output gradient. Only ``mode="constant"`` (``value``, default 0).

    >>> F.pad(gg.ones(1, 2), (1, 0)).tolist()
    [[0.0, 1.0, 1.0]]
    """
    if mode != "constant":
        raise NotImplementedError(
            f"F.pad: only mode='constant' is supported, got mode={mode!r} (gg.pad has the "
            "same limit)"
        )
    widths_flat = tuple(int(w) for w in pad)
    shape = tuple(input.shape) if hasattr(input, "shape") else np.shape(input)
    ndim = len(shape)
    if len(widths_flat) % 2 or len(widths_flat) // 2 > ndim:
        raise OpError(
            f"F.pad: pad {widths_flat} must have an even length of at most 2 * ndim = "
            f"{2 * ndim} for input of shape {shape} (torch order: last dimension first; "
            "gg.pad takes NumPy's ((before, after), ...) first axis first)"
        )
    widths = [[0, 0] for _ in range(ndim)]
    for k in range(len(widths_flat) // 2):
        widths[ndim - 1 - k] = [widths_flat[2 * k], widths_flat[2 * k + 1]]
    if any(w < 0 for ab in widths for w in ab):  # negative widths crop, as torch
        crop = tuple(slice(max(-a, 0), n - max(-b, 0)) for (a, b), n in zip(widths, shape))
        if any(s.start > s.stop for s in crop):
            raise OpError(f"F.pad: pad {widths_flat} crops more than the input shape {shape}")
        input = input[crop]
        widths = [[max(a, 0), max(b, 0)] for a, b in widths]
    return ops.pad(input, tuple(map(tuple, widths)), constant_values=0 if value is None else value)
