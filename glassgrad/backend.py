"""The one array seam: which raw array types the engine works on, and how it makes them.

glassgrad computes with NumPy's API, not only with ``np.ndarray``: any array type that
speaks NumPy's dispatch protocols (``__array_ufunc__``, ``__array_function__``; CuPy's
arrays, a tracer's symbolic values) can flow through the same forward functions and the
same VJP/JVP rules. What the engine needs to know about such a type lives here, and
only here:

* :data:`RAW_TYPES`, the raw array classes (``np.ndarray`` always; others registered
  with :func:`register`). "Is this a raw array?" is ``type(x) in RAW_TYPES``, and "is
  this a Tensor?" is an ``isinstance`` test on Tensor: nothing else in the library tests
  for ``np.ndarray``;
* :func:`asarray`: the array behind a forward's result, keeping a registered type as it
  is (``np.asarray`` would move a device array to the host, or fail);
* :func:`can_freeze`: whether saved-value protection may use the ``writeable`` flag
  (CuPy's arrays have none; then only the registry tier of :mod:`glassgrad.graph`
  protects them);
* creation inside rules goes through ``np.zeros_like(ref, shape=...)`` and friends, which
  dispatch on ``ref``'s type, so a gradient has its input's array type;
* :func:`branch_on` marks the places where a rule looks at the *values* of an array to
  choose what to compute (a data-dependent branch): on arrays it is ``bool``, and a
  tracer that runs the rules on symbolic values resolves it on its concrete value.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RAW_TYPES", "NDARRAY", "register", "is_raw", "asarray", "can_freeze",
           "branch_on", "array_of", "shape_of", "operand", "base_of", "own_copy"]

NDARRAY = np.ndarray
"""NumPy's array class. The hot paths test ``type(x) is NDARRAY`` for a fast route
(``np.add.reduce`` instead of ``x.sum``); every other raw type takes the dispatching
route, which is the same computation."""
RAW_TYPES: set = {np.ndarray}
"""The raw array classes: values the engine computes with directly."""
_NO_FLAGS: set = set()


def register(array_type: type, *, writeable_flag: bool = True) -> None:
    """Accept ``array_type`` as a raw array (it must speak NumPy's dispatch protocols).

    ``writeable_flag=False`` for types without ``flags.writeable`` (CuPy): their saved
    values are then protected by the graph's registry only.
    """
    RAW_TYPES.add(array_type)
    if not writeable_flag:
        _NO_FLAGS.add(array_type)


def is_raw(x) -> bool:
    """Whether ``x`` is a raw array of a registered type (not a Tensor, not a list)."""
    return type(x) in RAW_TYPES


def asarray(x):
    """``x`` as a raw array: registered types unchanged, anything else through NumPy."""
    return x if type(x) in RAW_TYPES else np.asarray(x)


def can_freeze(arr) -> bool:
    """Whether ``arr``'s type has NumPy's ``writeable`` flag (saved-value protection)."""
    return type(arr) not in _NO_FLAGS


def base_of(arr):
    """The array ``arr`` is a view of (NumPy's ``.base``), or None (also for types
    without views)."""
    base = getattr(arr, "base", None)
    return base if type(base) in RAW_TYPES else None


def own_copy(g, dtype):
    """A writable array of ``dtype`` that nothing else holds, made from ``g`` (a gradient
    about to become a leaf's ``.grad``): a copy, of ``g``'s own array type."""
    if type(g) in RAW_TYPES:
        return g.astype(dtype, copy=True)
    return np.array(g, dtype=dtype)


def array_of(x):
    """The array behind a Tensor, or ``x`` itself (an array, list or number)."""
    return getattr(x, "_data", x)


def shape_of(x) -> tuple:
    """The shape of a Tensor, array, list or number (``np.shape`` without the Tensor
    dispatch detour, which costs microseconds on every call)."""
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else np.shape(x)


def operand(x):
    """An op's input as it may enter ``apply``: a Tensor or raw array unchanged, a Python
    number or list as an array (NumPy accepts them everywhere)."""
    return x if type(x) in RAW_TYPES or hasattr(x, "_data") else np.asarray(x)


def branch_on(condition) -> bool:
    """``bool(condition)``, marking a data-dependent branch in a rule.

    A rule that chooses its formula by looking at array values (``if branch_on(
    np.isnan(out).any()):``) says so with this call, so code that runs the rules on
    symbolic values (a tracer emitting NumPy source) knows where it must take the
    concrete value and guard on it.
    """
    return bool(condition)
