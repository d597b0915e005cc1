"""Op-table rows: the nn primitives (fused losses, norms, conv, pooling, activations),
reached through their public functions (``gg.nn.functional``, modules, ``gg.astype``,
``gg.index_put``), plus the two primitives that only backward passes call
(``scatter_add``, the VJP of indexing; ``im2col``/``col2im``, behind conv2d).

Part of the one op table (``op_table.ROWS``): every row runs through the same checks
(forward, VJP, JVP vs PyTorch; gradcheck; gradgradcheck) and, where it has one, its
``composite`` (the same function from simpler glassgrad ops) is checked to rounding
against the fused primitive (test_ops.py::test_fused_op_matches_its_composite).

The ``F.*`` functions are not ``gg.*`` ops: their rows are named ``nn.<function>``, and
only real ``gg`` ops (``astype``, ``index_put``) are declared with ``names``. Integer
class targets, index arrays and running statistics are constants inside the callables.
Not covered here (their own tests): conv2d ``dilation``/``groups``, max_pool2d
``ceil_mode``/``return_indices``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as TF
from op_table import DISTINCT, NONZERO, POS, REAL, Domain, T, names, row

import glassgrad as gg
import glassgrad.nn.functional as F
from glassgrad.nn import _conv_ops  # im2col / col2im: differentiable, used by conv2d
from glassgrad.nn._activation_ops import erf as _erf  # the primitive behind F.gelu

names("astype", "index_put")

PROB = Domain(0.05, 0.95)  # probabilities away from the clamped logs of BCE
UNIT = Domain(0.0, 1.0)  # soft targets
LOGIT = Domain(-4.0, 4.0)


def _lse(z, axis):
    return gg.logsumexp(z, axis=axis, keepdims=True)


# =========================================================================== activations
# ---- softmax / log_softmax: composites exp(z - logsumexp z), z - logsumexp z ----------
for _variant, _dim, _shape, _dom in [
    ("dim=1,(3,4)", 1, (3, 4), REAL),
    ("dim=0,(3,4)", 0, (3, 4), REAL),
    ("dim=-1,(2,3,4)", -1, (2, 3, 4), REAL),
    ("dim=1,(2,3,4)", 1, (2, 3, 4), REAL),
    ("dim=0,1d", 0, (5,), REAL),
    ("large-logits", 1, (3, 4), Domain(998.0, 1002.0)),
    ("very-negative", -1, (3, 4), Domain(-1002.0, -998.0)),
]:
    row("nn.softmax", _variant, lambda z, d=_dim: F.softmax(z, dim=d),
        lambda z, d=_dim: TF.softmax(z, dim=d), [_shape], _dom,
        composite=lambda z, d=_dim: gg.exp(z - _lse(z, d)))
    row("nn.log_softmax", _variant, lambda z, d=_dim: F.log_softmax(z, dim=d),
        lambda z, d=_dim: TF.log_softmax(z, dim=d), [_shape], _dom,
        composite=lambda z, d=_dim: z - _lse(z, d))
row("nn.softmax", "module(dim=-1)", lambda z: gg.nn.Softmax(dim=-1)(z),
    lambda z: torch.nn.Softmax(dim=-1)(z), [(2, 5)],
    composite=lambda z: gg.exp(z - _lse(z, -1)))
row("nn.log_softmax", "module(dim=1)", lambda z: gg.nn.LogSoftmax(dim=1)(z),
    lambda z: torch.nn.LogSoftmax(dim=1)(z), [(2, 5)], composite=lambda z: z - _lse(z, 1))


# ---- softplus: log1p(exp(beta x)) / beta, x itself past the threshold ----------------
def _c_softplus(beta: float, threshold: float):
    def f(x):
        smooth = gg.log1p(gg.exp(x * beta)) / beta
        return gg.where(x * beta > threshold, x, smooth)

    return f


for _variant, _beta, _thr, _dom in [
    ("default", 1.0, 20.0, REAL),
    ("beta=2", 2.0, 20.0, REAL),
    ("beta=0.5", 0.5, 20.0, Domain(-4.0, 4.0)),
    ("threshold=1", 1.0, 1.0, Domain(-3.0, 3.0, avoid=(1.0,), gap=0.1)),
    ("beta=0.5,threshold=1.5", 0.5, 1.5, Domain(-5.0, 5.0, avoid=(3.0,), gap=0.1)),
    ("past-default-threshold", 1.0, 20.0, Domain(12.0, 28.0, avoid=(20.0,), gap=0.1)),
]:
    row("nn.softplus", _variant, lambda x, b=_beta, t=_thr: F.softplus(x, beta=b, threshold=t),
        lambda x, b=_beta, t=_thr: TF.softplus(x, beta=b, threshold=t), [(3, 4)], _dom,
        composite=_c_softplus(_beta, _thr))
row("nn.softplus", "module(beta=2,threshold=3)", lambda x: gg.nn.Softplus(2.0, 3.0)(x),
    lambda x: torch.nn.Softplus(2.0, 3.0)(x), [(3, 4)], Domain(avoid=(1.5,), gap=0.1),
    composite=_c_softplus(2.0, 3.0))

# ---- erf (the exact gelu uses it): both of its evaluation branches (|x| < 2, >= 2) ----
row("nn.erf", "series-branch", _erf, torch.erf, [(3, 4)], Domain(-1.9, 1.9))
row("nn.erf", "continued-fraction-branch", _erf, torch.erf, [(3, 4)],
    Domain(-4.0, 4.0, avoid=(0.0,), gap=2.05))
for _variant, _approx, _dom in [
    ("exact", "none", Domain(-3.0, 3.0)),
    ("exact-wide", "none", Domain(-5.0, 5.0)),
    ("tanh", "tanh", Domain(-3.0, 3.0)),
]:
    row("nn.gelu", _variant, lambda x, a=_approx: F.gelu(x, approximate=a),
        lambda x, a=_approx: TF.gelu(x, approximate=a), [(3, 4)], _dom)
row("nn.gelu", "module", lambda x: gg.nn.GELU()(x), lambda x: torch.nn.GELU()(x), [(2, 5)])

# ---- functional forms that are composites of existing ops (no rule of their own) -----
row("nn.leaky_relu", "slope=0.2", lambda x: F.leaky_relu(x, negative_slope=0.2),
    lambda x: TF.leaky_relu(x, negative_slope=0.2), [(3, 4)], NONZERO)
row("nn.leaky_relu", "default", F.leaky_relu, TF.leaky_relu, [(3, 4)], NONZERO)
row("nn.elu", "alpha=1.5", lambda x: F.elu(x, alpha=1.5), lambda x: TF.elu(x, alpha=1.5),
    [(3, 4)], NONZERO)
row("nn.elu", "default", F.elu, TF.elu, [(3, 4)], NONZERO)

# =========================================================================== losses
_N, _C = 4, 5
_Y = np.array([1, 0, 4, 1])
_Y_IGN = np.array([1, -100, 4, -100])  # the default ignore_index
_Y_IGN2 = np.array([2, 0, 2, 3])  # ignore_index=2
_W = np.array([0.5, 1.0, 2.0, 1.5, 0.25])
_YK = np.array([[[0, 2], [1, 1]], [[2, 0], [1, 2]]])  # (N, d1, d2) targets for (2, 3, 2, 2)


def _c_cross_entropy(y, weight=None, ignore_index=-100, reduction="mean", smoothing=0.0):
    """Cross-entropy from log_softmax and sums: loss_i = (1 - eps) w_y (-logp_y) +
    (eps / C) sum_c w_c (-logp_c), 0 for ignored samples; 'mean' divides by the total
    w_y of the kept samples (PyTorch)."""
    y = np.asarray(y)

    def f(z):
        ax = 0 if len(z.shape) == 1 else 1
        c = z.shape[ax]
        logp = F.log_softmax(z, dim=ax)
        kept = y != ignore_index
        safe = np.where(kept, y, 0)
        w = np.ones(c) if weight is None else np.asarray(weight, dtype=np.float64)
        classes = np.arange(c).reshape((c,) + (1,) * (len(z.shape) - ax - 1))
        onehot = (np.expand_dims(safe, ax) == classes).astype(np.float64)
        wy = w[safe] * kept
        loss = -gg.sum(logp * onehot, axis=ax) * ((1.0 - smoothing) * wy)
        if smoothing:
            wc = w.reshape(classes.shape)
            loss = loss - gg.sum(logp * wc, axis=ax) * ((smoothing / c) * kept)
        if reduction == "none":
            return loss
        if reduction == "sum":
            return gg.sum(loss)
        return gg.sum(loss) / wy.sum()

    return f


for _variant, _y, _kw in [
    ("mean", _Y, {}),
    ("sum", _Y, {"reduction": "sum"}),
    ("none", _Y, {"reduction": "none"}),
    ("weight,mean", _Y, {"weight": _W}),
    ("weight,sum", _Y, {"weight": _W, "reduction": "sum"}),
    ("weight,none", _Y, {"weight": _W, "reduction": "none"}),
    ("ignore_index-default,mean", _Y_IGN, {}),
    ("ignore_index=2,none", _Y_IGN2, {"ignore_index": 2, "reduction": "none"}),
    ("ignore_index=2,weight,mean", _Y_IGN2, {"ignore_index": 2, "weight": _W}),
    ("label_smoothing=0.1,mean", _Y, {"label_smoothing": 0.1}),
    ("label_smoothing=0.2,weight,sum", _Y, {"label_smoothing": 0.2, "weight": _W,
                                              "reduction": "sum"}),
    ("label_smoothing=0.3,weight,mean", _Y, {"label_smoothing": 0.3, "weight": _W}),
    ("label_smoothing=0.1,ignore,none", _Y_IGN, {"label_smoothing": 0.1, "reduction": "none"}),
    ("label_smoothing=0.1,ignore,weight,mean", _Y_IGN, {"label_smoothing": 0.1, "weight": _W}),
]:
    _gkw = {k: (gg.tensor(v) if k == "weight" else v) for k, v in _kw.items()}
    _tkw = {k: (T(v) if k == "weight" else v) for k, v in _kw.items()}
    row("nn.cross_entropy", _variant,
        lambda z, y=_y, kw=_gkw: F.cross_entropy(z, gg.tensor(y), **kw),
        lambda z, y=_y, kw=_tkw: TF.cross_entropy(z, T(y), **kw), [(_N, _C)],
        composite=_c_cross_entropy(_y, _kw.get("weight"), _kw.get("ignore_index", -100),
                                   _kw.get("reduction", "mean"), _kw.get("label_smoothing", 0.0)))
row("nn.cross_entropy", "1d-input", lambda z: F.cross_entropy(z, gg.tensor(np.array(3))),
    lambda z: TF.cross_entropy(z, T(np.array(3))), [(_C,)],
    composite=_c_cross_entropy(np.array(3)))
row("nn.cross_entropy", "k-dim(2,3,2,2),mean", lambda z: F.cross_entropy(z, gg.tensor(_YK)),
    lambda z: TF.cross_entropy(z, T(_YK)), [(2, 3, 2, 2)], composite=_c_cross_entropy(_YK))
row("nn.cross_entropy", "k-dim,weight,smoothing,none",
    lambda z: F.cross_entropy(z, gg.tensor(_YK), weight=gg.tensor(_W[:3]), reduction="none",
                              label_smoothing=0.2),
    lambda z: TF.cross_entropy(z, T(_YK), weight=T(_W[:3]), reduction="none",
                               label_smoothing=0.2),
    [(2, 3, 2, 2)], composite=_c_cross_entropy(_YK, _W[:3], reduction="none", smoothing=0.2))
row("nn.cross_entropy", "large-logits", lambda z: F.cross_entropy(z, gg.tensor(_Y)),
    lambda z: TF.cross_entropy(z, T(_Y)), [(_N, _C)], Domain(998.0, 1002.0),
    composite=_c_cross_entropy(_Y))
row("nn.cross_entropy", "module(weight,smoothing)",
    lambda z: gg.nn.CrossEntropyLoss(weight=gg.tensor(_W), label_smoothing=0.1)(
        z, gg.tensor(_Y)),
    lambda z: torch.nn.CrossEntropyLoss(weight=T(_W), label_smoothing=0.1)(z, T(_Y)),
    [(_N, _C)], composite=_c_cross_entropy(_Y, _W, smoothing=0.1))

# ---- nll_loss (a composite) and nll_loss . log_softmax (== cross_entropy) -------------
_ROWS_N = np.arange(_N)
row("nn.nll_loss", "of-log_softmax,mean",
    lambda z: F.nll_loss(F.log_softmax(z, dim=1), gg.tensor(_Y)),
    lambda z: TF.nll_loss(TF.log_softmax(z, dim=1), T(_Y)), [(_N, _C)],
    composite=lambda z: -gg.mean((z - _lse(z, 1))[_ROWS_N, _Y]))
row("nn.nll_loss", "of-log_softmax,weight,ignore,sum",
    lambda z: F.nll_loss(F.log_softmax(z, dim=1), gg.tensor(_Y_IGN), weight=gg.tensor(_W),
                         reduction="sum"),
    lambda z: TF.nll_loss(TF.log_softmax(z, dim=1), T(_Y_IGN), weight=T(_W), reduction="sum"),
    [(_N, _C)],
    composite=_c_cross_entropy(_Y_IGN, _W, reduction="sum"))
for _variant, _y, _kw in [
    ("log-probs,mean", _Y, {}),
    ("log-probs,weight,sum", _Y, {"weight": _W, "reduction": "sum"}),
    ("log-probs,ignore_index=2,none", _Y_IGN2, {"ignore_index": 2, "reduction": "none"}),
    ("log-probs,ignore,weight,mean", _Y_IGN, {"weight": _W}),
]:
    _gkw = {k: (gg.tensor(v) if k == "weight" else v) for k, v in _kw.items()}
    _tkw = {k: (T(v) if k == "weight" else v) for k, v in _kw.items()}
    row("nn.nll_loss", _variant, lambda x, y=_y, kw=_gkw: F.nll_loss(x, gg.tensor(y), **kw),
        lambda x, y=_y, kw=_tkw: TF.nll_loss(x, T(y), **kw), [(_N, _C)])
row("nn.nll_loss", "k-dim(2,3,2,2)", lambda x: F.nll_loss(x, gg.tensor(_YK)),
    lambda x: TF.nll_loss(x, T(_YK)), [(2, 3, 2, 2)])


# ---- binary cross-entropy on probabilities -------------------------------------------
def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return gg.sum(loss) if reduction == "sum" else gg.mean(loss)


def _c_bce(reduction="mean", weight=None):
    def f(p, y):
        loss = -(y * gg.log(p) + (1.0 - y) * gg.log(1.0 - p))
        return _reduce(loss if weight is None else loss * weight, reduction)

    return f


_WB = np.array([[0.5, 1.0, 2.0, 1.5], [1.0, 0.25, 1.0, 3.0], [2.0, 2.0, 0.5, 1.0]])
for _variant, _red, _w in [
    ("mean", "mean", None), ("sum", "sum", None), ("none", "none", None),
    ("weight,mean", "mean", _WB), ("weight,none", "none", _WB),
]:
    row("nn.binary_cross_entropy", _variant,
        lambda p, y, r=_red, w=_w: F.binary_cross_entropy(
            p, y, weight=None if w is None else gg.tensor(w), reduction=r),
        lambda p, y, r=_red, w=_w: TF.binary_cross_entropy(
            p, y, weight=None if w is None else T(w), reduction=r),
        [(3, 4), (3, 4)], (PROB, UNIT), composite=_c_bce(_red, _w))
row("nn.binary_cross_entropy", "target-no-grad", F.binary_cross_entropy,
    TF.binary_cross_entropy, [(3, 4), (3, 4)], (PROB, UNIT), diff=(True, False),
    composite=_c_bce())
row("nn.binary_cross_entropy", "hard-targets",
    lambda p: F.binary_cross_entropy(p, gg.tensor(_WB > 1.0) * 1.0),
    lambda p: TF.binary_cross_entropy(p, T(_WB > 1.0).double()), [(3, 4)], PROB,
    composite=lambda p: _c_bce()(p, gg.tensor((_WB > 1.0) * 1.0)))
row("nn.binary_cross_entropy", "module(sum)", lambda p, y: gg.nn.BCELoss(reduction="sum")(p, y),
    lambda p, y: torch.nn.BCELoss(reduction="sum")(p, y), [(2, 3), (2, 3)], (PROB, UNIT),
    composite=_c_bce("sum"))


# ---- binary cross-entropy with logits -------------------------------------------------
def _c_bce_logits(reduction="mean", weight=None):
    """-(pw y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))), from the definition."""

    def f(z, y, pw=None):
        s = gg.sigmoid(z)
        pos = y * gg.log(s) if pw is None else pw * y * gg.log(s)
        loss = -(pos + (1.0 - y) * gg.log(1.0 - s))
        return _reduce(loss if weight is None else loss * weight, reduction)

    return f


_PW = np.array([0.5, 2.0, 1.0, 3.0])
for _variant, _red, _w in [
    ("mean", "mean", None), ("sum", "sum", None), ("none", "none", None),
    ("weight,sum", "sum", _WB), ("weight,none", "none", _WB),
]:
    row("nn.binary_cross_entropy_with_logits", _variant,
        lambda z, y, r=_red, w=_w: F.binary_cross_entropy_with_logits(
            z, y, weight=None if w is None else gg.tensor(w), reduction=r),
        lambda z, y, r=_red, w=_w: TF.binary_cross_entropy_with_logits(
            z, y, weight=None if w is None else T(w), reduction=r),
        [(3, 4), (3, 4)], (LOGIT, UNIT), composite=_c_bce_logits(_red, _w))
# torch does not differentiate pos_weight: its reference is PyTorch's formula written out,
# (1 - y) z + (1 + (pw - 1) y) softplus(-z), in torch ops
row("nn.binary_cross_entropy_with_logits", "pos_weight-differentiable",
    lambda z, y, pw: F.binary_cross_entropy_with_logits(z, y, pos_weight=pw),
    lambda z, y, pw: torch.mean((1 - y) * z + (1 + (pw - 1) * y) * TF.softplus(-z)),
    [(3, 4), (3, 4), (4,)], (LOGIT, UNIT, POS), composite=_c_bce_logits())
row("nn.binary_cross_entropy_with_logits", "pos_weight-constant,none",
    lambda z, y: F.binary_cross_entropy_with_logits(z, y, pos_weight=gg.tensor(_PW),
                                                    reduction="none"),
    lambda z, y: TF.binary_cross_entropy_with_logits(z, y, pos_weight=T(_PW),
                                                     reduction="none"),
    [(3, 4), (3, 4)], (LOGIT, UNIT),
    composite=lambda z, y: _c_bce_logits("none")(z, y, gg.tensor(_PW)))
row("nn.binary_cross_entropy_with_logits", "target-no-grad",
    F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
    [(3, 4), (3, 4)], (LOGIT, UNIT), diff=(True, False), composite=_c_bce_logits())
# no composite: log(1 - sigmoid(z)) is not accurate to 1e-9 for logits this large
row("nn.binary_cross_entropy_with_logits", "large-logits",
    lambda z, y: F.binary_cross_entropy_with_logits(z, y, reduction="sum"),
    lambda z, y: TF.binary_cross_entropy_with_logits(z, y, reduction="sum"),
    [(3, 4), (3, 4)], (Domain(-30.0, 30.0), UNIT))
row("nn.binary_cross_entropy_with_logits", "module(pos_weight)",
    lambda z, y: gg.nn.BCEWithLogitsLoss(pos_weight=gg.tensor(_PW))(z, y),
    lambda z, y: torch.nn.BCEWithLogitsLoss(pos_weight=T(_PW))(z, y),
    [(3, 4), (3, 4)], (LOGIT, UNIT),
    composite=lambda z, y: _c_bce_logits()(z, y, gg.tensor(_PW)))

for _red in ("mean", "sum", "none"):
    row("nn.mse_loss", _red, lambda x, y, r=_red: F.mse_loss(x, y, reduction=r),
        lambda x, y, r=_red: TF.mse_loss(x, y, reduction=r), [(3, 4), (3, 4)])

# =========================================================================== normalization
_RM, _RV = np.array([0.1, -0.2, 0.3]), np.array([0.5, 1.5, 2.0])


def _c_normalize(axes, eps, wshape=None):
    """(x - mean) / sqrt(var + eps) * w + b with biased statistics over ``axes``."""

    def f(x, w=None, b=None):
        m = int(np.prod([x.shape[a] for a in axes]))
        d = x - gg.sum(x, axis=axes, keepdims=True) / m
        var = gg.sum(d * d, axis=axes, keepdims=True) / m
        out = d / gg.sqrt(var + eps)
        if w is not None:
            out = out * (w if wshape is None else gg.reshape(w, wshape))
        if b is not None:
            out = out + (b if wshape is None else gg.reshape(b, wshape))
        return out

    return f


for _variant, _shape in [("(N,C)", (4, 3)), ("(N,C,L)", (3, 3, 4)), ("(N,C,H,W)", (2, 3, 3, 2))]:
    _axes = (0,) + tuple(range(2, len(_shape)))
    _bshape = (3,) + (1,) * (len(_shape) - 2)
    row("nn.batch_norm", "train,affine," + _variant,
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
        [_shape, (3,), (3,)], composite=_c_normalize(_axes, 1e-5, _bshape))
    row("nn.batch_norm", "train,non-affine," + _variant,
        lambda x: F.batch_norm(x, None, None, training=True),
        lambda x: TF.batch_norm(x, None, None, training=True),
        [_shape], composite=_c_normalize(_axes, 1e-5))
row("nn.batch_norm", "train,weight-only,eps=1e-2",
    lambda x, w: F.batch_norm(x, None, None, w, training=True, eps=1e-2),
    lambda x, w: TF.batch_norm(x, None, None, w, training=True, eps=1e-2),
    [(4, 3, 2), (3,)], composite=_c_normalize((0, 2), 1e-2, (3, 1)))
row("nn.batch_norm", "train,bias-constant",
    lambda x, w: F.batch_norm(x, None, None, w, gg.tensor(_RM), training=True),
    lambda x, w: TF.batch_norm(x, None, None, w, T(_RM), training=True),
    [(4, 3), (3,)], composite=lambda x, w: _c_normalize((0,), 1e-5)(x, w, gg.tensor(_RM)))
row("nn.batch_norm", "train,updates-running-stats",
    lambda x, w, b: F.batch_norm(x, gg.tensor(_RM.copy()), gg.tensor(_RV.copy()), w, b,
                                 training=True, momentum=0.3),
    lambda x, w, b: TF.batch_norm(x, T(_RM), T(_RV), w, b, training=True, momentum=0.3),
    [(4, 3, 2), (3,), (3,)], composite=_c_normalize((0, 2), 1e-5, (3, 1)))
# evaluation mode: an affine map with the running statistics (no primitive of its own)
row("nn.batch_norm", "eval,affine",
    lambda x, w, b: F.batch_norm(x, gg.tensor(_RM), gg.tensor(_RV), w, b, training=False),
    lambda x, w, b: TF.batch_norm(x, T(_RM), T(_RV), w, b, training=False),
    [(2, 3, 4), (3,), (3,)])
row("nn.batch_norm", "eval,non-affine",
    lambda x: F.batch_norm(x, gg.tensor(_RM), gg.tensor(_RV)),
    lambda x: TF.batch_norm(x, T(_RM), T(_RV)), [(4, 3)])

for _variant, _shape, _ns in [
    ("(4,5),last", (4, 5), (5,)),
    ("(2,3,4),last-two", (2, 3, 4), (3, 4)),
    ("(3,4),all", (3, 4), (3, 4)),
]:
    _axes = tuple(range(len(_shape) - len(_ns), len(_shape)))
    row("nn.layer_norm", "affine," + _variant,
        lambda x, w, b, ns=_ns: F.layer_norm(x, ns, w, b),
        lambda x, w, b, ns=_ns: TF.layer_norm(x, ns, w, b), [_shape, _ns, _ns],
        composite=_c_normalize(_axes, 1e-5))
    row("nn.layer_norm", "non-affine," + _variant, lambda x, ns=_ns: F.layer_norm(x, ns),
        lambda x, ns=_ns: TF.layer_norm(x, ns), [_shape], composite=_c_normalize(_axes, 1e-5))
row("nn.layer_norm", "int-shape,weight-only,eps=1e-3",
    lambda x, w: F.layer_norm(x, 4, w, eps=1e-3),
    lambda x, w: TF.layer_norm(x, (4,), w, eps=1e-3), [(3, 4), (4,)],
    composite=_c_normalize((1,), 1e-3))

# =========================================================================== convolution


def _patches(xp, kernel, stride, out_hw):
    """For each kernel offset (i, j), row-major: xp[:, :, i::sh, j::sw] cut to (Ho, Wo)."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out_hw
    return [((i, j), xp[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw])
            for i in range(kh) for j in range(kw)]


