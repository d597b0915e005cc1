"""Losses: fused primitives where stability or a clean gradient earns them, with
PyTorch's ``reduction`` semantics ('mean' | 'sum' | 'none').

* cross-entropy from logits: loss = logsumexp(z) - z_y, gradient softmax(z) - onehot(y);
* binary cross-entropy with logits: max(z, 0) - z y + log(1 + exp(-|z|)), gradient
  sigmoid(z) - y: stable for logits of any finite size, no log(0);
* binary cross-entropy on probabilities: logs clamped at -100, as PyTorch.

Targets (class indices, ``ignore_index``) and class weights are constants: no gradient
flows to them (PyTorch does not differentiate them either). ``mse_loss`` and
``nll_loss`` are composites of existing ops.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import ops
from ..backend import array_of, asarray
from ..ops.elementwise import logistic
from ..ops.reduction import log_sum_exp_shifted, max_shift
from ..primitive import SAME, OpError, apply, primitive
from ._stash import Stash, is_array, release_stash, shape_of

__all__ = ["mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "nll_loss"]



def _reduce(loss, reduction: str, name: str, denom=None):
    """'none': the elementwise losses; 'sum': their sum; 'mean': the sum over ``denom``
    (the number of elements, or the total target weight for weighted class losses)."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return ops.sum(loss)
    if reduction == "mean":
        if denom is None:
            return ops.mean(loss)
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: NaN, as PyTorch
            return ops.div(ops.sum(loss), np.asarray(denom, dtype=loss.dtype))
    raise OpError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


# --- cross-entropy from logits --------------------------------------------------------------

def _shifted(z, axis, stash):
    """``(s, lse_s)``: the logits shifted by their max, ``s = z - max z``, and
    ``lse_s = logsumexp(s)``.

    Everything downstream uses the shifted values only: ``logsumexp(z) - z_y`` is
    computed as ``lse_s - s_y``, never as the difference of two large numbers (float32
    logits [[1e8, 1e8, 0]] would give a loss of 0 instead of log 2, and a softmax of
    [1, 1, 0]). The max is a constant (logsumexp is shift-invariant), so on Tensors
    (``create_graph``) ``s`` still carries the whole derivative.
    """
    if stash is not None and stash.values is not None and is_array(z):
        return stash.values
    s = z - max_shift(array_of(z), axis)
    return s, log_sum_exp_shifted(s, axis)


class _Targets:
    """What the loss needs from the targets, computed once per call (no gradient).

    ``safe``: class indices with ignored ones replaced by 0; ``kept``: not ignored;
    per sample ``b = (1 - eps) w_y kept`` and ``a = b + (eps/C) sum(w) kept``; ``w``
    the class weights shaped to broadcast along the class axis; ``denom`` the total
    weight of the kept targets ('mean' divides by it); ``eshape`` the shape that
    re-inserts the class axis into a per-sample array.
    """

    __slots__ = ("safe", "kept", "a", "b", "w", "denom", "eshape")

    def __init__(self, z_shape, target, weight, axis, ignore_index, smoothing, dtype,
                 any_ignored=True):
        c = z_shape[axis]
        self.eshape = tuple(1 if i == axis else n for i, n in enumerate(z_shape))
        if weight is None and not smoothing and not any_ignored:
            # the common case: every sample counts once, a = b = 1 (None: skip the products)
            self.safe, self.kept, self.a, self.b, self.w = target, None, None, None, None
            self.denom = np.asarray(target.size, dtype=dtype)
            return
        kept = target != ignore_index
        self.safe = np.where(kept, target, 0)
        w = np.ones(c, dtype=dtype) if weight is None else np.asarray(weight, dtype=dtype)
        wy = kept.astype(dtype) if weight is None else w[self.safe] * kept
        self.b = (1.0 - smoothing) * wy if smoothing else wy
        self.a = self.b + (smoothing / c) * w.sum() * kept if smoothing else self.b
        self.kept = kept
        self.w = w.reshape(tuple(c if i == axis else 1 for i in range(len(z_shape))))
        self.denom = asarray(wy.sum(dtype=np.float64)).astype(dtype)  # a traced sum kept


@primitive(save="z", params="targets axis smoothing reduction stash", public=False,
           on_release=release_stash)
