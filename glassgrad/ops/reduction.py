"""Reductions: sum, mean, max/min, prod, logsumexp, and var/std built from them.

The reduced axes are normalised once by :func:`_axes` in the public wrapper, which also
passes the input's shape: every rule gets ``(axes, keepdims, shape)`` as parameters and
re-inserts the reduced axes with :func:`_keep` before broadcasting back.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..broadcast import expand_to
from ..primitive import OpError, apply, primitive
from ..tensor import Tensor

__all__ = [
    "sum", "mean", "max", "min", "prod", "logsumexp", "var", "std", "argmax", "argmin",
]


# --- the one stable log-sum-exp (logsumexp, softmax, log_softmax, cross_entropy) --------

def max_shift(x, axis):
    """The max of ``x`` over ``axis`` (kept as size 1), 0 where it is not finite or the
    axis is empty: subtracting it keeps every exp in (0, 1] and changes no log-sum-exp."""
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    return np.where(np.isfinite(m), m, 0)


def log_sum_exp_shifted(s, axis):
    """``log(sum(exp(s)))`` over ``axis`` (kept) for max-shifted ``s``; -inf over an empty
    axis (the log of an empty sum), with no warning: that is the answer, not an accident."""
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


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
        if n == 0:  # an empty input: its (empty) gradient, without dividing by 0
            return (expand_to(_keep(g, axes, keepdims, shape) * 0, shape),)
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
        m = max_shift(x, axes)
        s = log_sum_exp_shifted(x - m, axes) + m
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
    if k == 0:  # an empty group: no elements, no gradient entries
        return x * 0
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


def _deviations(x, axes):
    """``(d, scale)`` with ``x - mean(x) = scale * d`` over ``axes``, computed exactly
    enough that identical values give d = 0 and huge finite values do not overflow.

    x is divided by a power of two near its largest magnitude (exact in floating point),
    so |x / scale| <= 1 and no square below can overflow; the first element is subtracted
    before the mean is taken, so a group of equal values has deviations of exactly 0
    (the mean of N copies of 0.1 in float32 is not 0.1, and the rounding error would
    give std a gradient of +-1/N instead of 0).
    """
    if not isinstance(x, np.ndarray):  # Tensors (create_graph): the plain textbook form
        return x - np.mean(x, axis=axes, keepdims=True), 1.0
    if x.size == 0:
        return np.zeros_like(x), np.ones((), x.dtype)
    peak = np.max(np.abs(x), axis=axes, keepdims=True) if x.size else np.ones(())
    peak = np.where(np.isfinite(peak) & (peak > 0), peak, 1)
    # 2**(e-1) <= peak < 2**e; 2**(e-1) itself is representable even for the largest
    # finite peak, and |x / scale| < 2
    scale = np.ldexp(np.ones((), x.dtype), np.frexp(peak)[1] - 1).astype(x.dtype)
    y = x / scale
    first = y[tuple(slice(0, 1) if a in axes else slice(None) for a in range(y.ndim))]
    y = y - first
    return y - np.mean(y, axis=axes, keepdims=True), scale


def _sum_squares(d, axes, keepdims):
    return np.sum(d * d, axis=axes, keepdims=keepdims)


@primitive(save="x out")
class var_:
    """out = sum((x - mean)**2) / (N - ddof);  d out/dx_i = 2 (x_i - mean) / (N - ddof).

    (d/dx_i of the sum of squares is 2 (x_i - mean): the mean's own dependence on x_i
    cancels because the deviations sum to zero.) Computed from scaled deviations (see
    ``_deviations``): exact 0 for equal values, finite wherever the variance is.
    VJP: gx = g * 2 (x - mean) / (N - ddof).
    JVP: t_out = sum(tx * 2 (x - mean)) / (N - ddof).
    """

    def forward(x, axes=None, keepdims=False, shape=None, ddof=0):
        d, scale = _deviations(x, axes)
        n = _count(shape, axes) - ddof
        with np.errstate(invalid="ignore", divide="ignore"):  # n <= 0: NaN, as NumPy
            squares = _sum_squares(d, axes, True) / n
            return _unkeep(squares * scale * scale, axes, keepdims)

    def vjp(g, out, x, axes=None, keepdims=False, shape=None, ddof=0):
        return (_keep(g, axes, keepdims, shape) * _var_slope(x, axes, shape, ddof),)

    def jvp(tx, out, x, axes=None, keepdims=False, shape=None, ddof=0):
        return np.sum(tx * _var_slope(x, axes, shape, ddof), axis=axes, keepdims=keepdims)


def _var_slope(x, axes, shape, ddof):
    d, scale = _deviations(x, axes)
    with np.errstate(divide="ignore", invalid="ignore"):  # no degrees of freedom: NaN
        return d * (scale * np.divide(2.0, _count(shape, axes) - ddof))


def _unkeep(v, axes, keepdims):
    return v if keepdims or not axes else np.squeeze(v, axis=axes)


@primitive(save="x out")
class std_:
    """out = sqrt(sum((x - mean)**2) / (N - ddof));  d out/dx_i = (x_i - mean) / ((N - ddof) out).

    (d/dx_i of the sum of squares is 2 (x_i - mean): the mean's own dependence on x_i
    cancels because the deviations sum to zero.) Where out = 0 every x is equal and the
    gradient is taken as 0, as PyTorch does, instead of 0/0. Computed from scaled
    deviations (see ``_deviations``): exactly 0 for equal values, and finite for huge
    finite inputs (1e20 in float32) whose squares would overflow.
    VJP: gx = g * (x - mean) / ((N - ddof) out), 0 where out = 0.
    JVP: t_out = sum(tx * (x - mean)) / ((N - ddof) out).
    """

    def forward(x, axes=None, keepdims=False, shape=None, ddof=0):
        d, scale = _deviations(x, axes)
        n = _count(shape, axes) - ddof
        with np.errstate(invalid="ignore", divide="ignore"):  # n <= 0: NaN, as NumPy
            return _unkeep(np.sqrt(_sum_squares(d, axes, True) / n) * scale, axes, keepdims)

    def vjp(g, out, x, axes=None, keepdims=False, shape=None, ddof=0):
        return (_keep(g, axes, keepdims, shape) * _std_slope(out, x, axes, keepdims, shape,
                                                            ddof),)

    def jvp(tx, out, x, axes=None, keepdims=False, shape=None, ddof=0):
        slope = _std_slope(out, x, axes, keepdims, shape, ddof)
        return np.sum(tx * slope, axis=axes, keepdims=keepdims)


def _std_slope(out, x, axes, keepdims, shape, ddof):
    """d std / dx: (x - mean) / ((N - ddof) std), with 0 where std is 0.

    With x - mean = scale d and std = scale s, the slope is d / ((N - ddof) s): the
    scale cancels, so huge inputs give finite slopes."""
    d, scale = _deviations(x, axes)
    out_k = _keep(out, axes, keepdims, shape) / scale
    zero = out_k == 0
    return np.where(zero, 0, d / ((_count(shape, axes) - ddof) * np.where(zero, 1, out_k)))


# --- public wrappers -----------------------------------------------------------------------

def _operand(x):
    """A Python number or list as an array (``gg.mean(0.5)``), as NumPy accepts them."""
    return x if hasattr(x, "_data") or isinstance(x, np.ndarray) else np.asarray(x)


def _reduce(prim, name, x, axis, keepdims):
    x = _operand(x)
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

    Stable for huge finite inputs and exactly 0 (gradient 0) for equal values. With no
    degrees of freedom left (N - ddof <= 0) the result is NaN with a RuntimeWarning, as
    NumPy gives.
    """
    return _spread(var_, "var", x, axis, ddof, keepdims)