def _out_hw(hw, kernel, stride, padding):
    return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(hw, kernel, stride, padding))


def _pad_hw(x, padding, value=0.0):
    ph, pw = padding
    return gg.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _c_conv2d(stride, padding):
    """conv2d as a sum over kernel offsets of einsum(shifted input, weight slice): no
    im2col, no matmul of the fused rule."""

    def f(x, w, b=None):
        kernel = tuple(w.shape[2:])
        out_hw = _out_hw(x.shape[2:], kernel, stride, padding)
        out = None
        for (i, j), p in _patches(_pad_hw(x, padding), kernel, stride, out_hw):
            term = gg.einsum("nchw,oc->nohw", p, w[:, :, i, j])
            out = term if out is None else out + term
        return out if b is None else out + gg.reshape(b, (1, -1, 1, 1))

    return f


for _variant, _xs, _ws, _s, _p in [
    ("k3,s1,p0", (2, 2, 5, 5), (3, 2, 3, 3), 1, 0),
    ("k3,s2,p1", (1, 2, 6, 6), (2, 2, 3, 3), 2, 1),
    ("k3,s(2,1),p(1,0)", (1, 2, 5, 4), (2, 2, 3, 3), (2, 1), (1, 0)),
    ("k(2,3),s1,p(0,1)", (2, 1, 4, 5), (2, 1, 2, 3), 1, (0, 1)),
    ("k1x1", (2, 3, 3, 3), (2, 3, 1, 1), 1, 0),
    ("k2,s2,p0", (1, 2, 4, 6), (3, 2, 2, 2), 2, 0),
]:
    _sp = (_s if isinstance(_s, tuple) else (_s, _s), _p if isinstance(_p, tuple) else (_p, _p))
    row("nn.conv2d", "bias," + _variant,
        lambda x, w, b, s=_s, p=_p: F.conv2d(x, w, b, stride=s, padding=p),
        lambda x, w, b, s=_s, p=_p: TF.conv2d(x, w, b, stride=s, padding=p),
        [_xs, _ws, (_ws[0],)], composite=_c_conv2d(*_sp))
    row("nn.conv2d", "no-bias," + _variant,
        lambda x, w, s=_s, p=_p: F.conv2d(x, w, stride=s, padding=p),
        lambda x, w, s=_s, p=_p: TF.conv2d(x, w, stride=s, padding=p),
        [_xs, _ws], composite=_c_conv2d(*_sp))
