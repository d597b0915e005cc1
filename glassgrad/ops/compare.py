"""Comparisons: not differentiable (their derivative is zero wherever it exists), so
they are plain NumPy calls that return boolean tensors outside any graph."""

from __future__ import annotations

import numpy as np

from ..primitive import op
from ..tensor import Tensor

__all__ = [
    "less", "less_equal", "greater", "greater_equal", "equal", "not_equal", "logical_and",
    "logical_or", "logical_xor", "logical_not",
]


def _compare(ufunc, name, mirrors=()):
    def compare(x, y):
        a = x._data if isinstance(x, Tensor) else x
        b = y._data if isinstance(y, Tensor) else y
        try:
            return Tensor._wrap(ufunc(a, b))
        except ValueError:
            raise ValueError(
                f"{name}: shapes {np.shape(a)} and {np.shape(b)} cannot be broadcast together"
            ) from None

    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}`` (NumPy's ``np.{ufunc.__name__}``); no gradient."
    return op(numpy=(ufunc, *mirrors))(compare)


less = _compare(np.less, "less")
less_equal = _compare(np.less_equal, "less_equal")
greater = _compare(np.greater, "greater")
greater_equal = _compare(np.greater_equal, "greater_equal")
equal = _compare(np.equal, "equal")
not_equal = _compare(np.not_equal, "not_equal")
logical_and = _compare(np.bitwise_and, "logical_and", (np.logical_and,))
logical_or = _compare(np.bitwise_or, "logical_or", (np.logical_or,))
logical_xor = _compare(np.bitwise_xor, "logical_xor", (np.logical_xor,))


@op(numpy=(np.invert, np.logical_not))
def logical_not(x):
    """Elementwise NOT of a boolean tensor (``~t``); no gradient."""
    return Tensor._wrap(np.invert(x._data if isinstance(x, Tensor) else x))
