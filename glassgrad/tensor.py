"""The Tensor: an ``np.ndarray`` plus its place in the graph.

A Tensor holds ``_data`` (the array), ``_node`` (the :class:`~glassgrad.graph.Node`
that made it, ``None`` for a leaf) and ``requires_grad``. Every array operation is a
one-line delegation to a primitive in ``glassgrad.ops``; the Tensor itself knows no
calculus. It speaks NumPy's dispatch protocols, so ``np.exp(t)`` or ``np.where(m, t, 0)``
record graph nodes like ``gg.exp(t)`` does — that is how the backward rules, written as
plain NumPy, also differentiate themselves for ``create_graph=True``.
"""

from __future__ import annotations

import weakref

import numpy as np

from . import dtypes
from .graph import guarded, saved_by
from .modes import state

__all__ = ["Tensor", "tensor", "as_array"]


def _to_array(data, dtype=None, copy=True) -> np.ndarray:
    """Convert user data to an array: Python floats become the default dtype."""
    if isinstance(data, Tensor):
        data = data._data
    if dtype is not None:
        return np.array(data, dtype=dtype, copy=copy or None)
    if isinstance(data, np.ndarray):
        return data.copy() if copy else data
    if isinstance(data, np.generic):
        return np.array(data)
    arr = np.array(data)
    if arr.dtype == np.float64:  # came from Python floats: use the default float dtype
        arr = arr.astype(dtypes.default_dtype, copy=False)
    elif arr.dtype == object:
        raise TypeError(
            "tensor: could not convert the data to a numeric array "
            f"(got {type(data).__name__}; ragged nested lists are not supported)"
        )
    return arr


def as_array(x):
    """The ndarray behind a Tensor, or ``x`` itself (Python scalars stay scalars)."""
    return x._data if isinstance(x, Tensor) else x


def _check_grad_dtype(dtype, where: str) -> None:
    if not dtypes.is_floating(dtype):
        raise TypeError(
            f"{where}: only floating-point tensors can require gradients, this one is "
            f"{np.dtype(dtype)}; convert it first, e.g. t.astype(np.float32)"
        )