row("nn.conv2d", "padding='same'", lambda x, w, b: F.conv2d(x, w, b, padding="same"),
    lambda x, w, b: TF.conv2d(x, w, b, padding="same"), [(1, 2, 4, 5), (2, 2, 3, 3), (2,)],
    composite=_c_conv2d((1, 1), (1, 1)))
row("nn.conv2d", "padding='valid'", lambda x, w: F.conv2d(x, w, padding="valid"),
    lambda x, w: TF.conv2d(x, w, padding="valid"), [(1, 2, 4, 4), (2, 2, 3, 3)],
    composite=_c_conv2d((1, 1), (0, 0)))
row("nn.conv2d", "weight-no-grad", lambda x, w, b: F.conv2d(x, w, b, padding=1),
    lambda x, w, b: TF.conv2d(x, w, b, padding=1), [(1, 2, 4, 4), (2, 2, 3, 3), (2,)],
    diff=(True, False, True), composite=_c_conv2d((1, 1), (1, 1)))
row("nn.conv2d", "input-no-grad", lambda x, w: F.conv2d(x, w, stride=2),
    lambda x, w: TF.conv2d(x, w, stride=2), [(2, 2, 5, 5), (2, 2, 3, 3)],
    diff=(False, True), composite=_c_conv2d((2, 2), (0, 0)))


