"""Reductions: sum, mean, max/min, prod, logsumexp, and var/std built from them.

The reduced axes are normalised once by :func:`_axes` in the public wrapper, which also
passes the input's shape: every rule gets ``(axes, keepdims, shape)`` as parameters and
re-inserts the reduced axes with :func:`_keep` before broadcasting back.
"""

from __future__ import annotations

import numpy as np

from ..broadcast import expand_to
from ..primitive import OpError, apply, primitive

__all__ = [
    "sum", "mean", "max", "min", "prod", "logsumexp", "var", "std", "argmax", "argmin",
]


def _axes(name, x, axis):
    """Normalise ``axis`` (None, int or tuple) to a sorted tuple of non-negative ints."""
    ndim = np.ndim(x._data if hasattr(x, "_data") else x)
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    out = []
    for a in axis:
        if not -ndim <= a < ndim:
            raise OpError(f"{name}: axis {a} is out of range for a {ndim}-d input")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise OpError(f"{name}: repeated axis in {axis}")
    return tuple(sorted(out))


def _keep(g, axes, keepdims, shape):
    """Re-insert reduced axes (as size 1) so ``g`` broadcasts against the input."""
    if keepdims or not axes:
        return g
    kshape = tuple(1 if i in axes else n for i, n in enumerate(shape))
    return g.reshape(kshape)


@primitive()
class sum_:
    """out = sum of x over axes;  d out/dx_i = 1 for every summed element.

    VJP: gx = g broadcast back over the summed axes.     JVP: t_out = sum(tx, axes).
    """

    def forward(x, axes=None, keepdims=False, shape=None):
        # np.add.reduce is np.sum without its Python-level wrapper (a few us on tiny arrays)
        return np.add.reduce(x, axis=axes, keepdims=keepdims)

    def vjp(g, out, x, axes=None, keepdims=False, shape=None):
        return (expand_to(_keep(g, axes, keepdims, shape), shape),)

    def jvp(tx, out, x, axes=None, keepdims=False, shape=None):
        return np.sum(tx, axis=axes, keepdims=keepdims)


@primitive()
class mean_:
    """out = sum(x over axes) / N;  d out/dx_i = 1/N.

    VJP: gx = g broadcast back, divided by N.     JVP: t_out = mean(tx, axes).
    """

    def forward(x, axes=None, keepdims=False, shape=None):
        total = np.add.reduce(x, axis=axes, keepdims=keepdims)
        if total.dtype.kind != "f":  # the mean of integers is a float, as in NumPy
            total = total.astype(np.float64)
        return np.true_divide(total, _count(x.shape, axes), dtype=total.dtype)

    def vjp(g, out, x, axes=None, keepdims=False, shape=None):
        n = _count(shape, axes)
        return (expand_to(_keep(g, axes, keepdims, shape) / n, shape),)

    def jvp(tx, out, x, axes=None, keepdims=False, shape=None):
        return np.mean(tx, axis=axes, keepdims=keepdims)


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _argext_share(x, out, axes, keepdims, shape):
    """Where x attains the extreme, each tie's share: [x == out] / (number of ties)."""
    hit = x == _keep(out, axes, keepdims, shape)
    return hit / hit.sum(axis=axes, keepdims=True)


def _extreme_vjp(g, out, x, axes=None, keepdims=False, shape=None):
    """The VJP shared by max and min: the cotangent goes to the extreme(s), split evenly."""
    return (_keep(g, axes, keepdims, shape) * _argext_share(x, out, axes, keepdims, shape),)


def _extreme_jvp(tx, out, x, axes=None, keepdims=False, shape=None):
    """The JVP shared by max and min: the (averaged) tangent of the extreme element(s)."""
    share = _argext_share(x, out, axes, keepdims, shape)
    return np.sum(tx * share, axis=axes, keepdims=keepdims)


@primitive(save="x out")
class max_:
    """out = max of x over axes;  d out/dx_i = 1 at the maximum, 0 elsewhere.

    Ties share the gradient evenly (1/k each for k equal maxima), as ``torch.amax``.
    VJP: gx = g * [x == out] / k.     JVP: t_out = sum(tx * [x == out] / k, axes).
    """

    def forward(x, axes=None, keepdims=False, shape=None):
        return np.max(x, axis=axes, keepdims=keepdims)

    vjp = _extreme_vjp
    jvp = _extreme_jvp