def std(x, axis=None, ddof=0, keepdims=False):
    """Standard deviation ``sqrt(var(x, axis, ddof))``; gradient 0 where it is 0."""
    return _spread(std_, "std", x, axis, ddof, keepdims)


def _spread(prim, name, x, axis, ddof, keepdims):
    x = _operand(x)
    axes = _axes(name, x, axis)
    shape = np.shape(x._data if hasattr(x, "_data") else x)
    if _count(shape, axes) - ddof <= 0:
        warnings.warn(f"{name}: degrees of freedom <= 0 ({_count(shape, axes)} elements, "
                      f"ddof={ddof}); the result is NaN", RuntimeWarning, stacklevel=3)
    return apply(prim, (x,), (axes, bool(keepdims), shape, ddof))


def _check_nonempty(name, x, axis):
    """max/min over an empty axis has no value (NumPy raises too); a zero-length axis
    that is not reduced is fine: the result is empty along it."""
    shape = np.shape(x._data if hasattr(x, "_data") else x)
    if any(shape[a] == 0 for a in _axes(name, x, axis)):
        raise OpError(f"{name}: the reduced axes of an input of shape {shape} are empty, "
                      f"so it has no {name}imum")


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum (an integer tensor, no gradient)."""
    data = x._data if isinstance(x, Tensor) else np.asarray(x)
    return Tensor._wrap(np.argmax(data, axis=axis, keepdims=keepdims))


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum (an integer tensor, no gradient)."""
    data = x._data if isinstance(x, Tensor) else np.asarray(x)
    return Tensor._wrap(np.argmin(data, axis=axis, keepdims=keepdims))