# ---- im2col / col2im (the columns conv2d multiplies; their VJPs are each other) -------
def _c_im2col(kernel, stride, padding):
    def f(x):
        out_hw = _out_hw(x.shape[2:], kernel, stride, padding)
        ps = dict(_patches(_pad_hw(x, padding), kernel, stride, out_hw))
        rows = [gg.stack([ps[(i, j)] for j in range(kernel[1])], axis=2)
                for i in range(kernel[0])]
        return gg.stack(rows, axis=2)  # (N, C, kh, kw, Ho, Wo)

    return f


def _c_col2im(shape, kernel, stride, padding):
    def f(cols):
        n, c, h, w = shape
        (ph, pw), (kh, kw), (sh, sw) = padding, kernel, stride
        ho, wo = cols.shape[-2:]
        img = gg.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=np.float64)
        for i in range(kh):
            for j in range(kw):
                sl = (slice(None), slice(None), slice(i, i + sh * (ho - 1) + 1, sh),
                      slice(j, j + sw * (wo - 1) + 1, sw))
                img[sl] = img[sl] + cols[:, :, i, j]
        return img[:, :, ph:ph + h, pw:pw + w]

    return f


def _t_im2col(kernel, stride, padding):
    def f(x):
        n, c = x.shape[:2]
        ho, wo = _out_hw(x.shape[2:], kernel, stride, padding)
        cols = TF.unfold(x, kernel, padding=padding, stride=stride)
        return cols.reshape(n, c, kernel[0], kernel[1], ho, wo)

    return f


