"""Reductions: sum, mean, max/min, prod, logsumexp, var/std.

The reduced axes are normalised once by :func:`_axes` in the public wrapper, which also
passes the input's shape: every rule gets ``(axes, keepdims, shape)`` as parameters and
re-inserts the reduced axes with :func:`_keep` before broadcasting back.
"""

from __future__ import annotations

import math
import warnings
from collections import namedtuple

import numpy as np

from ..backend import NDARRAY, branch_on, operand, shape_of
from ..broadcast import expand_to
from ..primitive import LINEAR, OpError, apply, op, primitive
from ..tensor import Tensor

MaxResult = namedtuple("max", "values indices")
MinResult = namedtuple("min", "values indices")
"""PyTorch's result of ``x.max(dim=d)`` / ``x.min(dim=d)``: values and their indices."""

__all__ = [
    "sum", "mean", "max", "min", "prod", "logsumexp", "var", "std", "argmax", "argmin",
]


# --- the one stable log-sum-exp (logsumexp, softmax, log_softmax, cross_entropy) --------

def max_shift(x, axis):
    """The max of ``x`` over ``axis`` (kept as size 1), 0 where it is not finite or the
    axis is empty: subtracting it keeps every exp in (0, 1] and changes no log-sum-exp."""
    if x.size == 0:  # np.max of an empty axis has no value (and -inf is no integer)
        return np.zeros_like(np.add.reduce(x, axis=axis, keepdims=True))
    m = np.max(x, axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0)


def log_sum_exp_shifted(s, axis):
    """``log(sum(exp(s)))`` over ``axis`` (kept) for max-shifted ``s``; -inf over an empty
    axis (the log of an empty sum), with no warning: that is the answer, not an accident."""
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def _axes(name, x, axis):
    """Normalise ``axis`` (None, int or tuple) to a sorted tuple of non-negative ints."""
    ndim = len(shape_of(x))
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


def torch_dim(name, axis, keepdims, dim, keepdim):
    """``(axis, keepdims)`` from NumPy's names or PyTorch's (``dim=``, ``keepdim=``).

    Every op that takes ``axis=`` takes ``dim=`` too, as a PyTorch user writes it; giving
    both is an error rather than a silent choice.
    """
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{name}: give axis= (NumPy's name) or dim= (PyTorch's), not both")
        axis = tuple(dim) if isinstance(dim, list) else dim
    if keepdim is not None:
        keepdims = keepdim
    return axis, keepdims


def _keep(g, axes, keepdims, shape):
    """Re-insert reduced axes (as size 1) so ``g`` broadcasts against the input."""
    if keepdims or not axes:
        return g
    kshape = tuple(1 if i in axes else n for i, n in enumerate(shape))
    return g.reshape(kshape)