class cross_entropy:
    """loss_i = w_{y_i} (logsumexp(z_i) - z_{i, y_i})  per sample (class axis ``axis``),
    computed from the shifted logits s = z - max z as logsumexp(s_i) - s_{i, y_i},
    then summed, or summed and divided by sum_i w_{y_i} ('mean'), or kept ('none').

    -log softmax(z)_y = logsumexp(z) - z_y, and d logsumexp(z)/dz = softmax(z), so the
    gradient is the famous softmax(z) - onehot(y), scaled by the class weight w_y.
    With label smoothing eps, (1 - eps) of the loss is the above and eps is the mean
    over classes of w_c (logsumexp - z_c), adding (eps/C)(sum(w) softmax - w).
    Samples whose target is ``ignore_index`` get loss 0 and gradient 0.
    VJP: gz = g_i * (a_i softmax(z_i) - b_i onehot(y_i) - (eps/C) w), with
         b_i = (1-eps) w_{y_i} and a_i = b_i + (eps/C) sum(w) (0 for ignored samples),
         g_i = g (sum), g / sum_i w_{y_i} (mean), or the per-sample g (none).
    JVP: t_out = the same reduction of sum over classes of tz * (the bracket above).
    """

    def call(input, target, weight=None, ignore_index=-100,  # noqa: A002
             reduction="mean", label_smoothing=0.0):
        """Cross-entropy between logits ``input`` (N, C, ...) and class indices ``target``.

        The fused, stable form of ``nll_loss(log_softmax(input, 1), target)``; 'mean'
        divides by the total weight of the non-ignored targets (their count if unweighted).

        >>> float(F.cross_entropy(gg.zeros(2, 4), gg.tensor([0, 3])))   # log 4
        1.3862943649291992
        """
        axis, t = _class_args("cross_entropy", input, target, weight)
        any_ignored = _check_classes("cross_entropy", t, shape_of(input)[axis], ignore_index)
        if not 0.0 <= label_smoothing <= 1.0:
            raise OpError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                          f"{label_smoothing}")
        if reduction not in ("mean", "sum", "none"):
            raise OpError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got "
                          f"{reduction!r}")
        w = None if weight is None else np.asarray(array_of(weight))
        shape, dtype = shape_of(input), np.result_type(array_of(input))
        targets = _Targets(shape, t, w, axis, int(ignore_index), float(label_smoothing), dtype,
                           any_ignored)
        return apply(cross_entropy, (input,),
                     (targets, axis, float(label_smoothing), reduction, Stash()))

    def forward(z, targets, axis, smoothing, reduction, stash):
        s, lse = _shifted(z, axis, None)
        if stash is not None:
            stash.values = s, lse
        t = targets
        if s.ndim == 2 and axis == 1:
            picked = s[np.arange(s.shape[0]), t.safe]
        else:
            picked = np.take_along_axis(s, t.safe.reshape(t.eshape), axis).reshape(
                t.safe.shape)
        loss = lse.reshape(t.safe.shape) - picked
        if t.b is not None:
            loss *= t.b
        if smoothing:
            spread = np.sum(t.w * (lse - s), axis=axis)
            loss += (smoothing / z.shape[axis]) * spread * t.kept
        if reduction == "none":
            return loss
        total = loss.sum()
        if reduction == "sum":
            return total
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: NaN, as PyTorch
            return total / t.denom

    def vjp_z(g, out, z, targets, axis, smoothing, reduction, stash):
        return _per_sample(g, targets, reduction) * _ce_slope(z, targets, axis, smoothing, stash)

    def jvp_z(tz, out, z, targets, axis, smoothing, reduction, stash):
        per_sample = np.sum(tz * _ce_slope(z, targets, axis, smoothing, stash), axis=axis)
        if reduction == "none":
            return per_sample
        total = np.sum(per_sample)
        return total if reduction == "sum" else total / targets.denom


def _per_sample(g, t, reduction):
    """The cotangent of each sample's loss, shaped to broadcast along the class axis."""
    if reduction == "none":
        return g.reshape(t.eshape)
    if reduction == "sum":
        return g
    with np.errstate(invalid="ignore", divide="ignore"):
        return g / t.denom


def _ce_slope(z, t, axis, smoothing, stash):
    """d loss_i / d z_i = a softmax(z) - b onehot(y) - (eps/C) w, zero for ignored."""
    s, lse = _shifted(z, axis, stash)
    softmax = np.exp(s - lse)
    c = z.shape[axis]
    classes = np.arange(c).reshape(tuple(c if i == axis else 1 for i in range(len(t.eshape))))
    onehot = t.safe.reshape(t.eshape) == classes
    if t.b is None:
        return softmax - onehot
    slope = t.a.reshape(t.eshape) * softmax - onehot * t.b.reshape(t.eshape)
    if smoothing:
        slope = slope - (smoothing / z.shape[axis]) * t.w * t.kept.reshape(t.eshape)
    return slope



