"""Weight initialisation, in place, with PyTorch's names, arguments and formulas.

Why the scales: a layer ``y = W x`` with ``fan_in`` inputs of unit variance gives each
output a variance of ``fan_in * Var(W)``. Keeping that at 1 through a deep net (so the
signal neither dies nor explodes) asks for ``Var(W) = 1 / fan_in``, times a *gain* that
makes up for what the nonlinearity does to the variance (``2`` for ReLU, which zeroes
half its inputs). Xavier/Glorot averages the forward and backward conditions
(``Var(W) = 2 / (fan_in + fan_out)``); Kaiming/He keeps one of them exactly.

For a weight of shape ``(out, in, *kernel)`` (Linear, Conv2d), ``fan_in = in * prod(kernel)``
and ``fan_out = out * prod(kernel)``.

Every function fills the tensor's array in place, outside any graph (so a Parameter
stays the same object), draws from glassgrad's seeded generator (``gg.manual_seed``),
and returns the tensor.
"""

from __future__ import annotations

import math

import numpy as np

from .. import creation
from ..backend import is_raw
from ..tensor import Tensor

__all__ = [
    "calculate_gain", "uniform_", "normal_", "constant_", "ones_", "zeros_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
]


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    ============================  =========================================
    linear, conv*d, sigmoid       1
    tanh                          5/3
    relu                          sqrt(2)
    leaky_relu                    sqrt(2 / (1 + negative_slope^2))  (slope 0.01 if None)
    selu                          3/4
    ============================  =========================================

    >>> round(gg.nn.init.calculate_gain("relu"), 4)
    1.4142
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
              "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    shape = np.shape(getattr(tensor, "_data", tensor))
    if len(shape) < 2:
        raise ValueError(
            f"fan in and fan out can not be computed for a tensor with fewer than 2 "
            f"dimensions (shape {shape}); these initialisations are for weight matrices "
            "and conv kernels"
        )
    receptive = math.prod(shape[2:])  # 1 for a matrix, kh*kw for a conv kernel
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor, values, name: str):
    """Write ``values`` into ``tensor``'s array in place (a Tensor or an ndarray)."""
    if isinstance(tensor, Tensor):
        tensor._writable_or_raise(f"init.{name}")
        arr = tensor._data
    elif is_raw(tensor):
        arr = tensor
    else:
        raise TypeError(f"init.{name}: expected a Tensor, got {type(tensor).__name__}")
    arr[...] = values
    return tensor


def _shape(tensor):
    return np.shape(getattr(tensor, "_data", tensor))


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with samples from U(a, b)."""
    rng = creation._rng_of(generator, "init.uniform_")
    return _fill(tensor, rng.uniform(a, b, _shape(tensor)), "uniform_")


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with samples from N(mean, std^2)."""
    rng = creation._rng_of(generator, "init.normal_")
    return _fill(tensor, rng.normal(mean, std, _shape(tensor)),
                 "normal_")


def constant_(tensor, val: float):
    """Fill with the value ``val``."""
    return _fill(tensor, val, "constant_")


def ones_(tensor):
    """Fill with ones."""
    return _fill(tensor, 1, "ones_")


def zeros_(tensor):
    """Fill with zeros."""
    return _fill(tensor, 0, "zeros_")


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).

    The variance of U(-a, a) is a^2 / 3 = gain^2 * 2 / (fan_in + fan_out).

    >>> w = gg.nn.init.xavier_uniform_(gg.zeros(256, 128))
    >>> bool(abs(w.data).max() <= (6 / 384) ** 0.5)
    True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    rng = creation._rng_of(generator, "init.xavier_uniform_")
    return _fill(tensor, rng.uniform(-bound, bound, _shape(tensor)),
                 "xavier_uniform_")


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    rng = creation._rng_of(generator, "init.xavier_normal_")
    return _fill(tensor, rng.normal(0.0, std, _shape(tensor)),
                 "xavier_normal_")


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None):
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan), gain from ``nonlinearity``.

    ``a`` is the negative slope for ``leaky_relu``; ``mode`` picks ``fan_in`` (keeps
    the forward variance) or ``fan_out`` (keeps the backward variance).

    >>> w = gg.nn.init.kaiming_uniform_(gg.zeros(64, 100), nonlinearity="relu")
    >>> bool(abs(w.data).max() <= (6 / 100) ** 0.5)
    True
    """
    gain = calculate_gain(nonlinearity, a)
    bound = gain * math.sqrt(3.0 / _fan(tensor, mode))
    rng = creation._rng_of(generator, "init.kaiming_uniform_")
    return _fill(tensor, rng.uniform(-bound, bound, _shape(tensor)),
                 "kaiming_uniform_")


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None):
    """He normal: N(0, std^2) with std = gain / sqrt(fan)."""
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(_fan(tensor, mode))
    rng = creation._rng_of(generator, "init.kaiming_normal_")
    return _fill(tensor, rng.normal(0.0, std, _shape(tensor)),
                 "kaiming_normal_")
