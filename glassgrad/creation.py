"""Creating tensors: constants, ranges, identity, and seeded random draws.

All random draws in glassgrad come from one ``np.random.Generator``; ``manual_seed``
replaces it, so a seed makes a whole run reproducible. A :class:`Generator` (PyTorch's
``torch.Generator``) is a private stream: pass it as ``generator=`` to draw from it
instead, leaving the default stream untouched.

Also here: PyTorch's module-level spellings of creation and joining functions
(``from_numpy``, ``as_tensor``, ``linspace``, ``empty``, ``randint``, ``randn_like``,
``rand_like``, ``cat``/``concat``, ``unsqueeze``, ``allclose``).
"""

from __future__ import annotations

import numpy as np

from . import dtypes
from .backend import array_of, asarray
from .modes import state
from .ops import concatenate, expand_dims
from .tensor import Tensor

__all__ = [
    "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "eye", "randn", "rand",
    "manual_seed", "default_generator", "Generator", "randint", "randn_like", "rand_like",
    "empty", "linspace", "from_numpy", "as_tensor", "cat", "concat", "unsqueeze", "allclose",
]

_generator = np.random.default_rng()


def manual_seed(seed: int) -> Generator:
    """Seed every random draw in glassgrad (``randn``, ``rand``, init, dropout, shuffling).

    As ``torch.manual_seed`` it returns the default generator (a :class:`Generator`
    that always reads glassgrad's current default stream).
    """
    global _generator, _default_seed
    _generator = np.random.default_rng(seed)
    _default_seed = int(seed)
    return _DEFAULT


def default_generator() -> np.random.Generator:
    """The generator behind glassgrad's random functions (replaced by ``manual_seed``)."""
    return _generator if state.tracer is None else state.tracer.rng(_generator)


_default_seed = None  # None until manual_seed: the default stream is seeded from entropy


class Generator:
    """A private stream of random numbers, as ``torch.Generator``, backed by a NumPy
    ``np.random.Generator`` (its ``.rng``).

    Pass it as ``generator=`` to ``gg.randn``, ``gg.rand``, ``gg.randint``,
    ``gg.randn_like``, ``gg.rand_like`` or ``DataLoader``: the draws come from it and the
    default stream (``gg.manual_seed``) is not advanced. Two generators with the same
    seed give the same numbers; generators never affect each other. The streams are
    NumPy's (PCG64), so the numbers differ from torch's for the same seed.

    >>> g = gg.Generator().manual_seed(0)
    >>> a = gg.randn(3, generator=g)
    >>> g.initial_seed()
    0
    """

    def __init__(self, device: str = "cpu") -> None:
        if str(device) != "cpu":
            raise ValueError(f"Generator: glassgrad runs on the CPU only, got device={device!r}")
        self._seed = int(np.random.SeedSequence().entropy % (2**63))
        self._rng = np.random.default_rng(self._seed)

    @property
    def rng(self) -> np.random.Generator:
        """The NumPy generator the draws come from."""
        return self._rng

    @property
    def device(self) -> str:
        return "cpu"

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed``; returns ``self`` (as torch)."""
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy and return the new seed (as ``torch.Generator.seed``)."""
        self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))
        return self._seed

    def initial_seed(self) -> int:
        """The seed the stream was last started from."""
        return self._seed

    def __repr__(self) -> str:
        return f"<glassgrad.Generator seed={self._seed}>"


class _DefaultGenerator(Generator):
    """The default stream seen as a :class:`Generator` (what ``manual_seed`` returns)."""

    def __init__(self) -> None:  # no state of its own: it reads the module's stream
        pass

    @property
    def _rng(self):
        return _generator

    def manual_seed(self, seed: int) -> Generator:
        return manual_seed(seed)

    def initial_seed(self) -> int:
        if _default_seed is None:
            raise RuntimeError(
                "initial_seed: the default stream was seeded from entropy; call "
                "gg.manual_seed(n) to know its seed"
            )
        return _default_seed

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy % (2**63))
        manual_seed(s)
        return s

    def __repr__(self) -> str:
        return "<glassgrad default Generator>"


_DEFAULT = _DefaultGenerator()


def _rng_of(generator, where: str) -> np.random.Generator:
    """The NumPy generator behind ``generator=`` (None: glassgrad's default stream).

    Every random draw of glassgrad goes through here (or :func:`default_generator`), so
    ``gg.compile``'s tracer can turn draws into the program's own draws at run time."""
    if generator is None:
        rng = _generator
    elif isinstance(generator, Generator):
        rng = generator._rng
    elif isinstance(generator, np.random.Generator):
        rng = generator
    else:
        rng = None
    if rng is not None:
        return rng if state.tracer is None else state.tracer.rng(rng)
    raise TypeError(
        f"{where}: generator must be a gg.Generator (gg.Generator().manual_seed(0)) or a "
        f"numpy.random.Generator, got {type(generator).__name__}"
    )


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


def randn(*shape, dtype=None, requires_grad=False, generator=None) -> Tensor:
    """Standard normal samples, from glassgrad's seeded generator (or ``generator=``,
    a :class:`Generator`), as ``torch.randn``."""
    arr = _rng_of(generator, "randn").standard_normal(_shape(shape)).astype(_float(dtype))
    return _leaf(arr, requires_grad)


def rand(*shape, dtype=None, requires_grad=False, generator=None) -> Tensor:
    """Uniform samples in ``[0, 1)``, from glassgrad's seeded generator (or
    ``generator=``), as ``torch.rand``."""
    arr = _rng_of(generator, "rand").random(_shape(shape)).astype(_float(dtype))
    return _leaf(arr, requires_grad)