def _class_args(name, input, target, weight):  # noqa: A002
    """Check shapes; return (class axis, target indices as an int array)."""
    shape = shape_of(input)
    t = asarray(array_of(target))  # a registered array type (a traced one) kept as is
    if t.dtype.kind not in "iu":
        if t.dtype.kind == "f" and t.shape == shape:
            raise NotImplementedError(
                f"{name}: class-probability targets are not supported; pass class indices "
                "(an integer tensor with one class per sample)")
        raise OpError(f"{name}: target must hold integer class indices, got dtype {t.dtype}")
    if len(shape) == 0:
        raise OpError(f"{name}: input must have a class axis, got a scalar")
    axis = 0 if len(shape) == 1 else 1
    want = shape[:axis] + shape[axis + 1:]
    if t.shape != want:
        raise OpError(f"{name}: input of shape {shape} needs a target of shape {want} "
                      f"(one class index per sample), got {t.shape}")
    c = shape[axis]
    if weight is not None and shape_of(weight) != (c,):
        raise OpError(f"{name}: weight must have one entry per class, shape ({c},), got "
                      f"{shape_of(weight)}")
    return axis, t


def _check_classes(name, t, c, ignore_index) -> bool:
    """Raise for a target outside 0..C-1 (other than ignore_index); return whether any
    target is ignore_index."""
    if t.size == 0:
        return False
    lo, hi = t.min(), t.max()
    if lo >= 0 and hi < c and not lo <= ignore_index <= hi:
        return False
    ignored = t == ignore_index
    bad = ~ignored & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"{name}: target {int(t[bad].flat[0])} is out of bounds for "
                         f"{c} classes (valid: 0..{c - 1}, or ignore_index={ignore_index})")
    return bool(ignored.any())


def _weight_total(t, weight, ignore_index, dtype):
    kept = t != ignore_index
    if weight is None:
        return np.float64(kept.sum())
    w = np.asarray(array_of(weight), dtype=np.float64)
    return (w[np.where(kept, t, 0)] * kept).sum()


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):  # noqa: A002
    """Negative log-likelihood of log-probabilities ``input`` (N, C, ...) at ``target``.

    loss_i = -w_{y_i} input[i, y_i] (0 where the target is ``ignore_index``), built from
    indexing and a product: no rule of its own.

    >>> F.nll_loss(gg.tensor([[-0.5, -1.0]]), gg.tensor([1]))
    tensor(1.)
    """
    axis, t = _class_args("nll_loss", input, target, weight)
    c = shape_of(input)[axis]
    _check_classes("nll_loss", t, c, ignore_index)
    kept = t != ignore_index
    safe = np.where(kept, t, 0)
    if axis == 0:
        picked = ops.getitem(input, safe)
    else:
        grid = np.indices(t.shape, sparse=True)
        picked = ops.getitem(input, (grid[0], safe) + tuple(grid[1:]))
    dtype = np.result_type(array_of(input))
    w = np.ones(c) if weight is None else np.asarray(array_of(weight), dtype=np.float64)
    scale = (-(w[safe] * kept)).astype(dtype)
    denom = _weight_total(t, weight, ignore_index, dtype) if reduction == "mean" else None
    return _reduce(picked * scale, reduction, "nll_loss", denom)


# --- binary cross-entropy ---------------------------------------------------------------------

def _softplus(v):
    """log(1 + exp(v)) without overflow (plain NumPy: on Tensors it records)."""
    return np.logaddexp(0, v)


@primitive(save="z y pw", jvp=SAME, public=False)
class binary_cross_entropy_with_logits:
    """loss = (1 - y) z + l * softplus(-z),  l = 1 + (pw - 1) y  (l = 1 without pos_weight).

    This is -[pw y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))] rewritten with
    log sigmoid(z) = -softplus(-z) and log(1 - sigmoid(z)) = -z - softplus(-z); for
    pw = 1 it is max(z, 0) - z y + log(1 + exp(-|z|)). softplus is computed as
    logaddexp(0, .), so no logit of any finite size overflows or takes log(0).
    d softplus(-z)/dz = -sigmoid(-z), so
    VJP: gz = g * ((1 - y) - l * sigmoid(-z))   (= g * (sigmoid(z) - y) for pw = 1),
         gy = g * (-z + (pw - 1) softplus(-z)),  gpw = g * y * softplus(-z).
    JVP: t_out = tz * ((1 - y) - l sigmoid(-z)) + ty * (-z + (pw - 1) softplus(-z))
         + tpw * y softplus(-z).
    """

    def call(input, target, weight=None, reduction="mean", pos_weight=None):  # noqa: A002
        """Binary cross-entropy of logits, stable for any finite logit.

        ``weight`` rescales each element's loss; ``pos_weight`` (broadcast along the last
        axis, one per class) weighs the positive term, as PyTorch.

        >>> F.binary_cross_entropy_with_logits(gg.tensor([1e4, -1e4]), gg.tensor([1.0, 0.0]))
        tensor(0.)
        """
        _same_shape("binary_cross_entropy_with_logits", input, target)
        loss = apply(binary_cross_entropy_with_logits, (input, target, pos_weight))
        if weight is not None:
            loss = loss * weight
        return _reduce(loss, reduction, "binary_cross_entropy_with_logits")

    def forward(z, y, pw):
        sp = np.logaddexp(0, -z)
        lw = 1 if pw is None else 1 + (pw - 1) * y
        return (1 - y) * z + lw * sp

    def vjp_z(g, out, z, y, pw):
        return g * _bce_dz(z, y, pw)

    def vjp_y(g, out, z, y, pw):
        return g * _bce_dy(z, pw)

    def vjp_pw(g, out, z, y, pw):
        return g * y * _softplus(-z)


