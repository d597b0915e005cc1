"""Normalization: one fused primitive, ``normalize``, behind batch norm and layer norm.

Both standardise x over a set of axes A and apply an affine map::

    mean = mean_A(x),   var = mean_A((x - mean)**2)   (biased),   sigma = sqrt(var + eps)
    xhat = (x - mean) / sigma,                         out = weight * xhat + bias

Batch norm takes A = every axis but the channels (statistics per channel, over the
batch); layer norm takes A = the trailing ``normalized_shape`` axes (per sample). In
evaluation mode batch norm uses running statistics instead, which makes it an affine
map of x: that needs no primitive and is written with ordinary ops.
"""

from __future__ import annotations

import numpy as np

from ..backend import array_of
from ..ops.reduction import reduced_size
from ..primitive import OpError, apply, primitive
from ._stash import Stash, is_array, release_stash, shape_of

__all__ = ["normalize", "batch_norm", "layer_norm"]


def _stats(x, axes, eps, stash):
    """(mean, 1/sigma) with the reduced axes kept: from the stash on the array path,
    recomputed with recorded ops when x is a Tensor (so they differentiate)."""
    if stash is not None and stash.values is not None and is_array(x):
        mean, _, invstd = stash.values
        return mean, invstd
    mean = np.mean(x, axis=axes, keepdims=True)
    xc = x - mean
    return mean, 1 / np.sqrt(np.mean(xc * xc, axis=axes, keepdims=True) + eps)


def _constant_along(w, axes, ndim) -> bool:
    """True when the (broadcast) weight has length 1 along every normalized axis."""
    if w is None:
        return True
    lead = ndim - w.ndim
    return all(a < lead or w.shape[a - lead] == 1 for a in axes)


@primitive(save="x w", quiet=True, params="axes eps stash", on_release=release_stash,
           public=False)
class normalize:
    """out = w * xhat + b,  xhat = (x - mean_A x) / sqrt(var_A x + eps),  stats over A.

    Derivation (M = number of elements in each group over A, h = g * w): xhat depends on
    x directly and through mean and var. With d mean/dx_i = 1/M and
    d var/dx_i = 2 (x_i - mean) / M, the chain rule collapses to the closed form

        gx = (1/M) / sigma * (M h - sum_A h - xhat * sum_A(h * xhat)).

    When w is constant over A (batch norm: one gamma per channel) it moves out of the
    sums: gx = (1/M) * gamma/sigma * (M g - sum(g) - xhat * sum(g * xhat)). The
    batch-norm reductions give gw and gb for free: gw = sum(g * xhat), gb = sum(g).
    The forward stashes mean, var and 1/sigma; on Tensors (higher order) they are
    recomputed with recorded ops, so the same formula differentiates again.
    VJP: gx as above,  gw = g * xhat (summed to w's shape),  gb = g (summed likewise).
    JVP: t_out = w * t_xhat + tw * xhat + tb,
         t_xhat = (tx - mean_A(tx) - xhat * mean_A(tx * xhat)) / sigma.
    """

    def call(x, weight, bias, axes, eps, stash=None):
        """``weight * (x - mean) / sqrt(var + eps) + bias`` with statistics over ``axes``."""
        return apply(normalize, (x, weight, bias), (tuple(axes), float(eps), stash))

    def forward(x, w, b, axes, eps, stash):
        mean = np.mean(x, axis=axes, keepdims=True)
        xc = x - mean
        var = np.mean(xc * xc, axis=axes, keepdims=True)
        invstd = 1 / np.sqrt(var + eps)
        if stash is not None:
            stash.values = (mean, var, invstd)
        out = xc
        out *= invstd
        if w is not None:
            out *= w
        if b is not None:
            out += b
        return out

    def vjp_x(g, out, x, w, b, axes, eps, stash):
        mean, invstd = _stats(x, axes, eps, stash)
        xhat = (x - mean) * invstd
        if _constant_along(w, axes, len(x.shape)):
            g_mean = np.mean(g, axis=axes, keepdims=True)
            gxhat_mean = np.mean(g * xhat, axis=axes, keepdims=True)
            scale = invstd if w is None else w * invstd
            return scale * (g - g_mean - xhat * gxhat_mean)
        h = g * w
        return invstd * (h - np.mean(h, axis=axes, keepdims=True)
                         - xhat * np.mean(h * xhat, axis=axes, keepdims=True))

    def vjp_w(g, out, x, w, b, axes, eps, stash):
        mean, invstd = _stats(x, axes, eps, stash)
        gw = g * ((x - mean) * invstd)
        if _constant_along(w, axes, len(x.shape)):  # batch norm: reduce here, not in sum_to
            return np.sum(gw, axis=axes, keepdims=True)
        return gw

    def vjp_b(g, out, x, w, b, axes, eps, stash):
        if _constant_along(w, axes, len(x.shape)):
            return np.sum(g, axis=axes, keepdims=True)
        return g

    def jvp_x(tx, out, x, w, b, axes, eps, stash):
        mean, invstd = _stats(x, axes, eps, stash)
        xhat = (x - mean) * invstd
        t_xhat = invstd * (tx - np.mean(tx, axis=axes, keepdims=True)
                           - xhat * np.mean(tx * xhat, axis=axes, keepdims=True))
        return t_xhat if w is None else w * t_xhat

    def jvp_w(tw, out, x, w, b, axes, eps, stash):
        mean, invstd = _stats(x, axes, eps, stash)
        return tw * ((x - mean) * invstd)

    def jvp_b(tb, out, x, w, b, axes, eps, stash):
        return tb