def _like_dtype(t, dtype, where):
    if dtype is None:
        dtype = getattr(t, "dtype", None)
    dt = np.dtype(dtype) if dtype is not None else dtypes.default_dtype
    if dt.kind not in "fc":
        raise TypeError(
            f"{where}: needs a floating dtype, the input is {dt}; pass dtype=gg.float32"
        )
    return dt


def randn_like(t, dtype=None, requires_grad=False, generator=None) -> Tensor:
    """Standard normal samples with the shape (and float dtype, unless given) of ``t``,
    as ``torch.randn_like`` (an integer ``t`` needs ``dtype=``, as in torch)."""
    dt = _like_dtype(t, dtype, "randn_like")
    arr = _rng_of(generator, "randn_like").standard_normal(np.shape(array_of(t)))
    return _leaf(arr.astype(dt), requires_grad)


def rand_like(t, dtype=None, requires_grad=False, generator=None) -> Tensor:
    """Uniform ``[0, 1)`` samples shaped like ``t``, as ``torch.rand_like``."""
    dt = _like_dtype(t, dtype, "rand_like")
    arr = _rng_of(generator, "rand_like").random(np.shape(array_of(t)))
    return _leaf(arr.astype(dt), requires_grad)


def randint(low, high=None, size=None, *, dtype=None, generator=None,
            requires_grad=False) -> Tensor:
    """Random integers in ``[low, high)``, as ``torch.randint``: ``randint(high, size)``
    or ``randint(low, high, size)``; int64 unless ``dtype=`` says otherwise."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError(
                "randint: missing size; call gg.randint(high, size) or "
                "gg.randint(low, high, size), e.g. gg.randint(0, 10, (3,))"
            )
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if isinstance(size, (int, np.integer)):
        size = (int(size),)
    if requires_grad:
        raise RuntimeError("randint: only floating-point tensors can require gradients")
    arr = _rng_of(generator, "randint").integers(int(low), int(high), tuple(size))
    return _leaf(arr.astype(np.dtype(dtype) if dtype is not None else np.int64), False)


def empty(*shape, dtype=None, requires_grad=False) -> Tensor:
    """An uninitialised tensor, as ``torch.empty`` (here its values are zeros: NumPy's
    ``np.empty`` garbage would make runs unreproducible)."""
    return _leaf(np.zeros(_shape(shape), _float(dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive, as
    ``torch.linspace`` (and ``np.linspace(start, end, num)``); the default float dtype."""
    arr = np.linspace(start, end, int(steps)).astype(_float(dtype))
    return _leaf(arr, requires_grad)


def from_numpy(a) -> Tensor:
    """A tensor that *shares* the memory of the NumPy array ``a`` (no copy), as
    ``torch.from_numpy``: writing to one changes the other.

    >>> a = np.zeros(2)
    >>> t = gg.from_numpy(a)
    >>> a[0] = 5.0
    >>> t
    tensor([5., 0.], dtype=float64)
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(
            f"from_numpy: expected np.ndarray, got {type(a).__name__}; use gg.tensor(data) "
            "or gg.as_tensor(data)"
        )
    return Tensor._wrap(a)


def as_tensor(data, dtype=None) -> Tensor:
    """``data`` as a tensor without copying when possible, as ``torch.as_tensor``.

    A Tensor of the asked dtype comes back as itself; an array of the asked dtype is
    shared (as ``from_numpy``); anything else is converted (Python floats become the
    default float dtype).
    """
    if isinstance(data, Tensor):
        if dtype is None or np.dtype(dtype) == data.dtype:
            return data
        return data.astype(dtype)
    if isinstance(data, np.ndarray):
        if dtype is None or np.dtype(dtype) == data.dtype:
            return Tensor._wrap(data)
        return Tensor._wrap(data.astype(dtype))
    return Tensor(data, dtype=dtype)


def cat(tensors, dim=0, *, axis=None) -> Tensor:
    """Join tensors along an existing axis, as ``torch.cat`` (``dim=``) and
    ``gg.concatenate`` (``axis=``); differentiable.

    >>> gg.cat([gg.zeros(1, 2), gg.ones(1, 1)], dim=1).tolist()
    [[0.0, 0.0, 1.0]]
    """
    return concatenate(tensors, axis=dim if axis is None else axis)


def concat(tensors, dim=0, *, axis=None) -> Tensor:
    """Alias of :func:`cat` (``torch.concat``)."""
    return cat(tensors, dim, axis=axis)


def unsqueeze(x, dim) -> Tensor:
    """Insert one axis of length 1 at ``dim``, as ``torch.unsqueeze`` (``gg.expand_dims``
    with one int axis); differentiable.

    >>> gg.unsqueeze(gg.zeros(2, 3), -1).shape
    (2, 3, 1)
    """
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(
            f"unsqueeze: dim must be an int, got {dim!r}; for several axes use "
            "gg.expand_dims(x, axes)"
        )
    ndim = np.ndim(array_of(x))
    if not -ndim - 1 <= dim <= ndim:
        raise IndexError(
            f"unsqueeze: dim {dim} out of range for a tensor of shape "
            f"{np.shape(array_of(x))} (expected -{ndim + 1} <= dim <= {ndim})"
        )
    return expand_dims(x, int(dim))


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """True when ``|a - b| <= atol + rtol * |b|`` everywhere, as ``torch.allclose`` and
    ``np.allclose`` (a Python bool; no graph)."""
    return bool(np.allclose(np.asarray(array_of(a)), np.asarray(array_of(b)), rtol=rtol,
                            atol=atol, equal_nan=equal_nan))