def _t_col2im(shape, kernel, stride, padding):
    def f(cols):
        n, c = shape[:2]
        return TF.fold(cols.reshape(n, c * kernel[0] * kernel[1], -1), tuple(shape[2:]),
                       kernel, padding=padding, stride=stride)

    return f


for _variant, _shape, _k, _s, _p in [
    ("k3,s1,p0", (2, 2, 4, 5), (3, 3), (1, 1), (0, 0)),
    ("k3,s2,p1-overlapping", (1, 2, 5, 5), (3, 3), (2, 2), (1, 1)),
    ("k2,s2,p1", (1, 1, 4, 4), (2, 2), (2, 2), (1, 1)),
    ("k(2,3),s(1,2),p(1,0)", (1, 2, 3, 5), (2, 3), (1, 2), (1, 0)),
]:
    _ohw = _out_hw(_shape[2:], _k, _s, _p)
    row("nn.im2col", _variant,
        lambda x, k=_k, s=_s, p=_p: _conv_ops.im2col(x, k, stride=s, padding=p),
        _t_im2col(_k, _s, _p), [_shape], composite=_c_im2col(_k, _s, _p))
    row("nn.col2im", _variant,
        lambda c, sh=_shape, k=_k, s=_s, p=_p: _conv_ops.col2im(c, sh, k, stride=s, padding=p),
        _t_col2im(_shape, _k, _s, _p), [_shape[:2] + _k + _ohw],
        composite=_c_col2im(_shape, _k, _s, _p))

