"""The Tensor: an ``np.ndarray`` plus its place in the graph.

A Tensor holds ``_data`` (the array), ``_node`` (the :class:`~glassgrad.graph.Node`
that made it, ``None`` for a leaf) and ``requires_grad``. This module is the data type
only and imports nothing above it. Its operators, NumPy-named methods, in-place updates,
``backward`` and NumPy's dispatch protocols (so ``np.exp(t)`` records a node like
``gg.exp(t)``, which is how the backward rules, plain NumPy, differentiate themselves
for ``create_graph=True``) are one-line delegations to the ops, attached from above
them by :mod:`glassgrad.tensor_methods`.
"""

from __future__ import annotations

import weakref

import numpy as np

from . import dtypes
from .backend import RAW_TYPES, asarray, can_freeze
from .graph import guarded, saved_by, why_read_only

__all__ = ["Tensor", "tensor", "as_array", "zero_grads"]


def _to_array(data, dtype=None, copy=True) -> np.ndarray:
    """Convert user data to an array: Python floats become the default dtype."""
    if isinstance(data, Tensor):
        data = data._data
    if type(data) in RAW_TYPES:  # an array of a registered type keeps its type
        if dtype is not None:
            return data.astype(dtype, copy=copy)
        return data.copy() if copy else data
    if dtype is not None:
        return np.array(data, dtype=dtype, copy=copy or None)
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
        "_post_hooks", "__weakref__",
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
        """Number of elements, an int (NumPy's meaning) that can also be called as
        torch's method: ``t.size()`` is the shape (a :class:`Size`), ``t.size(d)`` one dim."""
        return _SizeAttr(self._data.size, self._data.shape)

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

    def register_post_accumulate_grad_hook(self, fn):
        """Call ``fn(tensor)`` on this leaf as soon as its ``.grad`` is final in a
        backward pass, as PyTorch's hook of the same name: while the rest of the graph is
        still being differentiated (the engine counts the graph's uses of the leaf and
        accumulates its gradient when the last one has been processed). What
        distributed training overlaps its gradient all-reduce with. Returns a handle
        whose ``remove()`` unregisters it."""
        if self._node is not None or not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: only a leaf that "
                               "requires grad has a .grad to accumulate")
        try:
            hooks = self._post_hooks
        except AttributeError:
            hooks = self._post_hooks = []
        hooks.append(fn)
        POST_HOOKED.add(self)
        return _HookHandle(hooks, fn)

    @staticmethod
    def _wrap(arr) -> Tensor:
        """A no-grad Tensor around an existing array (no copy)."""
        t = _new(Tensor)
        t._data = asarray(arr)
        t._node = None
        t.requires_grad = False
        return t

    def _writable_or_raise(self, opname: str) -> None:
        arr = self._data
        op = saved_by(arr)
        if op is None and (not can_freeze(arr) or arr.flags.writeable):
            return
        if op is not None:
            raise RuntimeError(
                f"in-place {opname} on a tensor of shape {self.shape} that the graph saved "
                f"for the backward of {op}: call backward() first (or drop that graph), "
                "or update a copy"
            )
        raise RuntimeError(f"in-place {opname}: this tensor's array is read-only")

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

class Size(tuple):
    """A shape, as ``torch.Size``: a tuple (``t.size()``; ``t.shape`` is a plain tuple)."""

    __slots__ = ()

    def numel(self) -> int:
        """The number of elements of a tensor of this shape (``torch.Size.numel``)."""
        return int(np.prod(self, dtype=np.int64))

    def __repr__(self) -> str:
        return f"gg.Size({list(self)})"


class _SizeAttr(int):
    """``t.size``: the element count as an int (NumPy), callable as torch's ``size()``."""

    def __new__(cls, n, shape):
        self = int.__new__(cls, n)
        self._shape = shape
        return self

    def __call__(self, dim=None):
        """``t.size()``: the shape as a :class:`Size`; ``t.size(d)``: the length of dim
        ``d`` (negative counts from the end), as ``torch.Tensor.size``."""
        if dim is None:
            return Size(self._shape)
        nd = len(self._shape)
        if not -max(nd, 1) <= dim < max(nd, 1) or nd == 0:
            raise IndexError(f"size({dim}): dim out of range for a tensor of shape "
                             f"{self._shape}")
        return self._shape[dim]

    def __reduce__(self):  # pickles and copies as the plain int it is
        return (int, (int(self),))


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

# Leaves with a post-accumulate-grad hook: while there are none (the usual case) the
# backward pass does not count uses of leaves at all.
POST_HOOKED: weakref.WeakSet = weakref.WeakSet()


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a leaf Tensor from ``data`` (copied), as ``torch.tensor``.

    Python floats become the default dtype (float32 unless changed with
    :func:`glassgrad.set_default_dtype`); NumPy arrays keep their dtype.

    >>> gg.tensor([1.0, 2.0], requires_grad=True)
    tensor([1., 2.], requires_grad=True)
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zero_grads(params, set_to_none: bool = True) -> None:
    """Reset the ``.grad`` of each parameter: ``Module.zero_grad`` and
    ``Optimizer.zero_grad`` are both this.

    ``set_to_none=True`` (PyTorch's default) drops the gradient, so a parameter that
    gets none in the next backward is skipped by ``step()``. Otherwise the gradient is
    filled with zeros in place, unless a graph holds it (``create_graph=True``) or its
    array may not be written: then the parameter gets a fresh zero gradient instead.
    """
    for p in params:
        g = p.grad
        if g is None:
            continue
        if set_to_none:
            p.grad = None
        elif g._node is None and not g.requires_grad and why_read_only(g._data) is None:
            g._data[...] = 0
        else:
            p.grad = Tensor._wrap(np.zeros_like(p._data))