@primitive(params="axes keepdims shape", jvp=LINEAR, numpy=np.sum, method=True)
class sum:
    """out = sum of x over axes;  d out/dx_i = 1 for every summed element.

    VJP: gx = g broadcast back over the summed axes.     JVP: t_out = sum(tx, axes).
    """

    def call(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Sum over ``axis`` (None: all; int or tuple), NumPy semantics."""
        axis, keepdims = torch_dim("sum", axis, keepdims, dim, keepdim)
        return _reduce(sum, "sum", x, axis, keepdims)

    def forward(x, axes, keepdims, shape):
        # np.add.reduce is np.sum without its Python-level wrapper (a few us on tiny arrays)
        return np.add.reduce(x, axis=axes, keepdims=keepdims)

    def vjp_x(g, out, x, axes, keepdims, shape):
        return expand_to(_keep(g, axes, keepdims, shape), shape)



@primitive(params="axes keepdims shape", jvp=LINEAR, numpy=np.mean, method=True)
class mean:
    """out = sum(x over axes) / N;  d out/dx_i = 1/N.

    VJP: gx = g broadcast back, divided by N.     JVP: t_out = mean(tx, axes).
    """

    def call(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Arithmetic mean over ``axis``."""
        axis, keepdims = torch_dim("mean", axis, keepdims, dim, keepdim)
        return _reduce(mean, "mean", x, axis, keepdims)

    def forward(x, axes, keepdims, shape):
        total = np.add.reduce(x, axis=axes, keepdims=keepdims)
        if total.dtype.kind != "f":  # the mean of integers is a float, as in NumPy
            total = total.astype(np.float64)
        return np.true_divide(total, reduced_size(x.shape, axes), dtype=total.dtype)

    def vjp_x(g, out, x, axes, keepdims, shape):
        n = reduced_size(shape, axes)
        if n == 0:  # an empty input: its (empty) gradient, without dividing by 0
            return expand_to(_keep(g, axes, keepdims, shape) * 0, shape)
        return expand_to(_keep(g, axes, keepdims, shape) / n, shape)



def reduced_size(shape, axes) -> int:
    """The number of elements in each group a reduction over ``axes`` combines."""
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _argext_share(x, out, axes, keepdims, shape):
    """Where x attains the extreme, each tie's share: [x == out] / (number of ties)."""
    hit = x == _keep(out, axes, keepdims, shape)
    return hit / hit.sum(axis=axes, keepdims=True)


def _extreme_vjp(g, out, x, axes, keepdims, shape):
    """The VJP shared by max and min: the cotangent goes to the extreme(s), split evenly."""
    return _keep(g, axes, keepdims, shape) * _argext_share(x, out, axes, keepdims, shape)


def _extreme_jvp(tx, out, x, axes, keepdims, shape):
    """The JVP shared by max and min: the (averaged) tangent of the extreme element(s)."""
    share = _argext_share(x, out, axes, keepdims, shape)
    return np.sum(tx * share, axis=axes, keepdims=keepdims)


@primitive(save="x out", quiet=True, params="axes keepdims shape",
           numpy=(np.max, np.amax), method=True)
class max:
    """out = max of x over axes;  d out/dx_i = 1 at the maximum, 0 elsewhere.

    Ties share the gradient evenly (1/k each for k equal maxima), as ``torch.amax``.
    VJP: gx = g * [x == out] / k.     JVP: t_out = sum(tx * [x == out] / k, axes).
    """

    def call(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Maximum over ``axis`` (values only, as NumPy); ties share the gradient.

        With PyTorch's ``dim=`` keyword the result is PyTorch's: a named tuple
        ``(values, indices)`` (``x.max(dim=1).indices``); positional or ``axis=`` gives
        NumPy's values only (see README, "For PyTorch users").
        """
        return _extreme(max, argmax, MaxResult, x, axis, keepdims, dim, keepdim)

    def forward(x, axes, keepdims, shape):
        return np.max(x, axis=axes, keepdims=keepdims)

    vjp_x = _extreme_vjp
    jvp_x = _extreme_jvp


@primitive(save="x out", quiet=True, params="axes keepdims shape",
           numpy=(np.min, np.amin), method=True)
class min:
    """out = min of x over axes;  d out/dx_i = 1 at the minimum, 0 elsewhere (ties split).

    VJP: gx = g * [x == out] / k.     JVP: t_out = sum(tx * [x == out] / k, axes).
    """

    def call(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Minimum over ``axis`` (values only, as NumPy); ties share the gradient.

        With PyTorch's ``dim=`` keyword the result is PyTorch's: a named tuple
        ``(values, indices)`` (``x.min(dim=1).indices``); positional or ``axis=`` gives
        NumPy's values only (see README, "For PyTorch users").
        """
        return _extreme(min, argmin, MinResult, x, axis, keepdims, dim, keepdim)

    def forward(x, axes, keepdims, shape):
        return np.min(x, axis=axes, keepdims=keepdims)

    vjp_x = _extreme_vjp
    jvp_x = _extreme_jvp


@primitive(save="x out", quiet=True, params="axes keepdims shape", method=True)
class logsumexp:
    """out = log(sum(exp(x) over axes)), computed as m + log(sum(exp(x - m))), m = max x.

    Shifting by the max keeps every exp in (0, 1]: no overflow for large inputs.
    d out/dx_i = exp(x_i) / sum(exp(x)) = exp(x_i - out)   (the softmax), evaluated
    from the shifted x as well (see ``_softmax``).
    VJP: gx = g * softmax(x).     JVP: t_out = sum(tx * softmax(x), axes).
    """

    def call(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """``log(sum(exp(x)))`` over ``axis``, stable for inputs of any finite size."""
        axis, keepdims = torch_dim("logsumexp", axis, keepdims, dim, keepdim)
        return _reduce(logsumexp, "logsumexp", x, axis, keepdims)

    def forward(x, axes, keepdims, shape):
        m = max_shift(x, axes)
        s = log_sum_exp_shifted(x - m, axes) + m
        return s if keepdims else np.squeeze(s, axis=axes)

    def vjp_x(g, out, x, axes, keepdims, shape):
        return _keep(g, axes, keepdims, shape) * _softmax(x, out, axes, keepdims, shape)

    def jvp_x(tx, out, x, axes, keepdims, shape):
        return np.sum(tx * _softmax(x, out, axes, keepdims, shape), axis=axes,
                      keepdims=keepdims)


def _softmax(x, out, axes, keepdims, shape):
    """exp(x - logsumexp(x)) over ``axes``, exact however large x is.

    exp(x - out) is off by the rounding error of out = logsumexp(x), about |out| eps:
    fine while |out| is small (the common case, two passes), but for float32 logits
    [1e8, 1e8, 0] x - out is 0 instead of -log 2 (a softmax of [1, 1, 0]). So beyond
    |out| = 16 it is computed from s = x - max x (a constant), where only s and
    logsumexp(s), which lies in [0, log N], meet. On Tensors (create_graph) it is always
    the shifted form, written with differentiable ops.
    """
    if not isinstance(x, Tensor):
        out_k = _keep(out, axes, keepdims, shape)
        if branch_on(np.all(np.abs(out_k) <= 16)):  # False for NaN: the general form
            return np.exp(x - out_k)
        s = x - max_shift(x, axes)
        e = np.exp(s)  # in [0, 1], and 1 at the max: the sum is at least 1
        return e / np.add.reduce(e, axis=axes, keepdims=True)
    s = x - max_shift(x._data, axes)
    return np.exp(s - logsumexp(s, axes, keepdims=True))


@primitive(save="x", quiet=True, params="axes keepdims shape", numpy=np.prod, method=True)
class prod:
    """out = product of x over axes;  d out/dx_i = product of all the other x_j.

    Written as "product of the others", not out / x_i, so the gradient is right when
    some x are zero. On arrays the others' product is an exclusive cumulative product
    from the left times one from the right (O(N)); on Tensors (create_graph) it is the
    product of x with x_i replaced by 1, which is differentiable again.
    VJP: gx_i = g * prod_{j != i} x_j.     JVP: t_out = sum_i tx_i * prod_{j != i} x_j.
    """

    def call(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Product over ``axis``; the gradient is exact even when elements are zero."""
        axis, keepdims = torch_dim("prod", axis, keepdims, dim, keepdim)
        return _reduce(prod, "prod", x, axis, keepdims)

    def forward(x, axes, keepdims, shape):
        return np.prod(x, axis=axes, keepdims=keepdims)

    def vjp_x(g, out, x, axes, keepdims, shape):
        return _keep(g, axes, keepdims, shape) * _prod_others(x, axes)

    def jvp_x(tx, out, x, axes, keepdims, shape):
        return np.sum(tx * _prod_others(x, axes), axis=axes, keepdims=keepdims)


def _prod_others(x, axes):
    """For each element, the product of the other elements of its reduction group."""
    ndim = len(x.shape)
    rest = [a for a in range(ndim) if a not in axes]
    order = rest + list(axes)
    moved = np.transpose(x, order)
    lead = moved.shape[: len(rest)]
    k = reduced_size(x.shape, axes)
    if k == 0:  # an empty group: no elements, no gradient entries
        return x * 0
    flat = moved.reshape(lead + (k,))
    if not isinstance(flat, Tensor):
        ones = np.ones_like(flat, shape=lead + (1,))
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


def _pivot(x, axes):
    """The first element of each reduction group, kept as size 1 (a value of the group)."""
    return x[tuple(slice(0, 1) if a in axes else slice(None) for a in range(x.ndim))]


def _scale_of(x, axes):
    """Per group a power of two near max |x| (1 where that is 0 or not finite): dividing
    by it is exact in floating point and leaves every |x / scale| below 2."""
    peak = np.maximum(np.max(x, axis=axes, keepdims=True),
                      -np.min(x, axis=axes, keepdims=True))
    peak = np.where(np.isfinite(peak) & (peak > 0), peak, 1)
    return np.ldexp(np.ones((), x.dtype), np.frexp(peak)[1] - 1).astype(x.dtype)


def _as_float(x):
    """Integers and booleans as float64 (their var is a float, as in NumPy)."""
    data = x._data if isinstance(x, Tensor) else x
    return x if data.dtype.kind == "f" else x.astype(np.float64)


def _deviations(x, axes, scaled):
    """``(d, scale)`` with ``x - mean(x) = scale * d`` over ``axes``; x an array or a Tensor.

    The group's first element is subtracted before the mean is taken, so equal values
    give deviations of exactly 0 (the float32 mean of 7 copies of 0.1 is not 0.1; its
    rounding error gave std a gradient of +-1/7 instead of 0). With ``scaled``, x is
    first divided by a power of two near its largest magnitude (exact), so that no
    difference of two huge values overflows. The pivot and the scale are constants:
    x - mean(x) does not depend on them, so on Tensors the derivative is unchanged.
    """
    data = _as_float(x._data if isinstance(x, Tensor) else x)
    x = _as_float(x)
    if data.size == 0:  # no deviations (and no mean of an empty slice to warn about)
        return x * 0, np.ones((), data.dtype)
    first = _pivot(data, axes)
    if scaled:
        scale = _scale_of(data, axes)
        y = x / scale - first / scale
    else:
        scale = np.ones((), data.dtype)
        y = x - first
    if type(y) is NDARRAY:  # np.mean's wrapper costs more than the sum on small x
        return y - np.add.reduce(y, axis=axes, keepdims=True) / reduced_size(y.shape, axes), scale
    return y - np.mean(y, axis=axes, keepdims=True), scale


def _sum_squares(x, axes, count):
    """``(ss, scale)``: the sum of squared deviations from the mean over ``axes`` (kept)
    is ss * scale**2, computed so that equal values give exactly 0 and huge or tiny
    finite values neither overflow nor underflow.

    The plain two-pass sum from a pivot (see ``_deviations``) costs one pass more than
    np.var and is used unless its result shows trouble: a sum that overflowed (inf or
    NaN), or one so small that squares of deviations may have underflowed (except
    exact zeros: groups of equal values). Then it is recomputed from scaled values.
    """
    x = _as_float(x)
    if x.size == 0:  # nothing to sum: 0, or an empty result (the caller divides by N - ddof)
        return np.add.reduce(x, axis=axes, keepdims=True), np.ones((), x.dtype)
    first = _pivot(x, axes)
    with np.errstate(over="ignore", invalid="ignore"):  # detected below, then redone
        y = x - first
        y -= np.add.reduce(y, axis=axes, keepdims=True) / count
        y *= y
        ss = np.add.reduce(y, axis=axes, keepdims=True)
    info = np.finfo(x.dtype)
    good = (ss >= count * (info.tiny / info.eps)) & (ss <= info.max)  # False for NaN
    if branch_on(good.all()):
        return ss, np.ones((), x.dtype)
    exact_zero = (ss == 0) & np.all(x == first, axis=axes, keepdims=True)
    if branch_on((good | exact_zero).all()):
        return ss, np.ones((), x.dtype)
    d, scale = _deviations(x, axes, True)
    return np.add.reduce(d * d, axis=axes, keepdims=True), scale


def _dof(count, ddof):
    """N - ddof, or 0 where that is negative (NumPy's rule: var is then inf or NaN)."""
    return count - ddof if count > ddof else 0


def _slope_deviations(x, spread, axes, count, dof):
    """``(d, scale, scaled)`` for the rules: unscaled unless something could overflow,
    which the forward's result (``spread``: the std) tells. With ss = spread**2 (N - ddof)
    the sum of squared deviations, |x_i - x_0| <= 2 sqrt(ss), and the pivoted values sum
    to at most N times that."""
    s = spread._data if isinstance(spread, Tensor) else spread
    # (rules run with NumPy's warnings silenced: an overflow here only means "not safe")
    safe = branch_on(
        (s * (math.sqrt(dof if dof > 1 else 1) * 2 * count) < np.finfo(s.dtype).max).all())
    return (*_deviations(x, axes, not safe), not safe)


def _unkeep(v, axes, keepdims):
    return v if keepdims or not axes else np.squeeze(v, axis=axes)


@primitive(save="x out", quiet=True, params="axes keepdims shape ddof", numpy=np.var, method=True)
class var:
    """out = sum((x - mean)**2) / (N - ddof);  d out/dx_i = 2 (x_i - mean) / (N - ddof).

    (d/dx_i of the sum of squares is 2 (x_i - mean): the mean's own dependence on x_i
    cancels because the deviations sum to zero.) Computed by ``_sum_squares``: exactly 0
    for equal values, finite wherever the variance is.
    VJP: gx = g * 2 (x - mean) / (N - ddof).
    JVP: t_out = sum(tx * 2 (x - mean)) / (N - ddof).
    """

    def call(x, axis=None, ddof=0, keepdims=False, *, dim=None, keepdim=None,
             unbiased=None, correction=None):
        """Variance over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's default 0).

        Stable for huge finite inputs and exactly 0 (gradient 0) for equal values. With no
        degrees of freedom left (N - ddof <= 0) the result is NaN with a RuntimeWarning, as
        NumPy gives.

        PyTorch's spellings are accepted: ``dim=``, ``keepdim=``, ``unbiased=True``
        (ddof=1) and ``correction=`` (ddof). The default stays NumPy's ddof=0.
        """
        axis, keepdims = torch_dim("var", axis, keepdims, dim, keepdim)
        ddof = _ddof("var", ddof, unbiased, correction)
        return _spread(var, "var", x, axis, ddof, keepdims)

    def forward(x, axes, keepdims, shape, ddof):
        count = reduced_size(shape, axes)
        ss, scale = _sum_squares(x, axes, count)
        with np.errstate(invalid="ignore", divide="ignore"):  # N - ddof <= 0: inf, or
            var = ss / _dof(count, ddof)  # NaN for 0 / 0, as NumPy (the wrapper warns)
        # a variance beyond the float range overflows here, with NumPy's warning: that
        # one is about the user's values (|ss| < 4N, so nothing before it overflows)
        return _unkeep(var * scale * scale, axes, keepdims)

    def vjp_x(g, out, x, axes, keepdims, shape, ddof):
        d, factor = _var_slope(out, x, axes, shape, ddof)
        return d * (_keep(g, axes, keepdims, shape) * factor)

    def jvp_x(tx, out, x, axes, keepdims, shape, ddof):
        d, factor = _var_slope(out, x, axes, shape, ddof)  # factor: per group (kept axes)
        return _unkeep(np.sum(tx * d, axis=axes, keepdims=True) * factor, axes, keepdims)


def _var_slope(out, x, axes, shape, ddof):
    """d var / dx = 2 (x - mean) / (N - ddof), as ``(d, factor)``: the slope is d * factor."""
    count = reduced_size(shape, axes)
    dof = _dof(count, ddof)
    spread = np.sqrt(out._data if isinstance(out, Tensor) else out)
    d, scale, _ = _slope_deviations(x, spread, axes, count, dof)
    # no degrees of freedom: 2 / 0 = inf, as NumPy's var is (inf, or NaN where d = 0)
    return d, scale * (2.0 / dof if dof else math.inf)


@primitive(save="x out", quiet=True, params="axes keepdims shape ddof", numpy=np.std, method=True)
class std:
    """out = sqrt(sum((x - mean)**2) / (N - ddof));  d out/dx_i = (x_i - mean) / ((N - ddof) out).

    (d/dx_i of the sum of squares is 2 (x_i - mean): the mean's own dependence on x_i
    cancels because the deviations sum to zero.) Where out = 0 every x is equal and the
    gradient is taken as 0, as PyTorch does, instead of 0/0. Computed by
    ``_sum_squares``: exactly 0 for equal values, and finite for huge finite inputs
    (1e20 in float32) whose squares would overflow.
    VJP: gx = g * (x - mean) / ((N - ddof) out), 0 where out = 0.
    JVP: t_out = sum(tx * (x - mean)) / ((N - ddof) out).
    """

    def call(x, axis=None, ddof=0, keepdims=False, *, dim=None, keepdim=None,
             unbiased=None, correction=None):
        """Standard deviation ``sqrt(var(x, axis, ddof))``; gradient 0 where it is 0.


        PyTorch's spellings are accepted: ``dim=``, ``keepdim=``, ``unbiased=True``
        (ddof=1) and ``correction=`` (ddof). The default stays NumPy's ddof=0.
        """
        axis, keepdims = torch_dim("std", axis, keepdims, dim, keepdim)
        ddof = _ddof("std", ddof, unbiased, correction)
        return _spread(std, "std", x, axis, ddof, keepdims)

    def forward(x, axes, keepdims, shape, ddof):
        count = reduced_size(shape, axes)
        ss, scale = _sum_squares(x, axes, count)
        with np.errstate(invalid="ignore", divide="ignore"):  # N - ddof <= 0, as NumPy
            return _unkeep(np.sqrt(ss / _dof(count, ddof)) * scale, axes, keepdims)

    def vjp_x(g, out, x, axes, keepdims, shape, ddof):
        d, factor = _std_slope(out, x, axes, keepdims, shape, ddof)
        return d * (_keep(g, axes, keepdims, shape) * factor)

    def jvp_x(tx, out, x, axes, keepdims, shape, ddof):
        d, factor = _std_slope(out, x, axes, keepdims, shape, ddof)
        return _unkeep(np.sum(tx * d, axis=axes, keepdims=True) * factor, axes, keepdims)


def _std_slope(out, x, axes, keepdims, shape, ddof):
    """d std / dx = (x - mean) / ((N - ddof) std), 0 where std is 0, as ``(d, factor)``:
    the slope is d * factor, with factor = 1 / ((N - ddof) std) per group (kept axes).

    With x - mean = scale d the factor is 1 / ((N - ddof) std / scale), and for huge
    inputs (scaled) std / scale is taken from d itself, sqrt(sum(d**2) / (N - ddof)):
    finite even where std overflowed (float32 [3e38, -3e38] with ddof=1: std = inf, but
    slopes +-1/sqrt 2). The factor is computed on the reduced shape, so the rule costs
    one pass over x more than the deviations themselves."""
    count = reduced_size(shape, axes)
    dof = _dof(count, ddof)
    out_k = _keep(out, axes, keepdims, shape)
    d, scale, scaled = _slope_deviations(x, out_k, axes, count, dof)
    if scaled:
        out_k = np.sqrt(np.sum(d * d, axis=axes, keepdims=True) / dof)
    zero = out_k == 0
    # no degrees of freedom: 1 / (0 * std) is inf or NaN, as torch's gradient
    return d, np.where(zero, 0, 1 / (dof * np.where(zero, 1, out_k)))


# --- public wrappers -----------------------------------------------------------------------

def _reduce(prim, name, x, axis, keepdims):
    x = operand(x)
    axes = _axes(name, x, axis)
    shape = shape_of(x)
    return apply(prim, (x,), (axes, bool(keepdims), shape))


def _spread(prim, name, x, axis, ddof, keepdims):
    x = operand(x)
    axes = _axes(name, x, axis)
    shape = shape_of(x)
    if reduced_size(shape, axes) - ddof <= 0:
        warnings.warn(f"{name}: degrees of freedom <= 0 ({reduced_size(shape, axes)} elements, "
                      f"ddof={ddof}); the result is NaN", RuntimeWarning, stacklevel=3)
    return apply(prim, (x,), (axes, bool(keepdims), shape, ddof))


def _extreme(prim, arg, result, x, axis, keepdims, dim, keepdim):
    """max/min's public call: NumPy's values, or with ``dim=`` PyTorch's named tuple
    ``(values, indices)`` (``arg`` is argmax/argmin, ``result`` the tuple type)."""
    name = prim.name
    axis, keepdims = torch_dim(name, axis, keepdims, dim, keepdim)
    _check_nonempty(name, x, axis)
    values = _reduce(prim, name, x, axis, keepdims)
    if dim is None:
        return values
    return result(values, arg(x, axis=axis, keepdims=keepdims))


def _ddof(name, ddof, unbiased, correction):
    """NumPy's ``ddof`` from it or from PyTorch's ``unbiased=`` / ``correction=``."""
    given = [k for k, v in (("unbiased", unbiased), ("correction", correction)) if v is not None]
    if len(given) > 1 or (given and ddof != 0):
        raise TypeError(f"{name}: give one of ddof= (NumPy), unbiased= or correction= (PyTorch)")
    if unbiased is not None:
        return 1 if unbiased else 0
    if correction is not None:
        return correction
    return ddof


def _check_nonempty(name, x, axis):
    """max/min over an empty axis has no value (NumPy raises too); a zero-length axis
    that is not reduced is fine: the result is empty along it."""
    shape = shape_of(x)
    if any(shape[a] == 0 for a in _axes(name, x, axis)):
        raise OpError(f"{name}: the reduced axes of an input of shape {shape} are empty, "
                      f"so it has no {name}imum")


@op(numpy=np.argmax, method=True)
def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the maximum (an integer tensor, no gradient); ``dim=``/``keepdim=`` too."""
    axis, keepdims = torch_dim("argmax", axis, keepdims, dim, keepdim)
    data = x._data if isinstance(x, Tensor) else np.asarray(x)
    return Tensor._wrap(np.argmax(data, axis=axis, keepdims=keepdims))


@op(numpy=np.argmin, method=True)
def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the minimum (an integer tensor, no gradient); ``dim=``/``keepdim=`` too."""
    axis, keepdims = torch_dim("argmin", axis, keepdims, dim, keepdim)
    data = x._data if isinstance(x, Tensor) else np.asarray(x)
    return Tensor._wrap(np.argmin(data, axis=axis, keepdims=keepdims))
