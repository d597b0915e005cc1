"""Tensor's operators, NumPy-named methods, in-place updates, ``backward`` and the
NumPy protocols, attached to the class from the layer above the ops.

``tensor.py`` defines the data type and imports nothing above it; the ops import
``Tensor`` from there. This module sits above both (and above the engine and the NumPy
dispatch tables), so every import is an ordinary top-of-file import and no module
imports a higher one. ``glassgrad/__init__`` imports it first thing, as JAX attaches
its array methods from its NumPy layer.

The methods named after ops (``t.sum()``, ``t.exp()``) are generated from the op
registry: a card with ``method=True`` is a Tensor method. Operators and the few
methods that are not ops are written here, each a one-line delegation: the Tensor
knows no calculus.
"""

from __future__ import annotations

import numpy as np

from . import engine, numpy_dispatch, ops
from .modes import state
from .numpy_dispatch import array_function, array_ufunc
from .ops.arrange import sort_with_indices
from .primitive import METHODS, Primitive, apply
from .tensor import Tensor, as_array
from .torch_surface import EXTENSIONS, TorchMethods

__all__: list = []  # nothing to import from here: importing it attaches the methods


def _repoint(self: Tensor, result: Tensor) -> Tensor:
    """Make this Tensor object stand for ``result`` (an in-place op done out of place).

    The graph node and, in forward mode, the tangent come along, so ``t[i] = v`` and
    ``t += v`` are differentiated like their out-of-place forms in both modes.
    """
    self._data, self._node, self.requires_grad = (
        result._data, result._node, result.requires_grad)
    level = getattr(result, "_level", 0)
    if level or getattr(self, "_level", 0):
        self._level = level
        self._primal = result._primal if level else None
        self._tangent = result._tangent if level else None
    return self



def _carries_tangent(a, b) -> bool:
    """Whether either operand of an in-place op is a forward-mode dual."""
    return bool(getattr(a, "_level", 0) or getattr(b, "_level", 0))