@primitive(save="x out")
class min_:
    """out = min of x over axes;  d out/dx_i = 1 at the minimum, 0 elsewhere (ties split).

    VJP: gx = g * [x == out] / k.     JVP: t_out = sum(tx * [x == out] / k, axes).
    """

    def forward(x, axes=None, keepdims=False, shape=None):
        return np.min(x, axis=axes, keepdims=keepdims)

    vjp = _extreme_vjp
    jvp = _extreme_jvp


@primitive(save="x out")
class logsumexp_:
    """out = log(sum(exp(x) over axes)), computed as m + log(sum(exp(x - m))), m = max x.

    Shifting by the max keeps every exp in (0, 1]: no overflow for large inputs.
    d out/dx_i = exp(x_i) / sum(exp(x)) = exp(x_i - out)   (the softmax).
    VJP: gx = g * exp(x - out).     JVP: t_out = sum(tx * exp(x - out), axes).
    """

    def forward(x, axes=None, keepdims=False, shape=None):
        m = np.max(x, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        s = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
        return s if keepdims else np.squeeze(s, axis=axes)

    def vjp(g, out, x, axes=None, keepdims=False, shape=None):
        softmax = np.exp(x - _keep(out, axes, keepdims, shape))
        return (_keep(g, axes, keepdims, shape) * softmax,)

    def jvp(tx, out, x, axes=None, keepdims=False, shape=None):
        softmax = np.exp(x - _keep(out, axes, keepdims, shape))
        return np.sum(tx * softmax, axis=axes, keepdims=keepdims)


@primitive(save="x")
class prod_:
    """out = product of x over axes;  d out/dx_i = product of all the other x_j.

    Written as "product of the others", not out / x_i, so the gradient is right when
    some x are zero. On arrays the others' product is an exclusive cumulative product
    from the left times one from the right (O(N)); on Tensors (create_graph) it is the
    product of x with x_i replaced by 1, which is differentiable again.
    VJP: gx_i = g * prod_{j != i} x_j.     JVP: t_out = sum_i tx_i * prod_{j != i} x_j.
    """

    def forward(x, axes=None, keepdims=False, shape=None):
        return np.prod(x, axis=axes, keepdims=keepdims)

    def vjp(g, out, x, axes=None, keepdims=False, shape=None):
        return (_keep(g, axes, keepdims, shape) * _prod_others(x, axes),)

    def jvp(tx, out, x, axes=None, keepdims=False, shape=None):
        return np.sum(tx * _prod_others(x, axes), axis=axes, keepdims=keepdims)


def _prod_others(x, axes):
    """For each element, the product of the other elements of its reduction group."""
    ndim = len(x.shape)
    rest = [a for a in range(ndim) if a not in axes]
    order = rest + list(axes)
    moved = np.transpose(x, order)
    lead = moved.shape[: len(rest)]
    k = _count(x.shape, axes)
    flat = moved.reshape(lead + (k,))
    if isinstance(flat, np.ndarray):
        ones = np.ones(lead + (1,), dtype=flat.dtype)
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)
        others = left * right[..., ::-1]
    else:
        # row i of the (k, k) block is x with element i replaced by 1
        eye = np.eye(k, dtype=bool)
        block = np.where(eye, 1, np.expand_dims(flat, -2))
        others = np.prod(block, axis=-1)
    back = np.argsort(order)
    return np.transpose(others.reshape(moved.shape), tuple(back))


