"""PyTorch's spellings of Tensor methods, beside glassgrad's NumPy-named ones.

A PyTorch user writes ``x.view(-1)``, ``x.unsqueeze(1)``, ``x.float()``, ``w.add_(g,
alpha=-lr)`` or ``f"{loss:.3f}"`` without thinking; each works here as in PyTorch
(values, gradients, dtypes, result types). Everything in :class:`TorchMethods` is copied
onto :class:`~glassgrad.tensor.Tensor` by :mod:`glassgrad.tensor_methods`, but only
under names that the NumPy-named methods do not already use: a torch spelling never
replaces a NumPy method (``t.transpose``, ``t.max``, ``t.squeeze`` keep NumPy's meaning).

Every method is built from the existing differentiable ops (reshape, transpose,
broadcast_to, getitem, where, clip, astype, vector_norm), so gradients come for free;
no gradient rule lives here. The in-place ones (``add_``, ``clamp_``, ``zero_``...) go
through the same mechanism as ``t += v``: a leaf that requires grad is refused outside
``gg.no_grad()``, an array a live graph saved is refused, and while recording the
update is done out of place and the tensor re-pointed at the result.

A name that exists nowhere raises an ``AttributeError`` that teaches: the glassgrad
spelling of a torch habit, or the close names (:func:`_missing_attribute`).
"""

from __future__ import annotations

import builtins
import collections
import difflib

import numpy as np

from . import dtypes, ops
from .modes import state
from .ops.indexing import gather_along
from .ops.norms import vector_norm
from .tensor import Tensor, as_array

__all__ = ["TorchMethods", "EXTENSIONS", "topk_result"]

topk_result = collections.namedtuple("topk", ["values", "indices"])
topk_result.__doc__ = "``(values, indices)`` of :meth:`Tensor.topk`, as torch.return_types.topk."

_DEVICES = ("cpu",)
_GPU_HINT = ("glassgrad runs on NumPy arrays (CPU): there is no GPU or device memory; "
             "t.to('cpu') and t.cpu() are accepted and return t itself")


def _norm_dim(dim: int, ndim: int, op: str, extra: int = 0) -> int:
    """``dim`` as a non-negative axis of an ``ndim``-d tensor (torch's range check)."""
    n = ndim + extra
    lo, hi = -builtins.max(n, 1), builtins.max(n, 1) - 1
    if not lo <= dim <= hi:
        raise IndexError(
            f"{op}: dim {dim} is out of range for a {ndim}-d tensor "
            f"(expected a dim in [{lo}, {hi}])"
        )
    return dim % builtins.max(n, 1)


def _sizes(args, op: str) -> tuple:
    """torch's ``*sizes`` argument: several ints, or one tuple/list/Size."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    out = []
    for a in args:
        if isinstance(a, Tensor):
            a = a.item()
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}: sizes must be ints, got {type(a).__name__} ({a!r})")
        out.append(int(a))
    return tuple(out)


def _as_dtype(value):
    """A NumPy dtype for ``value`` if it names one (np.float32, 'float64', gg.float32),
    else None."""
    if isinstance(value, (Tensor, np.ndarray)) or value is None:
        return None
    if isinstance(value, str) and (value in _DEVICES or value.split(":")[0] in
                                   ("cuda", "mps", "xla", "meta", "xpu")):
        return None
    try:
        return np.dtype(value)
    except TypeError:
        return None


def _convert(x: Tensor, dtype) -> Tensor:
    """``x`` in ``dtype``: ``x`` itself when it already is (as torch); differentiable into
    a floating dtype, a plain new tensor (no grad) otherwise, as torch's ``.long()``."""
    dtype = np.dtype(dtype)
    if x._data.dtype == dtype:
        return x
    if dtypes.is_floating(dtype):
        return ops.astype(x, dtype)
    return Tensor._wrap(x._data.astype(dtype))


