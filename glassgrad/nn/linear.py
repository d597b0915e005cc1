"""Layers built from the engine's ops: Linear, Identity, Flatten, Residual, Dropout,
Embedding.

None needs a primitive of its own: each forward is two or three glassgrad ops whose
VJPs the engine already knows, so the backward comes for free and stays readable:

* ``Linear``:    out = x @ W.T + b;   gx = g @ W,  gW = g.T @ x,  gb = sum of g over rows
* ``Dropout``:   out = x * m / (1 - p);  gx = g * m / (1 - p)  (the same mask)
* ``Embedding``: out = W[idx];  gW = zeros with g added at each idx (repeats accumulate)
"""

from __future__ import annotations

import math

import numpy as np

from .. import creation, dtypes
from ..ops import where
from ..tensor import Tensor
from . import init
from ._stash import check_input_dtype
from .module import Module, Parameter

__all__ = ["Linear", "Identity", "Flatten", "Residual", "Dropout", "Embedding"]


class Linear(Module):
    """Affine map ``y = x W^T + b`` over the last dimension of ``x``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        Learn an additive bias (default True).
    dtype : numpy dtype, optional
        Of the parameters (default: glassgrad's default float dtype).

    Attributes
    ----------
    weight : Parameter, shape ``(out_features, in_features)`` (PyTorch's layout)
    bias : Parameter, shape ``(out_features,)``, or None

    Both start as U(-1/sqrt(in_features), 1/sqrt(in_features)), PyTorch's default,
    drawn from glassgrad's generator.

    Examples
    --------
    >>> layer = gg.nn.Linear(3, 2)
    >>> layer(gg.randn(5, 3)).shape
    (5, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype=None) -> None:
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dtype = np.dtype(dtype) if dtype is not None else dtypes.default_dtype
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw weight and bias from U(-1/sqrt(in), 1/sqrt(in)).

        (PyTorch writes this as ``kaiming_uniform_(a=sqrt(5))``, which is the same bound:
        gain sqrt(2/(1+5)) times sqrt(3/fan_in) = 1/sqrt(fan_in).)
        """
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"Linear(in_features={self.in_features}, out_features={self.out_features}): "
                f"the input's last dimension must be {self.in_features}, got input shape "
                f"{tuple(x.shape)}"
            )
        check_input_dtype(self, x, self.weight)
        out = x @ self.weight.T
        if self.bias is not None:
            out = out + self.bias
        return out

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to remove a layer).

    Any constructor arguments are accepted and ignored, as in PyTorch.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge dimensions ``start_dim..end_dim`` into one: (N, C, H, W) -> (N, C*H*W).

    Examples
    --------
    >>> gg.nn.Flatten()(gg.zeros(2, 3, 4, 5)).shape
    (2, 60)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x):
        shape = tuple(x.shape)
        n = max(len(shape), 1)
        start, end = self.start_dim, self.end_dim
        if not (-n <= start < n and -n <= end < n):
            raise IndexError(
                f"Flatten(start_dim={start}, end_dim={end}): out of range for an input "
                f"of shape {shape}"
            )
        start, end = start % n, end % n
        if start > end:
            raise ValueError(
                f"Flatten: start_dim ({self.start_dim}) comes after end_dim "
                f"({self.end_dim}) for an input of shape {shape}"
            )
        if not shape:
            return x.reshape((1,))
        merged = math.prod(shape[start:end + 1])
        return x.reshape(shape[:start] + (merged,) + shape[end + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Residual(Module):
    """A skip connection: ``out = x + block(x)``.

    The gradient reaches ``x`` along two paths, ``g`` directly and ``g`` through
    ``block``'s backward, and the two add: the identity path keeps deep nets trainable.
    ``block``'s parameters are named ``block.<name>`` in the state dict.

    Examples
    --------
    >>> r = gg.nn.Residual(gg.nn.Linear(4, 4))
    >>> r(gg.randn(2, 4)).shape
    (2, 4)
    """

    def __init__(self, block: Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x):
        y = self.block(x)
        if tuple(y.shape) != tuple(x.shape):
            raise ValueError(
                f"Residual: the block maps shape {tuple(x.shape)} to {tuple(y.shape)}; "
                "x + block(x) needs the block to keep the shape"
            )
        return x + y


class Dropout(Module):
    """Zero each element with probability ``p`` in training; identity in eval.

    Inverted dropout: kept elements are scaled by ``1 / (1 - p)``, so the expected
    output equals the input and nothing changes at evaluation time. The mask comes from
    glassgrad's seeded generator (``gg.manual_seed``).

    Examples
    --------
    >>> drop = gg.nn.Dropout(0.5)
    >>> y = drop(gg.ones(1000))
    >>> sorted(set(y.data.tolist()))
    [0.0, 2.0]
    >>> bool((drop.eval()(gg.ones(3)).data == 1).all())
    True
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability must be between 0 and 1, got {p}")
        self.p = float(p)
        self.inplace = inplace  # accepted for PyTorch compatibility; never in place here

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        shape = tuple(x.shape)
        dtype = x.dtype if np.dtype(x.dtype).kind == "f" else dtypes.default_dtype
        if self.p == 1.0:
            return x * np.zeros(shape, dtype)
        keep = creation.default_generator().random(shape) >= self.p
        scale = (keep / (1.0 - self.p)).astype(dtype)
        return x * scale

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Embedding(Module):
    """A lookup table: ``out = weight[indices]``, one learned row per token id.

    ``weight`` has shape ``(num_embeddings, embedding_dim)``, drawn from N(0, 1).
    Indexing is the engine's ``getitem``, whose VJP adds the cotangent into each looked-up
    row, so an index used twice gets both gradients.

    Parameters
    ----------
    num_embeddings : int
        Size of the table (valid indices are ``0 .. num_embeddings - 1``).
    embedding_dim : int
    padding_idx : int, optional
        This row starts at zero and receives no gradient (as PyTorch).

    Examples
    --------
    >>> emb = gg.nn.Embedding(10, 3)
    >>> emb(gg.tensor([[1, 2], [2, 9]])).shape
    (2, 2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 dtype=None) -> None:
        super().__init__()
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError("Embedding: padding_idx must be within num_embeddings")
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        dtype = np.dtype(dtype) if dtype is not None else dtypes.default_dtype
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw the table from N(0, 1) (the padding row, if any, set to zero)."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices):
        idx = np.asarray(indices._data if isinstance(indices, Tensor) else indices)
        if idx.dtype.kind not in "iu":
            raise TypeError(
                f"Embedding: indices must be integers, got dtype {idx.dtype} "
                "(convert with .astype(np.int64))"
            )
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            bad = idx.min() if idx.min() < 0 else idx.max()
            raise IndexError(
                f"Embedding({self.num_embeddings}, {self.embedding_dim}): index {bad} is "
                f"out of range; valid indices are 0..{self.num_embeddings - 1}"
            )
        out = self.weight[idx]
        if self.padding_idx is not None and out.requires_grad:
            # same values, but rows looked up at padding_idx pass no gradient back
            pad = (idx == self.padding_idx)[..., None]
            out = where(pad, out.detach(), out)
        return out

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