# =========================================================================== pooling


def _c_max_pool2d(kernel, stride, padding):
    """The max over the stacked window offsets (padding -inf-like: never the max)."""

    def f(x):
        out_hw = _out_hw(x.shape[2:], kernel, stride, padding)
        ps = [p for _, p in _patches(_pad_hw(x, padding, -1e30), kernel, stride, out_hw)]
        return gg.max(gg.stack(ps, axis=0), axis=0)

    return f


def _c_avg_pool2d(kernel, stride, padding, count_include_pad=True, divisor_override=None):
    """The sum of the window offsets of the zero-padded input over the divisor."""

    def f(x):
        out_hw = _out_hw(x.shape[2:], kernel, stride, padding)
        total = None
        for _, p in _patches(_pad_hw(x, padding), kernel, stride, out_hw):
            total = p if total is None else total + p
        if divisor_override:
            return total / float(divisor_override)
        if count_include_pad:
            return total / float(kernel[0] * kernel[1])
        ones = np.pad(np.ones(x.shape[2:]), [(padding[0],) * 2, (padding[1],) * 2])
        count = sum(ones[i:i + stride[0] * (out_hw[0] - 1) + 1:stride[0],
                         j:j + stride[1] * (out_hw[1] - 1) + 1:stride[1]]
                    for i in range(kernel[0]) for j in range(kernel[1]))
        return total / count

    return f


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


