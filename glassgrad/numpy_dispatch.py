"""NumPy's dispatch protocols for Tensor: ``np.exp(t)`` records like ``gg.exp(t)``.

This is what lets the backward rules be written once in plain NumPy: handed arrays they
compute an ordinary backward; handed Tensors (``create_graph=True``) every ``np.*`` call
below lands on a glassgrad op and the backward pass is itself recorded.
"""

from __future__ import annotations

import numpy as np

from . import ops

__all__ = ["array_ufunc", "array_function"]

_UFUNCS = {
    np.add: ops.add, np.subtract: ops.sub, np.multiply: ops.mul, np.true_divide: ops.div,
    np.power: ops.power, np.negative: ops.neg, np.absolute: ops.abs, np.exp: ops.exp,
    np.log: ops.log, np.log1p: ops.log1p, np.sqrt: ops.sqrt, np.sin: ops.sin,
    np.cos: ops.cos, np.tanh: ops.tanh, np.maximum: ops.maximum, np.minimum: ops.minimum,
    np.sign: ops.sign, np.matmul: ops.matmul, np.less: ops.less,
    np.less_equal: ops.less_equal, np.greater: ops.greater,
    np.greater_equal: ops.greater_equal, np.equal: ops.equal, np.not_equal: ops.not_equal,
    np.bitwise_and: ops.logical_and, np.logical_and: ops.logical_and,
    np.bitwise_or: ops.logical_or, np.logical_or: ops.logical_or,
    np.bitwise_xor: ops.logical_xor, np.invert: ops.logical_not,
    np.logical_not: ops.logical_not,
}


def _square(x):
    return ops.mul(x, x)


_UFUNCS[np.square] = _square
_UFUNCS[np.positive] = lambda x: x


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


def _np_sum(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return ops.sum(a, axis, keepdims)


def _np_mean(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return ops.mean(a, axis, keepdims)


def _np_max(a, axis=None, out=None, keepdims=False, **kw):
    return ops.max(a, axis, keepdims)


def _np_min(a, axis=None, out=None, keepdims=False, **kw):
    return ops.min(a, axis, keepdims)


def _np_prod(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return ops.prod(a, axis, keepdims)


def _np_var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    return ops.var(a, axis, ddof, keepdims)


def _np_std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    return ops.std(a, axis, ddof, keepdims)


def _np_where(cond, x=None, y=None):
    if x is None:
        raise TypeError("np.where with one argument is not differentiable; use np.nonzero")
    return ops.where(cond, x, y)


def _np_clip(a, a_min=None, a_max=None, **kw):
    return ops.clip(a, kw.get("min", a_min), kw.get("max", a_max))


def _np_reshape(a, shape=None, *args, **kw):
    return ops.reshape(a, shape if shape is not None else kw.get("newshape"))


def _np_concatenate(xs, axis=0, **kw):
    return ops.concatenate(xs, axis)


def _np_stack(xs, axis=0, **kw):
    return ops.stack(xs, axis)


def _np_zeros_like(a, dtype=None, **kw):
    return ops.mul(a, 0) if dtype is None else ops.astype(ops.mul(a, 0), dtype)


_FUNCTIONS = {
    np.sum: _np_sum, np.mean: _np_mean, np.max: _np_max, np.amax: _np_max,
    np.min: _np_min, np.amin: _np_min, np.prod: _np_prod, np.var: _np_var,
    np.std: _np_std, np.where: _np_where, np.clip: _np_clip, np.reshape: _np_reshape,
    np.transpose: ops.transpose, np.swapaxes: ops.swapaxes, np.squeeze: ops.squeeze,
    np.expand_dims: ops.expand_dims, np.broadcast_to: ops.broadcast_to,
    np.concatenate: _np_concatenate, np.stack: _np_stack, np.pad: ops.pad,
    np.split: ops.split, np.einsum: ops.einsum, np.matmul: ops.matmul,
    np.zeros_like: _np_zeros_like, np.shape: lambda a: a.shape, np.ndim: lambda a: a.ndim,
    np.size: lambda a: a.size, np.result_type: lambda *a: np.result_type(
        *[getattr(x, "_data", x) for x in a]),
    np.isscalar: lambda a: False,
}


def array_function(func, args, kwargs):
    fn = _FUNCTIONS.get(func)
    if fn is None:
        raise TypeError(
            f"np.{func.__name__} is not supported on glassgrad Tensors (no gradient rule); "
            "use a glassgrad op, or call it on t.detach().numpy()"
        )
    return fn(*args, **kwargs)