@primitive(save="x out")
class std_:
    """out = sqrt(sum((x - mean)**2) / (N - ddof));  d out/dx_i = (x_i - mean) / ((N - ddof) out).

    (d/dx_i of the sum of squares is 2 (x_i - mean): the mean's own dependence on x_i
    cancels because the deviations sum to zero.) Where out = 0 every x is equal and the
    gradient is taken as 0, as PyTorch does, instead of 0/0.
    VJP: gx = g * (x - mean) / ((N - ddof) out), 0 where out = 0.
    JVP: t_out = sum(tx * (x - mean)) / ((N - ddof) out).
    """

    def forward(x, axes=None, keepdims=False, shape=None, ddof=0):
        return np.std(x, axis=axes, ddof=ddof, keepdims=keepdims)

    def vjp(g, out, x, axes=None, keepdims=False, shape=None, ddof=0):
        return (_keep(g, axes, keepdims, shape) * _std_slope(out, x, axes, keepdims, shape,
                                                            ddof),)

    def jvp(tx, out, x, axes=None, keepdims=False, shape=None, ddof=0):
        slope = _std_slope(out, x, axes, keepdims, shape, ddof)
        return np.sum(tx * slope, axis=axes, keepdims=keepdims)


def _std_slope(out, x, axes, keepdims, shape, ddof):
    """d std / dx: (x - mean) / ((N - ddof) std), with 0 where std is 0."""
    out_k = _keep(out, axes, keepdims, shape)
    zero = out_k == 0
    centered = x - np.mean(x, axis=axes, keepdims=True)
    return np.where(zero, 0, centered / ((_count(shape, axes) - ddof) * np.where(zero, 1, out_k)))


# --- public wrappers -----------------------------------------------------------------------

def _reduce(prim, name, x, axis, keepdims):
    axes = _axes(name, x, axis)
    shape = np.shape(x._data if hasattr(x, "_data") else x)
    return apply(prim, (x,), (axes, bool(keepdims), shape))


def sum(x, axis=None, keepdims=False):  # noqa: A001
    """Sum over ``axis`` (None: all; int or tuple), NumPy semantics."""
    return _reduce(sum_, "sum", x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over ``axis``."""
    return _reduce(mean_, "mean", x, axis, keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    """Maximum over ``axis`` (values only, as NumPy); ties share the gradient."""
    _check_nonempty("max", x, axis)
    return _reduce(max_, "max", x, axis, keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    """Minimum over ``axis`` (values only, as NumPy); ties share the gradient."""
    _check_nonempty("min", x, axis)
    return _reduce(min_, "min", x, axis, keepdims)


def prod(x, axis=None, keepdims=False):
    """Product over ``axis``; the gradient is exact even when elements are zero."""
    return _reduce(prod_, "prod", x, axis, keepdims)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, stable for inputs of any finite size."""
    return _reduce(logsumexp_, "logsumexp", x, axis, keepdims)


def var(x, axis=None, ddof=0, keepdims=False):
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's default 0).

    A composite: mean((x - mean(x))**2) * N / (N - ddof); its gradient,
    2 (x - mean) / (N - ddof), comes from the rules of its parts.
    """
    axes = _axes("var", x, axis)
    shape = np.shape(x._data if hasattr(x, "_data") else x)
    n = _count(shape, axes)
    if n - ddof <= 0:
        raise OpError(f"var: {n} elements with ddof={ddof} leave no degrees of freedom")
    centered = x - mean(x, axes, keepdims=True)
    return sum(centered * centered, axes, keepdims) * (1.0 / (n - ddof))


def std(x, axis=None, ddof=0, keepdims=False):
    """Standard deviation ``sqrt(var(x, axis, ddof))``; gradient 0 where it is 0."""
    axes = _axes("std", x, axis)
    shape = np.shape(x._data if hasattr(x, "_data") else x)
    if _count(shape, axes) - ddof <= 0:
        raise OpError(f"std: {_count(shape, axes)} elements with ddof={ddof} leave no "
                      "degrees of freedom")
    return apply(std_, (x,), (axes, bool(keepdims), shape, ddof))


def _check_nonempty(name, x, axis):
    shape = np.shape(x._data if hasattr(x, "_data") else x)
    if 0 in shape:
        raise OpError(f"{name}: zero-size input of shape {shape} has no {name}imum")


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum (an integer tensor, no gradient)."""
    from ..tensor import Tensor

    data = x._data if isinstance(x, Tensor) else np.asarray(x)
    return Tensor._wrap(np.argmax(data, axis=axis, keepdims=keepdims))


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum (an integer tensor, no gradient)."""
    from ..tensor import Tensor

    data = x._data if isinstance(x, Tensor) else np.asarray(x)
    return Tensor._wrap(np.argmin(data, axis=axis, keepdims=keepdims))
