"""Creating tensors: constants, ranges, identity, and seeded random draws.

All random draws in glassgrad come from one ``np.random.Generator``; ``manual_seed``
replaces it, so a seed makes a whole run reproducible.
"""

from __future__ import annotations

import numpy as np

from . import dtypes
from .backend import array_of, asarray
from .tensor import Tensor

__all__ = [
    "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "eye", "randn", "rand",
    "manual_seed", "default_generator",
]

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed every random draw in glassgrad (``randn``, ``rand``, later init and dropout)."""
    global _generator
    _generator = np.random.default_rng(seed)


def default_generator() -> np.random.Generator:
    """The generator behind glassgrad's random functions (replaced by ``manual_seed``)."""
    return _generator


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(int(n) for n in shape)


def _leaf(arr, requires_grad):
    t = Tensor._wrap(arr)
    return t.requires_grad_(True) if requires_grad else t


def _float(dtype):
    return np.dtype(dtype) if dtype is not None else dtypes.default_dtype


def zeros(*shape, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of zeros: ``gg.zeros(2, 3)`` or ``gg.zeros((2, 3))``."""
    return _leaf(np.zeros(_shape(shape), _float(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of ones."""
    return _leaf(np.ones(_shape(shape), _float(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``."""
    if isinstance(shape, int):
        shape = (shape,)
    if dtype is None and isinstance(fill_value, (int, np.integer, bool)):
        dtype = np.int64 if not isinstance(fill_value, bool) else np.bool_
    return _leaf(np.full(tuple(shape), fill_value, _float(dtype)), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``t``, of its array type."""
    return _leaf(np.zeros_like(asarray(array_of(t)), dtype=dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad=False) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``t``, of its array type."""
    return _leaf(np.ones_like(asarray(array_of(t)), dtype=dtype), requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False) -> Tensor:
    """Evenly spaced values in ``[start, stop)``, as ``np.arange`` (ints stay int64;
    float arguments give the default float dtype)."""
    arr = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is not None:
        arr = arr.astype(dtype)
    elif arr.dtype.kind == "f":
        arr = arr.astype(dtypes.default_dtype)
    return _leaf(arr, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False) -> Tensor:
    """The identity matrix (``n`` x ``m``)."""
    return _leaf(np.eye(n, m, dtype=_float(dtype)), requires_grad)


def randn(*shape, dtype=None, requires_grad=False) -> Tensor:
    """Standard normal samples, from glassgrad's seeded generator."""
    arr = _generator.standard_normal(_shape(shape)).astype(_float(dtype))
    return _leaf(arr, requires_grad)


def rand(*shape, dtype=None, requires_grad=False) -> Tensor:
    """Uniform samples in ``[0, 1)``, from glassgrad's seeded generator."""
    arr = _generator.random(_shape(shape)).astype(_float(dtype))
    return _leaf(arr, requires_grad)