for _variant, _xs, _k, _s, _p in [
    ("k2", (2, 2, 4, 4), 2, None, 0),
    ("k3,s2,p1", (1, 2, 5, 5), 3, 2, 1),
    ("k3,s1-overlapping", (1, 1, 5, 5), 3, 1, 0),
    ("k2,s1,p1", (1, 2, 3, 4), 2, 1, 1),
    ("k(2,3),s(1,2)", (1, 1, 4, 5), (2, 3), (1, 2), 0),
    ("k3,s2-odd-size", (2, 1, 6, 7), 3, 2, 0),
]:
    _kp, _pp = _pair(_k), _pair(_p)
    _sp = _kp if _s is None else _pair(_s)
    row("nn.max_pool2d", _variant,
        lambda x, k=_k, s=_s, p=_p: F.max_pool2d(x, k, stride=s, padding=p),
        lambda x, k=_k, s=_s, p=_p: TF.max_pool2d(x, k, stride=s, padding=p),
        [_xs], DISTINCT, composite=_c_max_pool2d(_kp, _sp, _pp))
    row("nn.avg_pool2d", _variant,
        lambda x, k=_k, s=_s, p=_p: F.avg_pool2d(x, k, stride=s, padding=p),
        lambda x, k=_k, s=_s, p=_p: TF.avg_pool2d(x, k, stride=s, padding=p),
        [_xs], composite=_c_avg_pool2d(_kp, _sp, _pp))
row("nn.avg_pool2d", "k3,s2,p1,count_include_pad=False",
    lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
    lambda x: TF.avg_pool2d(x, 3, 2, 1, count_include_pad=False), [(1, 2, 5, 5)],
    composite=_c_avg_pool2d((3, 3), (2, 2), (1, 1), count_include_pad=False))
row("nn.avg_pool2d", "k2,s1,p1,count_include_pad=False",
    lambda x: F.avg_pool2d(x, 2, 1, 1, count_include_pad=False),
    lambda x: TF.avg_pool2d(x, 2, 1, 1, count_include_pad=False), [(1, 1, 3, 4)],
    composite=_c_avg_pool2d((2, 2), (1, 1), (1, 1), count_include_pad=False))
row("nn.avg_pool2d", "divisor_override=3",
    lambda x: F.avg_pool2d(x, 2, divisor_override=3),
    lambda x: TF.avg_pool2d(x, 2, divisor_override=3), [(1, 2, 4, 4)],
    composite=_c_avg_pool2d((2, 2), (2, 2), (0, 0), divisor_override=3))
row("nn.avg_pool2d", "module(k2,s1)", lambda x: gg.nn.AvgPool2d(2, stride=1)(x),
    lambda x: torch.nn.AvgPool2d(2, stride=1)(x), [(1, 2, 3, 3)],
    composite=_c_avg_pool2d((2, 2), (1, 1), (0, 0)))
