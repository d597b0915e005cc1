"""NumPy's dispatch protocols for Tensor: ``np.exp(t)`` records like ``gg.exp(t)``.

This is what lets the backward rules be written once in plain NumPy: handed arrays they
compute an ordinary backward; handed Tensors (``create_graph=True``) every ``np.*`` call
below lands on a glassgrad op and the backward pass is itself recorded.

The tables are not written here: each op's card names the NumPy callable it mirrors
(``numpy=np.exp``), and :data:`glassgrad.primitive.NUMPY_MIRRORS` collects them. Only
the few protocol entries that are not array operations (``np.shape``, ``np.zeros_like``)
are listed below.
"""

from __future__ import annotations

import inspect

import numpy as np

from . import ops
from .primitive import NUMPY_MIRRORS
from .tensor import Tensor

__all__ = ["array_ufunc", "array_function", "build"]


def _constant_like(fill):
    """np.zeros_like / np.ones_like on a Tensor: a constant (its derivative is 0
    everywhere), of the Tensor's array type, with NumPy's ``dtype=`` and ``shape=``."""

    def like(a, dtype=None, order="K", subok=True, shape=None):
        return Tensor._wrap(fill(a._data, dtype=dtype, shape=shape))

    return like


_PROTOCOL = {
    np.zeros_like: _constant_like(np.zeros_like), np.ones_like: _constant_like(np.ones_like),
    np.shape: lambda a: a.shape, np.ndim: lambda a: a.ndim,
    np.size: lambda a: a.size, np.result_type: lambda *a: np.result_type(
        *[getattr(x, "_data", x) for x in a]),
    np.isscalar: lambda a: False, np.square: lambda x: ops.mul(x, x),
    np.positive: lambda x: x,
}
"""np.* entries that are protocol plumbing, not glassgrad ops."""


def _numpy_adapter(np_name, public):
    """``public`` called with NumPy's keyword arguments: the ones it has pass through;
    NumPy-only ones are fine at their default (``out=None``, ``dtype=None``) and refused
    otherwise, by name."""
    try:
        known = set(inspect.signature(public).parameters)
    except (TypeError, ValueError):
        known = set()

    def adapter(*args, **kwargs):
        if kwargs:
            for k in [k for k in kwargs if k not in known]:
                if kwargs.pop(k) is not None:
                    raise TypeError(f"np.{np_name}: argument {k}= is not supported on "
                                    "glassgrad Tensors")
        return public(*args, **kwargs)

    adapter.__name__ = f"np_{np_name}"
    return adapter


_UFUNCS: dict = {}
_FUNCTIONS: dict = {}


def build() -> None:
    """Fill the two tables from the op registry (once every op module is imported)."""
    _UFUNCS.clear()
    _FUNCTIONS.clear()
    for np_callable, public in NUMPY_MIRRORS.items():
        if isinstance(np_callable, np.ufunc):
            _UFUNCS[np_callable] = public
        else:
            _FUNCTIONS[np_callable] = _numpy_adapter(np_callable.__name__, public)
    for np_callable, fn in _PROTOCOL.items():
        table = _UFUNCS if isinstance(np_callable, np.ufunc) else _FUNCTIONS
        table.setdefault(np_callable, fn)


def array_ufunc(ufunc, method, inputs, kwargs):
    fn = _UFUNCS.get(ufunc)
    if fn is None or method != "__call__" or kwargs.get("out") is not None:
        names = ufunc.__name__ + ("" if method == "__call__" else "." + method)
        raise TypeError(
            f"np.{names} is not supported on glassgrad Tensors (no gradient rule); "
            "use a glassgrad op, or call it on t.detach().numpy()"
        )
    extra = set(kwargs) - {"dtype", "casting"}
    if extra:
        raise TypeError(f"np.{ufunc.__name__}: arguments {sorted(extra)} not supported on Tensors")
    return fn(*inputs)


def array_function(func, args, kwargs):
    fn = _FUNCTIONS.get(func)
    if fn is None:
        raise TypeError(
            f"np.{func.__name__} is not supported on glassgrad Tensors (no gradient rule); "
            "use a glassgrad op, or call it on t.detach().numpy()"
        )
    return fn(*args, **kwargs)
