"""The array seam (glassgrad/backend.py): a third array type flows through the engine.

``Wrapped`` is a minimal NEP-18 array type, as CuPy's arrays look to NumPy code: it
answers NumPy's ufuncs and array functions with its own type, it has no ``writeable``
flag, and it *refuses* implicit conversion to a NumPy array (``np.asarray`` raises), so
any place in glassgrad that quietly moves data to a host ndarray fails these tests.
"""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import backend


class Wrapped(np.lib.mixins.NDArrayOperatorsMixin):
    """An array type of its own, backed by an ndarray it never hands out implicitly."""

    def __init__(self, a):
        self.a = a if type(a) is np.ndarray else np.array(a)

    shape = property(lambda self: self.a.shape)
    dtype = property(lambda self: self.a.dtype)
    ndim = property(lambda self: self.a.ndim)
    size = property(lambda self: self.a.size)
    T = property(lambda self: Wrapped(self.a.T))

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Wrapped refuses implicit conversion to a NumPy array (like CuPy)")

    @staticmethod
    def _unwrap(v):
        if isinstance(v, Wrapped):
            return v.a
        if isinstance(v, (list, tuple)):
            return type(v)(Wrapped._unwrap(i) for i in v)
        return v

    @staticmethod
    def _wrap(v):
        if type(v) is np.ndarray:
            return Wrapped(v)
        if isinstance(v, tuple):
            return tuple(Wrapped._wrap(i) for i in v)
        if isinstance(v, np.generic):
            return Wrapped(np.asarray(v))
        return v

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if any(isinstance(i, gg.Tensor) for i in inputs):
            return NotImplemented
        if "out" in kwargs:
            kwargs["out"] = tuple(self._unwrap(o) for o in kwargs["out"])
            getattr(ufunc, method)(*self._unwrap(inputs), **kwargs)
            return kwargs["out"][0] if len(kwargs["out"]) == 1 else kwargs["out"]
        return self._wrap(getattr(ufunc, method)(*self._unwrap(inputs), **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        if not all(issubclass(t, (Wrapped, np.ndarray)) for t in types):
            return NotImplemented
        return self._wrap(func(*self._unwrap(args), **self._unwrap(kwargs)))

    def reshape(self, *shape):
        return Wrapped(self.a.reshape(*shape))

    def astype(self, dtype, copy=True):
        return Wrapped(self.a.astype(dtype, copy=copy))

    def copy(self):
        return Wrapped(self.a.copy())

    def sum(self, axis=None, keepdims=False):
        return self._wrap(np.asarray(self.a.sum(axis=axis, keepdims=keepdims)))

    def transpose(self, *axes):
        return Wrapped(self.a.transpose(*axes))

    def __getitem__(self, index):
        return self._wrap(np.asarray(self.a[self._unwrap(index)]))

    def __setitem__(self, index, value):
        self.a[self._unwrap(index)] = self._unwrap(value)

    def __len__(self):
        return len(self.a)

    def __repr__(self):
        return f"Wrapped({self.a!r})"


@pytest.fixture
def wrapped_registered():
    backend.register(Wrapped, writeable_flag=False)
    try:
        yield
    finally:
        backend.RAW_TYPES.discard(Wrapped)
        backend._NO_FLAGS.discard(Wrapped)


def test_the_stand_in_refuses_host_conversion():
    with pytest.raises(TypeError, match="refuses"):
        np.asarray(Wrapped([1.0]))


def test_gradient_keeps_the_array_type(wrapped_registered):
    """Before the seam this silently became a host ndarray."""
    x = gg.tensor(Wrapped(np.array([1.0, 2.0, 3.0])), requires_grad=True)
    (x * 2).sum().backward()
    assert type(x.grad._data) is Wrapped
    np.testing.assert_array_equal(x.grad._data.a, [2.0, 2.0, 2.0])


def test_a_small_network_stays_on_the_array_type(wrapped_registered):
    rng = np.random.default_rng(0)
    xs, ws, bs = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    x = gg.tensor(Wrapped(xs))
    w = gg.tensor(Wrapped(ws), requires_grad=True)
    b = gg.tensor(Wrapped(bs), requires_grad=True)
    loss = (gg.tanh(x @ w + b) ** 2).mean()
    loss.backward()
    assert type(w.grad._data) is Wrapped and type(b.grad._data) is Wrapped
    # the same computation on plain arrays gives the same gradients
    w2 = gg.tensor(ws, requires_grad=True)
    b2 = gg.tensor(bs, requires_grad=True)
    (gg.tanh(gg.tensor(xs) @ w2 + b2) ** 2).mean().backward()
    np.testing.assert_allclose(w.grad._data.a, w2.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad._data.a, b2.grad.numpy(), rtol=1e-12)


def test_gradients_accumulate_in_the_array_type(wrapped_registered):
    x = gg.tensor(Wrapped(np.array([1.0, -1.0])), requires_grad=True)
    for _ in range(2):
        gg.exp(x).sum().backward()
    assert type(x.grad._data) is Wrapped
    np.testing.assert_allclose(x.grad._data.a, 2 * np.exp([1.0, -1.0]))


def test_saved_values_without_flag_reject_in_place_writes_under_no_grad(wrapped_registered):
    x = gg.tensor(Wrapped(np.array([1.0, 2.0])), requires_grad=True)
    y = x * 1.0
    z = (y * y).sum()
    with gg.no_grad(), pytest.raises(RuntimeError, match="mul"):
        y += 1.0
    z.backward()
    np.testing.assert_allclose(x.grad._data.a, [2.0, 4.0])
    with gg.no_grad():
        y += 1.0  # the graph is gone: writing is fine again
    np.testing.assert_allclose(y._data.a, [2.0, 3.0])


def test_unregistered_types_are_converted_as_before():
    t = gg.tensor([1.0, 2.0])
    assert type(t._data) is np.ndarray
    assert backend.is_raw(t._data) and not backend.is_raw([1.0])


def test_zeros_like_and_ones_like_follow_the_array_type(wrapped_registered):
    x = gg.tensor(Wrapped(np.array([[1.0, 2.0]])))
    z, o = gg.zeros_like(x), gg.ones_like(x, dtype=np.float32)
    assert type(z._data) is Wrapped and type(o._data) is Wrapped
    assert z.shape == (1, 2) and o.dtype == np.float32


def test_forward_mode_keeps_the_array_type(wrapped_registered):
    x = gg.tensor(Wrapped(np.array([0.5, 1.5])))
    t = gg.tensor(Wrapped(np.array([1.0, 1.0])))
    _, tangent = gg.func.jvp(lambda v: gg.sin(v) * v, (x,), (t,))
    assert type(tangent._data) is Wrapped
    v = np.array([0.5, 1.5])
    np.testing.assert_allclose(tangent._data.a, np.cos(v) * v + np.sin(v))