row("nn.max_pool2d", "module(k2,s1)", lambda x: gg.nn.MaxPool2d(2, stride=1)(x),
    lambda x: torch.nn.MaxPool2d(2, stride=1)(x), [(1, 2, 3, 3)], DISTINCT,
    composite=_c_max_pool2d((2, 2), (1, 1), (0, 0)))
# exact ties in a window: the first maximum (row-major) takes the whole gradient, as torch
row("nn.max_pool2d", "ties-first-max-wins", lambda x: F.max_pool2d(x, 2, 1),
    lambda x: TF.max_pool2d(x, 2, 1),
    make=lambda rng: [rng.integers(0, 2, size=(1, 2, 4, 4))], gradcheck=False,
    second_order=False)

# ---- linear, embedding (composites of matmul and indexing) -----------------------------
row("nn.linear", "bias", F.linear, TF.linear, [(4, 3), (2, 3), (2,)])
row("nn.linear", "no-bias,batched", F.linear, TF.linear, [(2, 4, 3), (5, 3)])
_IDS = np.array([[0, 2, 2], [3, 0, 1]])
row("nn.embedding", "repeats", lambda w: F.embedding(gg.tensor(_IDS), w),
    lambda w: TF.embedding(T(_IDS), w), [(4, 3)])

# =========================================================================== indexing
# ---- scatter_add: the VJP of x[index], reached through a create_graph backward ---------
# f(v) = d <x[index], v> / dx = zeros(x.shape) with v added at index (repeats add up).


def _scatter(shape, index):
    def f(v):
        x = gg.zeros(shape, dtype=np.float64, requires_grad=True)
        (gx,) = gg.autograd.grad(x[index], x, grad_outputs=v, create_graph=True)
        return gx

    return f


def _t_index_add(shape, index):
    tindex = tuple(torch.tensor(i) for i in (index if isinstance(index, tuple) else (index,)))
    return lambda v: torch.zeros(shape, dtype=torch.float64).index_put(tindex, v, accumulate=True)


_SC_IDX = np.array([0, 2, 2, 1, 0, 2])
_SC_ONEHOT = (_SC_IDX[:, None] == np.arange(3)).astype(np.float64)  # (reads, rows)
_SC_MASK = np.array([[1, 0, 1, 1], [0, 0, 1, 0], [1, 1, 0, 0]], dtype=bool)
row("scatter_add", "int-array-repeats", _scatter((3, 4), _SC_IDX), _t_index_add((3, 4), _SC_IDX),
    [(6, 4)], composite=lambda v: gg.einsum("kr,kc->rc", _SC_ONEHOT, v))
row("scatter_add", "two-int-arrays-repeats",
    _scatter((3, 4), (np.array([0, 1, 1, 0]), np.array([2, 2, 0, 2]))),
    _t_index_add((3, 4), (np.array([0, 1, 1, 0]), np.array([2, 2, 0, 2]))), [(4,)])
row("scatter_add", "int-array-2d", _scatter((3, 2), np.array([[0, 1], [1, 1]])),
    _t_index_add((3, 2), np.array([[0, 1], [1, 1]])), [(2, 2, 2)])
row("scatter_add", "mask", _scatter((3, 4), _SC_MASK), _t_index_add((3, 4), _SC_MASK),
    [(int(_SC_MASK.sum()),)])
row("scatter_add", "slice", _scatter((4, 3), slice(1, 3)),
    lambda v: TF.pad(v, (0, 0, 1, 1)), [(2, 3)])


# ---- index_put: gg.index_put(x, index, v), the op behind ``y[index] = v`` --------------
def _t_put(index):
    tindex = tuple(torch.tensor(i) if isinstance(i, np.ndarray) else i
                   for i in (index if isinstance(index, tuple) else (index,)))

    def f(x, v):
        y = x.clone()
        y[tindex] = v
        return y

    return f


for _variant, _ix, _vs in [
    ("int", 1, (4,)),
    ("int-broadcast", 1, ()),
    ("slice-broadcast-row", slice(0, 2), (4,)),
    ("int-array", np.array([2, 0]), (2, 4)),
    ("two-int-arrays", (np.array([0, 2]), np.array([1, 3])), (2,)),
    ("mask", _SC_MASK, (int(_SC_MASK.sum()),)),
    ("mask-scalar-value", _SC_MASK, ()),
    ("slice+int-array", (slice(None), np.array([3, 0])), (3, 2)),
]:
    row("index_put", _variant, lambda x, v, i=_ix: gg.index_put(x, i, v), _t_put(_ix),
        [(3, 4), _vs])
row("index_put", "value-no-grad", lambda x, v: gg.index_put(x, (0, slice(1, 3)), v),
    _t_put((0, slice(1, 3))), [(3, 4), (2,)], diff=(True, False))

# =========================================================================== dtypes
row("astype", "float64->float64", lambda x: gg.astype(x, np.float64),
    lambda x: x.to(torch.float64), [(3, 4)])
row("astype", "method('float64')", lambda x: (x * 2.0).astype("float64"),
    lambda x: (x * 2.0).to(torch.float64), [(2, 3)])
row("astype", "method(np.dtype)-in-graph", lambda x: gg.exp(x.astype(np.dtype(np.float64))),
    lambda x: torch.exp(x.to(torch.float64)), [(4,)])