def batch_norm(input, running_mean, running_var, weight=None, bias=None,  # noqa: A002
               training=False, momentum=0.1, eps=1e-5):
    """Batch normalization over (N, C), (N, C, L) or (N, C, H, W), per channel C.

    Training: batch statistics (biased variance), and when running buffers are given
    they are updated in place: ``running = (1 - momentum) * running + momentum * batch``
    with the *unbiased* batch variance (times M / (M - 1)), as PyTorch. Evaluation:
    the running statistics, ``(x - running_mean) / sqrt(running_var + eps)``.

    >>> F.batch_norm(gg.tensor([[1.0, 2.0], [3.0, 6.0]]), None, None, training=True)
    tensor([[-0.999995 , -0.9999988],
            [ 0.999995 ,  0.9999988]])
    """
    shape = shape_of(input)
    if len(shape) < 2:
        raise OpError(f"batch_norm: input must be (N, C, ...), got shape {shape}")
    c = shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and shape_of(t) != (c,):
            raise OpError(f"batch_norm: {name} must have shape ({c},) for an input with "
                          f"{c} channels (shape {shape}), got {shape_of(t)}")
    bshape = (c,) + (1,) * (len(shape) - 2)  # broadcasts against (N, C, ...) from the right
    w = None if weight is None else weight.reshape(bshape)
    b = None if bias is None else bias.reshape(bshape)
    if not training:
        if running_mean is None or running_var is None:
            raise OpError("batch_norm: evaluation mode needs running_mean and running_var "
                          "(or pass training=True to use the batch statistics)")
        rm = array_of(running_mean).reshape(bshape)
        scale = 1 / np.sqrt(array_of(running_var).reshape(bshape) + eps)
        if w is not None:
            scale = w * scale
        out = (input - rm) * scale
        return out if b is None else out + b
    axes = (0,) + tuple(range(2, len(shape)))
    m = reduced_size(shape, axes)
    if m <= 1:
        raise OpError(f"batch_norm: expected more than 1 value per channel when training, "
                      f"got input of shape {shape}")
    stash = Stash()
    out = apply(normalize, (input, w, b), (axes, float(eps), stash))
    if running_mean is not None or running_var is not None:
        mean, var, _ = stash.values
        _blend(running_mean, mean.reshape(c), momentum)
        _blend(running_var, var.reshape(c) * (m / (m - 1)), momentum)
    return out


def _blend(buffer, batch, momentum) -> None:
    if buffer is None:
        return
    arr = array_of(buffer)
    arr[...] = (1 - momentum) * arr + momentum * batch


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Layer normalization over the trailing ``normalized_shape`` axes of each sample.

    >>> F.layer_norm(gg.tensor([[1.0, 2.0], [3.0, 6.0]]), (2,))
    tensor([[-0.99998  ,  0.99998  ],
            [-0.9999978,  0.9999978]])
    """
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(n) for n in normalized_shape)
    shape = shape_of(input)
    k = len(normalized_shape)
    if k == 0 or shape[len(shape) - k:] != normalized_shape or len(shape) < k:
        raise OpError(f"layer_norm: the input's trailing shape must be normalized_shape "
                      f"{normalized_shape}, got input of shape {shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and shape_of(t) != normalized_shape:
            raise OpError(f"layer_norm: {name} must have shape {normalized_shape}, got "
                          f"{shape_of(t)}")
    axes = tuple(range(len(shape) - k, len(shape)))
    return apply(normalize, (input, weight, bias), (axes, float(eps), Stash()))
