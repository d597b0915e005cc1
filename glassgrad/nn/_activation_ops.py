"""Activations: the primitives they need (erf, softplus, softmax, log_softmax) and the
functional forms, most of them composites of existing ops (no rules of their own).

Stability rules kept throughout: never evaluate ``exp`` of a large positive number,
also not in a branch that ``where`` discards (its gradient would be 0 * inf = NaN).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import ops
from ..ops.elementwise import logistic
from ..ops.exp_log import erf
from ..ops.reduction import log_sum_exp_shifted, max_shift
from ..primitive import OpError, apply, primitive
from ._stash import shape_of

__all__ = [
    "erf", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax",
    "softplus", "elu",
]


# --- erf ------------------------------------------------------------------------------------
# erf is the public op gg.erf (its card: glassgrad/ops/exp_log.py), imported above: gelu
# uses it, and ``from glassgrad.nn._activation_ops import erf`` keeps working.


# --- softplus ---------------------------------------------------------------------------------


@primitive(save="x", quiet=True, params="beta threshold", public=False)
class softplus:
    """out = log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.

    Computed as logaddexp(0, beta x) / beta, which never overflows.
    d out/dx = exp(beta x) / (1 + exp(beta x)) = sigmoid(beta x)  (1 past the threshold).
    VJP: gx = g * sigmoid(beta x) (g past the threshold).
    JVP: t_out = tx * sigmoid(beta x) (tx past the threshold).
    """

    def call(input, beta=1.0, threshold=20.0):  # noqa: A002  (PyTorch's names)
        """Smooth ReLU ``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold``.

        >>> F.softplus(gg.tensor([0.0, 30.0]))     # log 2, and linear past the threshold
        tensor([ 0.6931472, 30.       ])
        """
        return apply(softplus, (input,), (float(beta), float(threshold)))

    def forward(x, beta, threshold):
        with np.errstate(over="ignore"):  # beta x beyond the float range is +-inf: the
            bx = x * beta  # branches then give x, or logaddexp(0, -inf) / beta = 0: right
        return np.where(bx > threshold, x, np.logaddexp(0, bx) / beta)

    def vjp_x(g, out, x, beta, threshold):
        bx = x * beta
        return np.where(bx > threshold, g, g * logistic(bx))

    def jvp_x(tx, out, x, beta, threshold):
        bx = x * beta
        return np.where(bx > threshold, tx, tx * logistic(bx))


# --- softmax and log-softmax --------------------------------------------------------------------

def _log_softmax_array(x, axis):
    with np.errstate(over="ignore"):  # x - max below -max_float is -inf: exp gives 0
        shifted = x - max_shift(x, axis)
    return shifted - log_sum_exp_shifted(shifted, axis)


@primitive(save="out", params="axis", public=False)
class log_softmax:
    """out = x - logsumexp(x) along ``axis`` (shifted by the max: no overflow).

    d out_i / d x_j = [i == j] - softmax_j, and softmax = exp(out), so
    VJP: gx = g - exp(out) * sum(g).     JVP: t_out = tx - sum(exp(out) * tx).
    """

    def call(input, dim=None):  # noqa: A002
        """Log of the softmax along ``dim``, ``x - logsumexp(x)``, stable and exact.

        >>> F.log_softmax(gg.tensor([[0.0, 0.0]]), dim=1)
        tensor([[-0.6931472, -0.6931472]])
        """
        return apply(log_softmax, (input,), (_dim("log_softmax", input, dim),))

    def forward(x, axis):
        return _log_softmax_array(x, axis)

    def vjp_x(g, out, x, axis):
        return g - np.exp(out) * np.sum(g, axis=axis, keepdims=True)

    def jvp_x(tx, out, x, axis):
        return tx - np.sum(np.exp(out) * tx, axis=axis, keepdims=True)


@primitive(save="out", params="axis", public=False)
class softmax:
    """out = exp(x - logsumexp(x)) along ``axis``;  d out_i/d x_j = out_i ([i == j] - out_j).

    VJP: gx = out * (g - sum(g * out)).     JVP: t_out = out * (tx - sum(out * tx)).
    """

    def call(input, dim=None):  # noqa: A002
        """Softmax along ``dim``: exp(x) / sum(exp(x)), stable for logits of any size.

        >>> F.softmax(gg.tensor([[0.0, 0.0, 1e4]]), dim=1)   # no overflow
        tensor([[0., 0., 1.]])
        """
        return apply(softmax, (input,), (_dim("softmax", input, dim),))

    def forward(x, axis):
        return np.exp(_log_softmax_array(x, axis))

    def vjp_x(g, out, x, axis):
        return out * (g - np.sum(g * out, axis=axis, keepdims=True))

    def jvp_x(tx, out, x, axis):
        return out * (tx - np.sum(out * tx, axis=axis, keepdims=True))


def _dim(name, x, dim):
    ndim = len(shape_of(x))
    if dim is None:  # PyTorch's legacy implicit choice, with PyTorch's warning
        dim = 0 if ndim in (0, 1, 3) else 1
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated: it picked "
                      f"dim={dim} for a {ndim}-d input. Pass dim= explicitly (usually the "
                      "class axis, dim=-1)", UserWarning, stacklevel=4)
    if ndim == 0:
        return 0
    if not -ndim <= dim < ndim:
        raise OpError(f"{name}: dim {dim} is out of range for an input of shape "
                      f"{shape_of(x)}")
    return int(dim) % ndim


# the public calls' docstring examples, for doctest (a card is not a function it finds)
__test__ = {"softplus": softplus.call, "softmax": softmax.call,
            "log_softmax": log_softmax.call}


# --- composites ------------------------------------------------------------------------------


def leaky_relu(input, negative_slope=0.01):  # noqa: A002
    """x where x > 0, else negative_slope * x (gradient negative_slope at 0, as PyTorch).

    >>> F.leaky_relu(gg.tensor([-1.0, 2.0]), 0.1)
    tensor([-0.1,  2. ])
    """
    return ops.where(ops.greater(input, 0), input, input * negative_slope)


def sigmoid(input):  # noqa: A002
    """1 / (1 + exp(-x)), stable for any finite x.

    >>> F.sigmoid(gg.tensor([-1e4, 0.0, 1e4]))
    tensor([0. , 0.5, 1. ])
    """
    return ops.sigmoid(input)


def tanh(input):  # noqa: A002
    """Hyperbolic tangent.

    >>> F.tanh(gg.tensor([0.0]))
    tensor([0.])
    """
    return ops.tanh(input)


def gelu(input, approximate="none"):  # noqa: A002
    """Gaussian error linear unit: x * Phi(x), Phi the standard normal CDF.

    ``approximate='none'``: x * (1 + erf(x / sqrt 2)) / 2 (exact);
    ``'tanh'``: x * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2.

    >>> F.gelu(gg.tensor([-1.0, 0.0, 1.0]))
    tensor([-0.15865526,  0.        ,  0.8413447 ])
    """
    if approximate == "none":
        return input * (0.5 + 0.5 * erf(input * (1 / math.sqrt(2.0))))
    if approximate == "tanh":
        # Beyond |x| = 1e4 the tanh is exactly +-1 (its argument exceeds 3e10), so the
        # cubic may see a clipped x: the same value and gradient, and no overflow of
        # x**3 in float32 (above about 7e12) to warn about.
        xc = ops.clip(input, -1e4, 1e4)
        inner = (xc + 0.044715 * xc * xc * xc) * math.sqrt(2.0 / math.pi)
        return input * (0.5 + 0.5 * ops.tanh(inner))
    raise OpError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def elu(input, alpha=1.0):  # noqa: A002
    """x where x > 0, else alpha * (exp(x) - 1).

    The exp only ever sees the non-positive part (0 elsewhere), so large x cannot
    overflow it, not even in the discarded branch.

    >>> F.elu(gg.tensor([-1e4, 2.0]))
    tensor([-1.,  2.])
    """
    positive = ops.greater(input, 0)
    negative_part = ops.where(positive, 0.0, input)
    return ops.where(positive, input, (ops.exp(negative_part) - 1.0) * alpha)