def _keep_dtype_value(value, dtype):
    """A fill value as a tensor operand: a Tensor stays (differentiable), a number is cast
    to the tensor's dtype (so ``masked_fill`` and ``fill_`` keep the dtype, as torch)."""
    return value if isinstance(value, Tensor) else np.asarray(value, dtype=dtype)


def _cast_to(result, dtype):
    return result if result._data.dtype == dtype else ops.astype(result, dtype)


# NumPy-style in-place kernels for the no-graph path of ``_inplace`` (called as
# ``kernel(self_array, other_array, out=self_array, casting="same_kind")``).
def _unary_kernel(ufunc):
    def kernel(a, b, out, casting):
        ufunc(a, out=out, casting=casting)
    return kernel


def _assign_kernel(a, b, out, casting):
    out[...] = b  # torch's fill_/copy_ convert any dtype (2.7 into an int tensor is 2)


class TorchMethods:
    """A holder: its methods are copied onto :class:`Tensor` (names not already used)."""

    # --- shapes ------------------------------------------------------------------------
    def view(self, *shape):
        """``x`` with a new shape, as ``torch.Tensor.view`` (here the same as ``reshape``:
        NumPy arrays need no contiguity; one entry may be -1)."""
        if len(shape) == 1 and _as_dtype(shape[0]) is not None:
            raise TypeError(
                f"view({shape[0]!r}): glassgrad does not reinterpret a tensor's bytes as "
                "another dtype; to convert the values use t.astype(dtype) (or t.float(), "
                "t.to(dtype)); for the raw bytes use t.numpy().view(dtype)"
            )
        return ops.reshape(self, _sizes(shape, "view"))

    def view_as(self, other):
        """``x`` reshaped to ``other``'s shape, as ``torch.Tensor.view_as``."""
        return ops.reshape(self, tuple(other.shape))

    def reshape_as(self, other):
        """``x`` reshaped to ``other``'s shape, as ``torch.Tensor.reshape_as``."""
        return ops.reshape(self, tuple(other.shape))

    def unsqueeze(self, dim):
        """``x`` with a new axis of length one at ``dim``, as ``torch.Tensor.unsqueeze``
        (NumPy: ``np.expand_dims``); ``dim`` may be in ``[-ndim-1, ndim]``."""
        d = _norm_dim(int(dim), self.ndim, "unsqueeze", extra=1)
        return ops.expand_dims(self, d)

    def permute(self, *dims):
        """``x`` with its axes in the order ``dims``, as ``torch.Tensor.permute``
        (NumPy: ``transpose(*axes)``)."""
        dims = _sizes(dims, "permute")
        if sorted(d % builtins.max(self.ndim, 1) for d in dims) != list(range(self.ndim)):
            raise ValueError(
                f"permute: dims {dims} are not a permutation of the {self.ndim} dims of a "
                f"tensor of shape {self.shape}"
            )
        return ops.transpose(self, dims)

    def t(self):
        """The transpose of a 2-d tensor, as ``torch.Tensor.t`` (0-d and 1-d tensors are
        returned as they are)."""
        if self.ndim < 2:
            return self
        if self.ndim > 2:
            raise ValueError(
                f"t() expects a tensor with <= 2 dims, this one has shape {self.shape}; "
                "use t.mT (the last two axes) or t.transpose(*axes) / t.permute(*dims)"
            )
        return ops.transpose(self, (1, 0))

    def expand(self, *sizes):
        """``x`` broadcast to ``sizes``, as ``torch.Tensor.expand``: -1 keeps a dim, new
        dims may be added in front; a dim of length one is stretched (a read-only view,
        gradients are summed back)."""
        sizes = _sizes(sizes, "expand")
        shape = self.shape
        lead = len(sizes) - len(shape)
        if lead < 0:
            raise ValueError(
                f"expand: the number of sizes {sizes} must be at least the number of dims "
                f"of the tensor ({shape})"
            )
        target = []
        for i, s in enumerate(sizes):
            if s == -1:
                if i < lead:
                    raise ValueError(f"expand: -1 is not allowed for a new leading dim "
                                     f"(sizes {sizes}, tensor shape {shape})")
                s = shape[i - lead]
            elif i >= lead and shape[i - lead] not in (1, s):
                raise ValueError(
                    f"expand: the size of dim {i - lead} ({shape[i - lead]}) must match "
                    f"the expanded size {s} unless it is 1 (tensor shape {shape}, sizes "
                    f"{sizes}); use t.repeat / gg.tile to copy data"
                )
            target.append(s)
        return ops.broadcast_to(self, tuple(target))

    def expand_as(self, other):
        """``x`` broadcast to ``other``'s shape, as ``torch.Tensor.expand_as``."""
        return ops.broadcast_to(self, tuple(other.shape))

    def chunk(self, chunks, dim=0):
        """Split into at most ``chunks`` pieces along ``dim``, as ``torch.Tensor.chunk``:
        each piece has ``ceil(n / chunks)`` entries, the last one fewer (so there may be
        fewer than ``chunks`` pieces). Returns a tuple; gradients flow through indexing."""
        chunks = int(chunks)
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        d = _norm_dim(int(dim), self.ndim, "chunk")
        n = self.shape[d]
        lead = (slice(None),) * d
        if n == 0:  # torch: ``chunks`` empty pieces
            return tuple(ops.getitem(self, lead + (slice(0, 0),)) for _ in range(chunks))
        step = -(-n // chunks)
        return tuple(ops.getitem(self, lead + (slice(a, a + step),)) for a in range(0, n, step))

    def narrow(self, dim, start, length):
        """The ``length`` entries from ``start`` along ``dim``, as ``torch.Tensor.narrow``
        (``start`` may be negative); a differentiable slice."""
        d = _norm_dim(int(dim), self.ndim, "narrow")
        n = self.shape[d]
        start, length = int(start), int(length)
        if start < 0:
            start += n
        if not (0 <= start <= n and 0 <= length and start + length <= n):
            raise IndexError(
                f"narrow: start {start} and length {length} do not fit dim {d} of length "
                f"{n} (shape {self.shape})"
            )
        return ops.getitem(self, (slice(None),) * d + (slice(start, start + length),))

    # --- copies, dtypes, devices -----------------------------------------------------------
    def clone(self):
        """A copy with its own array that stays in the graph, as ``torch.Tensor.clone``
        (the gradient passes through unchanged). ``detach()`` cuts the graph instead."""
        return ops.astype(self, self._data.dtype)

    def contiguous(self):
        """``x`` itself, as ``torch.Tensor.contiguous`` (NumPy arrays need no contiguity
        for any glassgrad op)."""
        return self

    def float(self):
        """``x`` as float32, as ``torch.Tensor.float`` (``astype(np.float32)``)."""
        return _convert(self, np.float32)

    def double(self):
        """``x`` as float64, as ``torch.Tensor.double``."""
        return _convert(self, np.float64)

    def half(self):
        """``x`` as float16, as ``torch.Tensor.half``."""
        return _convert(self, np.float16)

    def long(self):
        """``x`` as int64 (no gradient), as ``torch.Tensor.long``."""
        return _convert(self, np.int64)

    def int(self):
        """``x`` as int32 (no gradient), as ``torch.Tensor.int``."""
        return _convert(self, np.int32)

    def bool(self):
        """``x`` as bool (no gradient), as ``torch.Tensor.bool``."""
        return _convert(self, np.bool_)

    def type_as(self, other):
        """``x`` in ``other``'s dtype, as ``torch.Tensor.type_as``."""
        return _convert(self, other.dtype)

    def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
        """``x`` in another dtype, as ``torch.Tensor.to``: ``to(dtype)``, ``to(other)``
        (other's dtype), ``to("cpu")``, ``to(device, dtype)``. ``x`` itself when nothing
        changes. Devices other than the CPU are refused: glassgrad runs on NumPy."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif _as_dtype(a) is not None:
                dtype = _as_dtype(a)
            else:
                device = a
        if device is not None and str(device) not in _DEVICES:
            raise ValueError(f"to({device!r}): {_GPU_HINT}")
        out = self if dtype is None else _convert(self, dtype)
        return out.clone() if copy and out is self else out

    def cpu(self):
        """``x`` itself, as ``torch.Tensor.cpu`` (glassgrad's arrays live in host memory)."""
        return self

    # --- sizes -----------------------------------------------------------------------------
    def dim(self):
        """The number of dims, as ``torch.Tensor.dim`` (NumPy: ``ndim``)."""
        return self._data.ndim

    def numel(self):
        """The number of elements, as ``torch.Tensor.numel`` (NumPy: ``size``)."""
        return builtins.int(self._data.size)

    def nelement(self):
        """The number of elements, as ``torch.Tensor.nelement`` (NumPy: ``size``)."""
        return builtins.int(self._data.size)

    def element_size(self):
        """Bytes per element, as ``torch.Tensor.element_size`` (NumPy: ``itemsize``)."""
        return self._data.itemsize

    def __format__(self, spec):
        """``f"{loss:.3f}"``: a one-element tensor formats as its Python number (as
        torch's 0-d tensors); any other tensor formats as its repr, with no spec."""
        if self._data.size == 1:
            return format(self._data.item(), spec)
        if not spec:
            return str(self)
        raise TypeError(
            f"format spec {spec!r} given for a tensor of shape {self.shape}: only "
            "one-element tensors format as numbers; format t.item() or t.tolist() "
            "elements instead"
        )

    # --- selections and masks ------------------------------------------------------------
    def masked_fill(self, mask, value):
        """``x`` with ``value`` where ``mask`` is true, as ``torch.Tensor.masked_fill``
        (``gg.where(mask, value, x)`` in ``x``'s dtype); the gradient is 0 where filled
        (and flows into ``value`` if it is a tensor)."""
        m = as_array(mask)
        if np.asarray(m).dtype != np.bool_:
            raise TypeError(f"masked_fill: the mask must be bool, got {np.asarray(m).dtype}")
        out = ops.where(mask, _keep_dtype_value(value, self._data.dtype), self)
        if out.shape != self.shape:
            raise ValueError(f"masked_fill: mask of shape {np.shape(m)} does not broadcast "
                             f"to the tensor's shape {self.shape}")
        return _cast_to(out, self._data.dtype)

    def clamp(self, min=None, max=None):
        """``x`` limited to ``[min, max]``, as ``torch.clamp`` (the same as ``clip``:
        inclusive bounds, differentiable in tensor bounds)."""
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        return ops.clip(self, min, max)

    def norm(self, p=2, dim=None, keepdim=False, dtype=None):
        """The vector ``p``-norm over ``dim`` (all elements when None), as
        ``torch.Tensor.norm`` (``gg.linalg.vector_norm(x, ord=p, axis=dim,
        keepdims=keepdim)``); ``p="fro"`` is 2."""
        if p == "fro" or p is None:
            p = 2
        if isinstance(p, str):
            raise ValueError(f"norm: p={p!r} is not a vector norm; use "
                             "gg.linalg.matrix_norm for 'nuc'")
        x = self if dtype is None else _convert(self, dtype)
        axis = tuple(dim) if isinstance(dim, list) else dim
        return vector_norm(x, p, axis, keepdim)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The ``k`` largest (or smallest) entries along ``dim`` and their indices, as
        ``torch.Tensor.topk``: a named tuple ``(values, indices)``; the values are
        differentiable (gathered by indexing), the indices int64."""
        x = self._data
        if x.ndim == 0:
            x = x.reshape(1)
        d = _norm_dim(int(dim), self.ndim, "topk")
        k = builtins.int(k)
        if not 0 <= k <= x.shape[d]:
            raise ValueError(f"topk: k={k} is out of range for dim {d} of length "
                             f"{x.shape[d]} (shape {self.shape})")
        order = np.argsort(x, axis=d, kind="stable")
        if largest:
            order = np.flip(order, axis=d)
        idx = np.take(order, np.arange(k), axis=d).astype(np.int64)
        src = self if self.ndim else ops.reshape(self, (1,))
        values = gather_along(src, idx, d)
        if self.ndim == 0:
            values, idx = ops.reshape(values, ()), idx.reshape(())
        return topk_result(values, Tensor._wrap(idx))

    def argsort(self, dim=-1, descending=False, stable=False, axis=None):
        """Indices that sort ``x`` along ``dim`` (int64, no gradient), as
        ``torch.Tensor.argsort`` (``np.argsort``; ``axis=`` is accepted too)."""
        d = dim if axis is None else axis
        x = self._data
        if x.ndim == 0:
            return Tensor._wrap(np.zeros((), np.int64))
        if descending:
            out = np.flip(np.argsort(np.flip(x, axis=d), axis=d, kind="stable"), axis=d)
            out = x.shape[d] - 1 - out
        else:
            out = np.argsort(x, axis=d, kind="stable")
        return Tensor._wrap(out.astype(np.int64))

    def nonzero(self, as_tuple=False):
        """Indices of the non-zero entries, as ``torch.Tensor.nonzero``: an ``(n, ndim)``
        int64 tensor (``np.argwhere``), or with ``as_tuple=True`` one 1-d tensor per dim
        (NumPy's ``nonzero``)."""
        if as_tuple:
            return tuple(Tensor._wrap(i.astype(np.int64))
                         for i in np.nonzero(np.atleast_1d(self._data)))
        return Tensor._wrap(np.argwhere(self._data).astype(np.int64))

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """Whether all entries are close to ``other``'s, as ``torch.allclose`` (a Python
        bool; ``np.allclose``)."""
        return builtins.bool(np.allclose(self._data, as_array(other), rtol=rtol, atol=atol,
                                         equal_nan=equal_nan))

    def equal(self, other):
        """Whether ``other`` has the same shape and values, as ``torch.equal`` (a Python
        bool; the elementwise comparison is ``gg.equal`` / ``==``)."""
        o = np.asarray(as_array(other))
        return builtins.bool(self._data.shape == o.shape and np.array_equal(self._data, o))

    # --- in-place updates (the mechanism of ``t += v``) -------------------------------------
    def _torch_inplace(self, opname, fn, kernel, other=None):
        """``_inplace`` with a saved array named before the leaf rule (an update of a
        parameter that a live graph saved says which op saved it)."""
        if (state.grad_enabled and self._node is None and self.requires_grad
                and not state.forward_level):
            self._writable_or_raise(opname)
        return self._inplace(opname, fn, kernel, other)

    def add_(self, other, alpha=1):
        """``x += alpha * other`` in place, as ``torch.Tensor.add_``."""
        if alpha != 1:
            other = other * alpha
        return self._torch_inplace("add_", ops.add, np.add, other)

    def sub_(self, other, alpha=1):
        """``x -= alpha * other`` in place, as ``torch.Tensor.sub_``."""
        if alpha != 1:
            other = other * alpha
        return self._torch_inplace("sub_", ops.sub, np.subtract, other)

    def mul_(self, other):
        """``x *= other`` in place, as ``torch.Tensor.mul_``."""
        return self._torch_inplace("mul_", ops.mul, np.multiply, other)

    def div_(self, other):
        """``x /= other`` in place, as ``torch.Tensor.div_``."""
        return self._torch_inplace("div_", ops.div, np.true_divide, other)

    def pow_(self, exponent):
        """``x **= exponent`` in place, as ``torch.Tensor.pow_``."""
        return self._torch_inplace("pow_", ops.power, np.power, exponent)

    def neg_(self):
        """``x = -x`` in place, as ``torch.Tensor.neg_``."""
        return self._torch_inplace("neg_", lambda s, _: ops.neg(s), _unary_kernel(np.negative))

    def abs_(self):
        """``x = |x|`` in place, as ``torch.Tensor.abs_``."""
        return self._torch_inplace("abs_", lambda s, _: ops.abs(s), _unary_kernel(np.abs))

    def exp_(self):
        """``x = exp(x)`` in place, as ``torch.Tensor.exp_``."""
        return self._torch_inplace("exp_", lambda s, _: ops.exp(s), _unary_kernel(np.exp))

    def clamp_(self, min=None, max=None):
        """``x`` limited to ``[min, max]`` in place, as ``torch.Tensor.clamp_``."""
        if min is None and max is None:
            raise ValueError("clamp_: at least one of min and max must be given")

        def kernel(a, b, out, casting):
            np.clip(a, as_array(min), as_array(max), out=out, casting=casting)

        return self._torch_inplace("clamp_", lambda s, _: ops.clip(s, min, max), kernel)

    def _overwrite(self, opname, value):
        """Replace every value by ``value`` (broadcast, in ``x``'s dtype): in place, or,
        while recording, re-pointed at ``where(False, x, value)`` so the old values get a
        zero gradient and a tensor ``value`` its own."""
        dtype = self._data.dtype

        def fn(s, v):
            keep = np.zeros(s.shape, dtype=np.bool_)
            return _cast_to(ops.where(keep, s, _keep_dtype_value(v, dtype)), dtype)

        return self._torch_inplace(opname, fn, _assign_kernel, value)

    def zero_(self):
        """Set every element to zero in place, as ``torch.Tensor.zero_``."""
        return self._overwrite("zero_", 0)

    def fill_(self, value):
        """Set every element to ``value`` in place, as ``torch.Tensor.fill_``."""
        return self._overwrite("fill_", value)

    def copy_(self, src):
        """Copy ``src``'s values (broadcast, converted to ``x``'s dtype) into ``x`` in
        place, as ``torch.Tensor.copy_``; while recording the gradient flows into a
        tensor ``src``."""
        shape = np.broadcast_shapes(np.shape(as_array(src)), self.shape)
        if shape != self.shape:
            raise ValueError(f"copy_: source of shape {np.shape(as_array(src))} does not "
                             f"broadcast to the tensor's shape {self.shape}")
        return self._overwrite("copy_", src)

    # --- errors that teach -----------------------------------------------------------------
    def __getattr__(self, name):
        """Only reached when ordinary lookup fails: an AttributeError naming the glassgrad
        spelling of a torch habit, or the close names. Private names fail at once (the
        engine probes optional slots with ``getattr(t, name, default)``)."""
        if name[:1] == "_":
            raise AttributeError(name)
        raise AttributeError(_missing_attribute(name))


_NOT_GIVEN = object()


def _extend_squeeze(numpy_squeeze):
    def squeeze(self, axis=None, *, dim=_NOT_GIVEN):
        """Remove axes of length one. NumPy's ``squeeze(axis)`` (an axis that is not of
        length one is an error), or with the ``dim=`` keyword torch's: a dim (or tuple of
        dims) that is not of length one is left as it is."""
        if dim is _NOT_GIVEN:
            return numpy_squeeze(self, axis)
        if axis is not None:
            raise TypeError("squeeze: give axis= (NumPy) or dim= (PyTorch), not both")
        dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
        nd = self.ndim
        dims = {_norm_dim(int(d), nd, "squeeze") for d in dims}
        shape = self.shape
        new = tuple(n for i, n in enumerate(shape) if not (i in dims and n == 1))
        return self if new == shape else ops.reshape(self, new)

    return squeeze


def _extend_reduction(numpy_method, name):
    def method(self, axis=None, keepdims=False, *, dim=_NOT_GIVEN, keepdim=_NOT_GIVEN):
        if dim is not _NOT_GIVEN:
            if axis is not None:
                raise TypeError(f"{name}: give axis= (NumPy) or dim= (PyTorch), not both")
            axis = tuple(dim) if isinstance(dim, list) else dim
        if keepdim is not _NOT_GIVEN:
            keepdims = keepdim
        return numpy_method(self, axis, keepdims)

    method.__name__ = name
    method.__doc__ = (f"Whether {'any' if name == 'any' else 'every'} element is true "
                      f"(over ``axis``), as ``np.{name}``; torch's ``dim=``/``keepdim=`` "
                      "are accepted too (a bool tensor, no gradient).")
    return method


def _unless_it_takes_dim(extend):
    """``extend``, unless the method already takes ``dim=`` itself (then it is kept)."""
    def maybe(method):
        code = getattr(method, "__code__", None)
        if code is not None and "dim" in code.co_varnames[:code.co_argcount
                                                          + code.co_kwonlyargcount]:
            return method
        return extend(method)
    return maybe


EXTENSIONS = {
    "squeeze": _unless_it_takes_dim(_extend_squeeze),
    "any": _unless_it_takes_dim(lambda m: _extend_reduction(m, "any")),
    "all": _unless_it_takes_dim(lambda m: _extend_reduction(m, "all")),
}
"""NumPy methods that also take torch's keywords: name -> wrapper of the NumPy method
(the NumPy call is unchanged; only the torch keyword takes torch's meaning)."""


_GPU_NAMES = ("cuda", "is_cuda", "data_ptr", "pin_memory", "share_memory_", "storage",
              "untyped_storage", "get_device", "is_pinned", "device", "mps", "xpu")

_HINTS = {
    "detach_": "glassgrad has no in-place detach; write t = t.detach()",
    "sort": "there is no t.sort() (NumPy's sorts in place, torch's returns a pair): use "
            "gg.sort(t, axis) for the values and t.argsort(dim) for the indices",
    "repeat_interleave": "NumPy's t.repeat(n, axis) repeats each element (torch's "
                         "repeat_interleave); gg.tile(t, reps) tiles",
    "unbind": "use tuple(t) (along dim 0) or [t[:, i] for i in range(t.shape[1])]",
    "gather": "use advanced indexing, e.g. t[np.arange(n)[:, None], idx]",
    "scatter_": "build the result with indexing or gg.where; t[idx] = v records too",
    "scatter_add_": "t[idx] += v under gg.no_grad(), or gg.index_put",
    "index_select": "use indexing: t[idx] (dim 0) or t[:, idx]",
    "masked_select": "use boolean indexing: t[mask]",
    "softmax": "use gg.nn.functional.softmax(t, axis)",
    "log_softmax": "use gg.nn.functional.log_softmax(t, axis)",
    "mm": "use t @ u (gg.matmul)",
    "bmm": "use t @ u (gg.matmul batches over leading dims)",
    "add": "use t + u", "sub": "use t - u", "mul": "use t * u", "div": "use t / u",
    "pow": "use t ** p", "neg": "use -t",
    "type": "use t.dtype to read the dtype and t.astype(dtype) / t.to(dtype) to convert",
    "ndimension": "use t.dim() or t.ndim",
    "is_contiguous": "NumPy arrays need no contiguity here; t.contiguous() returns t",
    "new_zeros": "use gg.zeros(shape, dtype=t.dtype)",
    "new_ones": "use gg.ones(shape, dtype=t.dtype)",
    "new_full": "use gg.full(shape, value, dtype=t.dtype)",
    "new_tensor": "use gg.tensor(data, dtype=t.dtype)",
    "new_empty": "use gg.zeros(shape, dtype=t.dtype)",
    "normal_": "assign new values under gg.no_grad(): t.data[...] = rng.normal(size=t.shape)",
    "uniform_": "assign new values under gg.no_grad(): t.data[...] = rng.uniform(a, b, t.shape)",
    "numpy_": "use t.numpy()",
    "grad_fn_": "use t.grad_fn",
}


def _missing_attribute(name: str) -> str:
    """The message of the AttributeError for ``Tensor.<name>``."""
    msg = f"'Tensor' object has no attribute {name!r}"
    if name in _GPU_NAMES:
        return f"{msg}; {_GPU_HINT}"
    if name in _HINTS:
        return f"{msg}; {_HINTS[name]}"
    close = difflib.get_close_matches(name, [n for n in dir(Tensor) if n[:1] != "_"], n=3)
    if close:
        return f"{msg}; did you mean " + " or ".join(f"t.{c}" for c in close) + "?"
    return msg