def _bce_dz(z, y, pw):
    if pw is None:
        return logistic(z) - y
    return (1 - y) - (1 + (pw - 1) * y) * logistic(-z)


def _bce_dy(z, pw):
    return -z if pw is None else -z + (pw - 1) * _softplus(-z)


_LOG_FLOOR = -100.0  # PyTorch clamps log(p) and log(1 - p) here, so p = 0 or 1 stays finite
_EPS = 1e-12  # and keeps the gradient's denominator p (1 - p) away from zero


def _clamped_logs(p):
    """log p and log(1 - p), each floored at -100 as PyTorch's BCE (log 0 = -inf is
    expected here, so no warning about it)."""
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(p), _LOG_FLOOR), np.maximum(np.log1p(-p), _LOG_FLOOR)


@primitive(save="p y", quiet=True, jvp=SAME, public=False)
class binary_cross_entropy:
    """loss = -(y log p + (1 - y) log(1 - p)), each log clamped at -100 (as PyTorch).

    d loss/dp = -y/p + (1 - y)/(1 - p) = (p - y) / (p (1 - p)); the denominator is
    clamped at 1e-12 as PyTorch does, so p = 0 or 1 gives a large finite gradient.
    d loss/dy = log(1 - p) - log p (with the clamped logs).
    VJP: gp = g * (p - y) / max(p (1 - p), 1e-12),  gy = g * (log(1-p) - log(p)).
    JVP: t_out = tp * (p - y) / max(p (1 - p), 1e-12) + ty * (log(1-p) - log(p)).
    """

    def call(input, target, weight=None, reduction="mean"):  # noqa: A002
        """Binary cross-entropy of probabilities ``input`` in [0, 1] (logs clamped at -100).

        Prefer :func:`binary_cross_entropy_with_logits` on logits: it is exact where this
        one saturates.

        >>> F.binary_cross_entropy(gg.tensor([0.5, 1.0]), gg.tensor([1.0, 1.0]),
        ...                        reduction='none')
        tensor([ 0.6931472, -0.       ])
        """
        _same_shape("binary_cross_entropy", input, target)
        p = array_of(input)
        if np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
            raise OpError("binary_cross_entropy: all elements of input should be between 0 "
                          "and 1 (probabilities); for logits use "
                          "binary_cross_entropy_with_logits")
        loss = apply(binary_cross_entropy, (input, target))
        if weight is not None:
            loss = loss * weight
        return _reduce(loss, reduction, "binary_cross_entropy")

    def forward(p, y):
        log_p, log_q = _clamped_logs(p)
        return -(y * log_p + (1 - y) * log_q)

    def vjp_p(g, out, p, y):
        return g * (p - y) / np.maximum(p * (1 - p), _EPS)

    def vjp_y(g, out, p, y):
        log_p, log_q = _clamped_logs(p)
        return g * (log_q - log_p)


def _same_shape(name, input, target):  # noqa: A002
    a, b = shape_of(input), shape_of(target)
    if a != b:
        raise OpError(f"{name}: target shape {b} must equal input shape {a}")


def mse_loss(input, target, reduction="mean"):  # noqa: A002
    """Mean squared error, (input - target)**2 reduced (a composite).

    Shapes that differ are broadcast with a warning, as PyTorch does (it is almost
    always a bug: a (N, 1) prediction against a (N,) target gives an (N, N) loss).

    >>> F.mse_loss(gg.tensor([1.0, 2.0]), gg.tensor([1.0, 4.0]), reduction='sum')
    tensor(4.)
    """
    a, b = shape_of(input), shape_of(target)
    if a != b:
        warnings.warn(f"mse_loss: target shape {b} differs from input shape {a}; they "
                      "will be broadcast against each other, which is likely not what you "
                      "want. Reshape one of them to the other's shape.", UserWarning,
                      stacklevel=2)
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")


# the public calls' docstring examples, for doctest (a card is not a function it finds)
__test__ = {"cross_entropy": cross_entropy.call,
            "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits.call,
            "binary_cross_entropy": binary_cross_entropy.call}