class _Methods:
    """A holder: everything defined here is copied onto :class:`Tensor` below."""

    def backward(self, gradient=None, retain_graph=None, create_graph=False) -> None:
        """Backpropagate from this tensor, accumulating gradients into leaves' ``.grad``.

        Parameters
        ----------
        gradient : array_like, optional
            d(something)/d(self); required unless ``self`` has one element.
        retain_graph : bool, optional
            Keep saved values for another backward (defaults to ``create_graph``).
        create_graph : bool
            Record the backward pass itself, so the gradients can be differentiated.
        """
        engine.backward((self,), (gradient,), retain_graph, create_graph)

    # --- in-place updates ----------------------------------------------------------------
    def _inplace(self, opname: str, fn, ufunc, other):
        """Shared body of ``t += v`` and friends.

        While recording, the update is done out of place and the tensor is re-pointed at
        the result (the old values the graph saved stay intact). Otherwise the array is
        updated in place — unless a live graph saved it for backward, which is an error
        naming that op.
        """
        if state.forward_level and _carries_tangent(self, other):
            return _repoint(self, fn(self, other))
        other_rg = isinstance(other, Tensor) and other.requires_grad
        if state.grad_enabled and (self.requires_grad or other_rg):
            if self._node is None and self.requires_grad:
                raise RuntimeError(
                    f"in-place {opname} on a leaf tensor that requires grad: do parameter "
                    "updates inside `with gg.no_grad():`"
                )
            return _repoint(self, fn(self, other))
        self._writable_or_raise(opname)
        ufunc(self._data, as_array(other), out=self._data, casting="same_kind")
        return self

    def __iadd__(self, other):
        return self._inplace("add (+=)", ops.add, np.add, other)

    def __isub__(self, other):
        return self._inplace("sub (-=)", ops.sub, np.subtract, other)

    def __imul__(self, other):
        return self._inplace("mul (*=)", ops.mul, np.multiply, other)

    def __itruediv__(self, other):
        return self._inplace("div (/=)", ops.div, np.true_divide, other)

    def __setitem__(self, index, value) -> None:
        if state.forward_level and _carries_tangent(self, value):
            _repoint(self, ops.index_put(self, index, value))
            return
        value_rg = isinstance(value, Tensor) and value.requires_grad
        if state.grad_enabled and (self.requires_grad or value_rg):
            if self._node is None and self.requires_grad:
                raise RuntimeError(
                    "index assignment on a leaf tensor that requires grad: do it inside "
                    "`with gg.no_grad():`, or build a new tensor (gg.where, gg.concatenate)"
                )
            _repoint(self, ops.index_put(self, index, value))
            return
        self._writable_or_raise("index assignment")
        self._data[ops.unwrap_index(index)] = as_array(value)

    # --- operators (each a one-line delegation to an op) -----------------------------------
    def __add__(self, other):
        return apply(ops.add, (self, other))

    def __radd__(self, other):
        return apply(ops.add, (other, self))

    def __sub__(self, other):
        return apply(ops.sub, (self, other))

    def __rsub__(self, other):
        return apply(ops.sub, (other, self))

    def __mul__(self, other):
        return apply(ops.mul, (self, other))

    def __rmul__(self, other):
        return apply(ops.mul, (other, self))

    def __truediv__(self, other):
        return apply(ops.div, (self, other))

    def __rtruediv__(self, other):
        return apply(ops.div, (other, self))

    def __mod__(self, other):
        return apply(ops.mod, (self, other))

    def __rmod__(self, other):
        return apply(ops.mod, (other, self))

    def __pow__(self, other):
        return apply(ops.power, (self, other))

    def __rpow__(self, other):
        return apply(ops.power, (other, self))

    def __matmul__(self, other):
        return apply(ops.matmul, (self, other))

    def __rmatmul__(self, other):
        return apply(ops.matmul, (other, self))

    def __neg__(self):
        return ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.abs(self)

    def __getitem__(self, index):
        return ops.getitem(self, index)

    def __lt__(self, other):
        return ops.less(self, other)

    def __le__(self, other):
        return ops.less_equal(self, other)

    def __gt__(self, other):
        return ops.greater(self, other)

    def __ge__(self, other):
        return ops.greater_equal(self, other)

    def __eq__(self, other):
        return ops.equal(self, other)

    def __ne__(self, other):
        return ops.not_equal(self, other)

    def __and__(self, other):
        return ops.logical_and(self, other)

    def __rand__(self, other):
        return ops.logical_and(other, self)

    def __or__(self, other):
        return ops.logical_or(self, other)

    def __ror__(self, other):
        return ops.logical_or(other, self)

    def __xor__(self, other):
        return ops.logical_xor(self, other)

    def __invert__(self):
        return ops.logical_not(self)

    # --- methods that are not ops (the ops' methods are generated below) ------------------
    def any(self, axis=None, keepdims=False):
        return Tensor._wrap(np.any(self._data, axis=axis, keepdims=keepdims))

    def all(self, axis=None, keepdims=False):
        return Tensor._wrap(np.all(self._data, axis=axis, keepdims=keepdims))

    @property
    def T(self):
        return ops.transpose(self, None)

    @property
    def mT(self):
        return ops.swapaxes(self, -1, -2)

    def sort(self, dim=-1, descending=False, stable=False):
        """PyTorch's ``x.sort()``: ``(values, indices)`` along ``dim`` (always stable).
        ``gg.sort(x)`` / ``np.sort(x)`` give NumPy's values only; NumPy's in-place
        ``ndarray.sort`` has no Tensor counterpart (see README, "For PyTorch users")."""
        return sort_with_indices(self, dim, descending)

    def split(self, split_size_or_sections, dim=0):
        """PyTorch's ``x.split``: pieces of ``split_size`` along ``dim`` (the last one may
        be smaller), or pieces of the given sizes. NumPy's ndarray has no ``split`` method;
        ``gg.split(x, k)`` keeps NumPy's reading (k equal pieces)."""
        n = self.shape[dim]
        if isinstance(split_size_or_sections, (int, np.integer)):
            size = int(split_size_or_sections)
            if size <= 0:
                raise ValueError(f"split: split_size must be positive, got {size}")
            sizes = [size] * (n // size) + ([n % size] if n % size else [])
        else:
            sizes = [int(s) for s in split_size_or_sections]
            if sum(sizes) != n:
                raise ValueError(f"split: sizes {sizes} do not add up to {n}, the length of "
                                 f"dim {dim} (shape {self.shape})")
        lead = (slice(None),) * (dim % self.ndim)
        pieces, start = [], 0
        for s in sizes:
            pieces.append(ops.getitem(self, lead + (slice(start, start + s),)))
            start += s
        return tuple(pieces)

    # --- NumPy dispatch ------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return array_function(func, args, kwargs)




def _method(name: str, public):
    """The Tensor method for a registered op: the op's public function itself when it
    is a plain function (``self`` binds as its first argument: no extra frame), else a
    one-line delegation to the primitive."""
    if not isinstance(public, Primitive):
        return public
    prim = public

    def method(self, *args):
        return apply(prim, (self, *args))

    method.__name__ = name
    method.__doc__ = prim.__doc__
    return method


def _attach() -> None:
    # A class body defining __eq__ gets ``__hash__ = None``: never copy that (tensors
    # must stay hashable, the engine keys dicts by them), nor the holder's own plumbing.
    skip = {"__dict__", "__module__", "__weakref__", "__doc__", "__hash__", "__qualname__"}
    for name, value in vars(_Methods).items():
        if name not in skip:
            setattr(Tensor, name, value)
    for name, public in METHODS.items():
        if name in vars(_Methods):
            raise TypeError(f"Tensor.{name} is both an op method and a hand-written one")
        setattr(Tensor, name, _method(name, public))
    # torch spellings (torch_surface.py) only under names not taken: a torch spelling
    # never replaces a NumPy method
    for name, value in vars(TorchMethods).items():
        if name not in skip and name not in vars(_Methods) and name not in METHODS:
            setattr(Tensor, name, value)
    for name, extend in EXTENSIONS.items():  # NumPy methods that take torch keywords too
        setattr(Tensor, name, extend(getattr(Tensor, name)))
    numpy_dispatch.build()


_attach()