class Tensor:
    """An n-dimensional array that records operations for automatic differentiation.

    Parameters
    ----------
    data : array_like
        Values. Python floats become the default dtype (float32, see
        :func:`glassgrad.set_default_dtype`); NumPy arrays keep their dtype.
    requires_grad : bool
        Whether gradients should be computed for this tensor (a leaf).
    dtype : numpy dtype, optional

    Examples
    --------
    >>> import glassgrad as gg
    >>> x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    # _primal/_tangent/_level are set only on forward-mode dual tensors (see forward.py)
    __slots__ = (
        "_data", "_node", "requires_grad", "_grad", "_hooks", "_primal", "_tangent", "_level",
        "__weakref__",
    )
    # NumPy must hand mixed ndarray/Tensor expressions to us, not loop over us.
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False, dtype=None) -> None:
        arr = _to_array(data, dtype)
        if requires_grad:
            _check_grad_dtype(arr.dtype, "tensor")
        self._data = arr
        self._node = None
        self.requires_grad = bool(requires_grad)

    # --- values ------------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The values as an ``np.ndarray``, outside the graph.

        While a live graph has saved this array for its backward pass, the array is
        read-only: writing into it would silently corrupt the gradients. After
        ``backward()`` (or once the graph is dropped) it is writable again, so
        ``w.data -= lr * w.grad.data`` works as usual.
        """
        return guarded(self._data)

    @data.setter
    def data(self, value) -> None:
        arr = _to_array(value, copy=False)
        if self.requires_grad:
            _check_grad_dtype(arr.dtype, "Tensor.data")
        self._data = arr

    def numpy(self) -> np.ndarray:
        """The values as an ``np.ndarray`` (shared, not copied; see ``data``)."""
        return guarded(self._data)

    def __array__(self, dtype=None, copy=None):
        arr = guarded(self._data)
        if dtype is not None and arr.dtype != dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted to a Python number, "
                f"this one has shape {self.shape}"
            )
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        """Number of elements (NumPy's meaning; an int attribute, not a method)."""
        return self._data.size

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self._data.size} elements is "
                "ambiguous; use .any() or .all()"
            )
        return bool(self._data)

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="tensor(")
        extras = []
        if self._data.dtype not in (dtypes.default_dtype, np.int64, np.bool_):
            extras.append(f"dtype={self._data.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.prim.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # --- graph ---------------------------------------------------------------------------
    @property
    def grad(self):
        """Accumulated gradient (a Tensor) after ``backward``, else ``None``."""
        try:
            return self._grad
        except AttributeError:
            return None

    @grad.setter
    def grad(self, value) -> None:
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(value, dtype=self._data.dtype)
        if value is not None and value.shape != self._data.shape:
            raise ValueError(
                f"assigned grad has shape {value.shape}, the tensor has shape {self.shape}"
            )
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        """True for tensors not made by a recorded op (user-created, or no grad needed)."""
        return self._node is None

    @property
    def grad_fn(self):
        """The node that made this tensor (``None`` for leaves)."""
        return self._node

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place on a leaf; returns ``self``."""
        if self._node is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad_(False) on a non-leaf tensor: use detach() to cut it "
                "from the graph"
            )
        if requires_grad:
            _check_grad_dtype(self._data.dtype, "requires_grad_")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's values, with no graph and no grad."""
        return Tensor._wrap(self._data)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always do)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad on a tensor that does not require grad")
        if self._node is not None:
            self._node._extra().retained = weakref.ref(self)

    def register_hook(self, fn):
        """Call ``fn(grad)`` when this tensor's gradient is computed.

        ``fn`` gets the gradient as a Tensor and may return a replacement, which is
        what flows on (and, for a leaf, what accumulates into ``.grad``). Returns a
        handle whose ``remove()`` unregisters the hook.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook on a tensor that does not require grad")
        if self._node is not None:
            extra = self._node._extra()
            if extra.hooks is None:
                extra.hooks = []
            hooks = extra.hooks
        else:
            try:
                hooks = self._hooks
            except AttributeError:
                hooks = self._hooks = []
        hooks.append(fn)
        return _HookHandle(hooks, fn)

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
        _engine.backward((self,), (gradient,), retain_graph, create_graph)

    @staticmethod
    def _wrap(arr) -> Tensor:
        """A no-grad Tensor around an existing array (no copy)."""
        t = _new(Tensor)
        t._data = arr if type(arr) is np.ndarray else np.asarray(arr)
        t._node = None
        t.requires_grad = False
        return t

    # --- in-place updates ----------------------------------------------------------------
    def _inplace(self, opname: str, fn, ufunc, other):
        """Shared body of ``t += v`` and friends.

        While recording, the update is done out of place and the tensor is re-pointed at
        the result (the old values the graph saved stay intact). Otherwise the array is
        updated in place — unless a live graph saved it for backward, which is an error
        naming that op.
        """
        if state.forward_level and _carries_tangent(self, other):
            return self._repoint(fn(self, other))
        other_rg = isinstance(other, Tensor) and other.requires_grad
        if state.grad_enabled and (self.requires_grad or other_rg):
            if self._node is None and self.requires_grad:
                raise RuntimeError(
                    f"in-place {opname} on a leaf tensor that requires grad: do parameter "
                    "updates inside `with gg.no_grad():`"
                )
            return self._repoint(fn(self, other))
        self._writable_or_raise(opname)
        ufunc(self._data, as_array(other), out=self._data, casting="same_kind")
        return self

    def _repoint(self, result: Tensor) -> Tensor:
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

    def _writable_or_raise(self, opname: str) -> None:
        arr = self._data
        op = saved_by(arr)
        if op is None and arr.flags.writeable:
            return
        if op is not None:
            raise RuntimeError(
                f"in-place {opname} on a tensor of shape {self.shape} that the graph saved "
                f"for the backward of {op}: call backward() first (or drop that graph), "
                "or update a copy"
            )
        raise RuntimeError(f"in-place {opname}: this tensor's array is read-only")

    def __iadd__(self, other):
        return self._inplace("add (+=)", _ops.add, np.add, other)

    def __isub__(self, other):
        return self._inplace("sub (-=)", _ops.sub, np.subtract, other)

    def __imul__(self, other):
        return self._inplace("mul (*=)", _ops.mul, np.multiply, other)

    def __itruediv__(self, other):
        return self._inplace("div (/=)", _ops.div, np.true_divide, other)

    def __setitem__(self, index, value) -> None:
        if state.forward_level and _carries_tangent(self, value):
            self._repoint(_ops.index_put(self, index, value))
            return
        value_rg = isinstance(value, Tensor) and value.requires_grad
        if state.grad_enabled and (self.requires_grad or value_rg):
            if self._node is None and self.requires_grad:
                raise RuntimeError(
                    "index assignment on a leaf tensor that requires grad: do it inside "
                    "`with gg.no_grad():`, or build a new tensor (gg.where, gg.concatenate)"
                )
            self._repoint(_ops.index_put(self, index, value))
            return
        self._writable_or_raise("index assignment")
        self._data[_ops.unwrap_index(index)] = as_array(value)

    def zero_(self) -> Tensor:
        """Set every element to zero in place (outside any graph)."""
        self._writable_or_raise("zero_")
        self._data[...] = 0
        return self

    def fill_(self, value) -> Tensor:
        self._writable_or_raise("fill_")
        self._data[...] = value
        return self

    def copy_(self, src) -> Tensor:
        """Copy ``src``'s values into this tensor in place (outside any graph)."""
        self._writable_or_raise("copy_")
        np.copyto(self._data, as_array(src), casting="same_kind")
        return self

    # --- operators (each a one-line delegation to an op) -----------------------------------
    def __add__(self, other):
        return _apply(_ops.add, (self, other))

    def __radd__(self, other):
        return _apply(_ops.add, (other, self))

    def __sub__(self, other):
        return _apply(_ops.sub, (self, other))

    def __rsub__(self, other):
        return _apply(_ops.sub, (other, self))

    def __mul__(self, other):
        return _apply(_ops.mul, (self, other))

    def __rmul__(self, other):
        return _apply(_ops.mul, (other, self))

    def __truediv__(self, other):
        return _apply(_ops.div, (self, other))

    def __rtruediv__(self, other):
        return _apply(_ops.div, (other, self))

    def __pow__(self, other):
        return _apply(_ops.power, (self, other))

    def __rpow__(self, other):
        return _apply(_ops.power, (other, self))

    def __matmul__(self, other):
        return _apply(_ops.matmul, (self, other))

    def __rmatmul__(self, other):
        return _apply(_ops.matmul, (other, self))

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __lt__(self, other):
        return _ops.less(self, other)

    def __le__(self, other):
        return _ops.less_equal(self, other)

    def __gt__(self, other):
        return _ops.greater(self, other)

    def __ge__(self, other):
        return _ops.greater_equal(self, other)

    def __eq__(self, other):
        return _ops.equal(self, other)

    def __ne__(self, other):
        return _ops.not_equal(self, other)

    def __and__(self, other):
        return _ops.logical_and(self, other)

    def __rand__(self, other):
        return _ops.logical_and(other, self)

    def __or__(self, other):
        return _ops.logical_or(self, other)

    def __ror__(self, other):
        return _ops.logical_or(other, self)

    def __xor__(self, other):
        return _ops.logical_xor(self, other)

    def __invert__(self):
        return _ops.logical_not(self)

    # --- methods (NumPy names and signatures) ---------------------------------------------
    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def log1p(self):
        return _ops.log1p(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def sin(self):
        return _ops.sin(self)

    def cos(self):
        return _ops.cos(self)

    def tanh(self):
        return _ops.tanh(self)

    def sigmoid(self):
        return _ops.sigmoid(self)

    def relu(self):
        return _ops.relu(self)

    def abs(self):
        return _ops.abs(self)

    def sign(self):
        return _ops.sign(self)

    def clip(self, min=None, max=None):  # noqa: A002  (NumPy's names)
        return _ops.clip(self, min, max)

    def maximum(self, other):
        return _ops.maximum(self, other)

    def minimum(self, other):
        return _ops.minimum(self, other)

    def sum(self, axis=None, keepdims=False):
        return _ops.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return _ops.min(self, axis, keepdims)

    def prod(self, axis=None, keepdims=False):
        return _ops.prod(self, axis, keepdims)

    def var(self, axis=None, ddof=0, keepdims=False):
        return _ops.var(self, axis, ddof, keepdims)

    def std(self, axis=None, ddof=0, keepdims=False):
        return _ops.std(self, axis, ddof, keepdims)

    def logsumexp(self, axis=None, keepdims=False):
        return _ops.logsumexp(self, axis, keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _ops.argmax(self, axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _ops.argmin(self, axis, keepdims)

    def any(self, axis=None, keepdims=False):
        return Tensor._wrap(np.any(self._data, axis=axis, keepdims=keepdims))

    def all(self, axis=None, keepdims=False):
        return Tensor._wrap(np.all(self._data, axis=axis, keepdims=keepdims))

    def reshape(self, *shape):
        return _ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes):
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        return _ops.transpose(self, axes or None)

    @property
    def T(self):
        return _ops.transpose(self, None)

    @property
    def mT(self):
        return _ops.swapaxes(self, -1, -2)

    def swapaxes(self, axis1, axis2):
        return _ops.swapaxes(self, axis1, axis2)

    def squeeze(self, axis=None):
        return _ops.squeeze(self, axis)

    def expand_dims(self, axis):
        return _ops.expand_dims(self, axis)

    def broadcast_to(self, shape):
        return _ops.broadcast_to(self, shape)

    def flatten(self):
        return _ops.flatten(self)

    def ravel(self):
        return _ops.flatten(self)

    def astype(self, dtype):
        return _ops.astype(self, dtype)

    def matmul(self, other):
        return _ops.matmul(self, other)

    def dot(self, other):
        return _ops.matmul(self, other)

    # --- NumPy dispatch ------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from .numpy_dispatch import array_ufunc

        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from .numpy_dispatch import array_function

        return array_function(func, args, kwargs)


class _HookHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    __slots__ = ("hooks", "fn")

    def __init__(self, hooks: list, fn) -> None:
        self.hooks = hooks
        self.fn = fn

    def remove(self) -> None:
        try:
            self.hooks.remove(self.fn)
        except ValueError:
            pass


_new = object.__new__


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a leaf Tensor from ``data`` (copied), as ``torch.tensor``.

    Python floats become the default dtype (float32 unless changed with
    :func:`glassgrad.set_default_dtype`); NumPy arrays keep their dtype.

    >>> gg.tensor([1.0, 2.0], requires_grad=True)
    tensor([1., 2.], requires_grad=True)
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _carries_tangent(a, b) -> bool:
    """Whether either operand of an in-place op is a forward-mode dual."""
    return bool(getattr(a, "_level", 0) or getattr(b, "_level", 0))


from . import engine as _engine  # noqa: E402  (the engine imports Tensor from here)
from . import ops as _ops  # noqa: E402  (ops import Tensor from this module)
from .primitive import apply as _apply  # noqa: E402
