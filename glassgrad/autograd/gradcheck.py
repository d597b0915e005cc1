"""Gradient checking: compare the engine's gradients with central differences.

The central difference (f(x + eps) - f(x - eps)) / (2 eps) has error O(eps^2), so in
float64 with eps = 1e-6 it agrees with a correct analytical derivative to ~1e-10 — a
wrong backward rule stands out by orders of magnitude. In float32 the rounding error of
f itself (~1e-7 relative) divided by 2 eps swamps everything, so checks run in float64.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..modes import state
from ..tensor import Tensor
from .grad import grad as autograd_grad

__all__ = ["gradcheck", "gradgradcheck", "numerical_gradient", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree; the message says where and by how much."""


def _as_tuple(x):
    return (x,) if isinstance(x, Tensor) or not isinstance(x, (tuple, list)) else tuple(x)


def _outputs(fn, inputs):
    out = fn(*inputs)
    outs = _as_tuple(out)
    return [o for o in outs if isinstance(o, Tensor)]


def _to_float64(inputs):
    """Float64 copies of the inputs (keeping requires_grad), warning on lower precision."""
    copies = []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor):
            if x.dtype.kind == "f" and x.dtype != np.float64 and x.requires_grad:
                warnings.warn(
                    f"gradcheck: input {i} is {x.dtype}; central differences are only "
                    "meaningful in float64, so it is checked as a float64 copy",
                    UserWarning, stacklevel=3,
                )
            data = x._data.astype(np.float64) if x.dtype.kind == "f" else x._data.copy()
            copies.append(Tensor(data, requires_grad=x.requires_grad))
        else:
            copies.append(x)
    return copies


def _analytical(fn, inputs, wrt):
    """Jacobian blocks J[o][i] of shape (out_size, in_size), one backward per output entry."""
    outs = _outputs(fn, inputs)
    blocks = [[np.zeros((o.size, inputs[i].size)) for i in wrt] for o in outs]
    targets = [inputs[i] for i in wrt]
    for oi, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for j in range(o.size):
            seed = np.zeros(o.shape, dtype=np.float64)
            seed.flat[j] = 1.0
            grads = autograd_grad(o, targets, grad_outputs=Tensor(seed), retain_graph=True,
                                  allow_unused=True)
            for k, gk in enumerate(grads):
                if gk is not None:
                    blocks[oi][k][j] = gk._data.ravel()
    # only the shapes leave: the graph (which protects the inputs' arrays) is dropped here
    return [o.shape for o in outs], blocks


def _numerical(fn, inputs, wrt, eps, out_shapes):
    # Grad mode stays as it is: for gradgradcheck ``fn`` itself takes gradients.
    n_outs = len(out_shapes)
    blocks = [[None] * len(wrt) for _ in range(n_outs)]
    for k, i in enumerate(wrt):
        x = inputs[i]
        flat = x._data.reshape(-1)  # a view: perturb in place, restore after
        cols = [[] for _ in range(n_outs)]
        for e in range(flat.size):
            old = flat[e]
            flat[e] = old + eps
            plus = [o._data.astype(np.float64).ravel() for o in _outputs(fn, inputs)]
            flat[e] = old - eps
            minus = [o._data.astype(np.float64).ravel() for o in _outputs(fn, inputs)]
            flat[e] = old
            for oi in range(n_outs):
                cols[oi].append((plus[oi] - minus[oi]) / (2 * eps))
        for oi in range(n_outs):
            size = int(np.prod(out_shapes[oi]))
            blocks[oi][k] = (np.stack(cols[oi], axis=1) if cols[oi]
                             else np.zeros((size, 0)))
    return blocks


_LISTED = 5  # how many of the worst Jacobian entries a failure message lists


def _index(flat, shape) -> tuple:
    return tuple(int(v) for v in np.unravel_index(flat, shape)) if shape else ()


def _relative(a, n) -> float:
    return abs(a - n) / max(abs(a), abs(n), 1e-300)


def _describe(worst, inputs, out_shapes) -> str:
    """One line of a failure's table: which entry, both values, the relative error."""
    _, oi, i, j, e, a, n = worst
    return (f"  d output {oi}{list(_index(j, out_shapes[oi]))} / d input {i} element "
            f"{_index(e, inputs[i].shape)}: analytical {a:.10g}, numerical {n:.10g}, "
            f"relative error {_relative(a, n):.3g}")


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """Check ``fn``'s analytical gradients against central differences, in float64.

    Parameters
    ----------
    fn : callable taking the inputs and returning a Tensor or a tuple of Tensors.
    inputs : Tensor or tuple; those with ``requires_grad=True`` are checked.
    eps, atol, rtol : step and tolerance: pass where ``|a - n| <= atol + rtol * |n|``.
    raise_exception : raise :class:`GradcheckError` on a mismatch (else return False).

    Examples
    --------
    >>> x = gg.tensor(np.random.randn(3), requires_grad=True, dtype=np.float64)
    >>> gg.autograd.gradcheck(gg.tanh, (x,))
    True
    """
    inputs = _to_float64(_as_tuple(inputs))
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input has requires_grad=True, nothing to check")
    out_shapes, analytical = _analytical(fn, inputs, wrt)
    numerical = _numerical(fn, inputs, wrt, eps, out_shapes)
    failures = []  # (excess, output, input, output element, input element, a, n)
    count = 0  # all mismatching entries; the message lists the worst few
    for oi in range(len(out_shapes)):
        for k, i in enumerate(wrt):
            a, n = analytical[oi][k], numerical[oi][k]
            excess = np.abs(a - n) - (atol + rtol * np.abs(n))
            # a NaN on one side only is the worst mismatch there is (NaN > 0 is False)
            excess[np.isnan(a) != np.isnan(n)] = np.inf
            if excess.size and excess.max() > 0:
                flat = excess.ravel()
                count += int(np.count_nonzero(flat > 0))
                top = np.argsort(-flat, kind="stable")[:_LISTED]
                for f in top:
                    if not flat[f] > 0:
                        break
                    j, e = np.unravel_index(f, excess.shape)
                    failures.append((flat[f], oi, i, j, e, a[j, e], n[j, e]))
    if not failures:
        return True
    failures.sort(key=lambda w: -w[0])
    lines = [_describe(w, inputs, out_shapes) for w in failures[:_LISTED]]
    _, oi, i, j, e, a, n = failures[0]
    elem = _index(e, inputs[i].shape)
    out_elem = _index(j, out_shapes[oi])
    rel = _relative(a, n)
    msg = (
        f"gradcheck failed: input {i}, element {elem} "
        f"(d output {oi}{list(out_elem)} / d input {i}): "
        f"analytical {a:.10g}, numerical {n:.10g}, relative error {rel:.3g} "
        f"(atol={atol}, rtol={rtol}, eps={eps})\n"
        f"the worst {len(lines)} of the {count} mismatching Jacobian entries:\n"
        + "\n".join(lines)
        + "\nfind_bad_backward(fn, *inputs) names the op whose backward is wrong."
    )
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True) -> bool:
    """Check second derivatives: gradcheck of ``v -> (d fn / d inputs)^T v``.

    The first-order gradients are taken with ``create_graph=True`` and then checked
    themselves, against central differences, with respect to the inputs and to the
    cotangents ``grad_outputs`` (random when not given).
    """
    inputs = _to_float64(_as_tuple(inputs))
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outs = _outputs(fn, inputs)
    out_shapes = [o.shape for o in outs]
    del outs  # drop the graph: it protects the inputs' arrays
    rng = np.random.default_rng(0)
    if grad_outputs is None:
        grad_outputs = [Tensor(rng.standard_normal(s), requires_grad=True) for s in out_shapes]
    else:
        grad_outputs = [Tensor(np.asarray(getattr(g, "_data", g), dtype=np.float64),
                               requires_grad=True) for g in _as_tuple(grad_outputs)]
    n_in = len(inputs)

    def first_order(*args):
        xs, vs = args[:n_in], args[n_in:]
        outs = _outputs(fn, xs)
        ys = [o for o in outs if o.requires_grad]
        used = [v for o, v in zip(outs, vs) if o.requires_grad]
        targets = [xs[i] for i in wrt]
        grads = autograd_grad(ys, targets, grad_outputs=used, create_graph=True,
                              allow_unused=True)
        return tuple(g if g is not None else Tensor(np.zeros(t.shape)) for g, t in
                     zip(grads, targets))

    return gradcheck(first_order, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception)


def numerical_gradient(f, inputs, eps=1e-7):
    """Central-difference gradient of a scalar function, one array per input.

    ``f(*inputs)`` must return a scalar (a Python number or a one-element Tensor). Each
    element of each input is nudged by ``+eps`` and ``-eps`` in turn and
    ``(f(x + eps) - f(x - eps)) / (2 eps)`` recorded — the seed's gradient checker, for
    any function. Inputs are evaluated as float64 copies.

    >>> w = gg.tensor([1.0, 2.0])
    >>> gg.autograd.numerical_gradient(lambda w: (w ** 2).sum(), [w])[0]
    array([2., 4.])
    """
    inputs = list(_as_tuple(inputs))
    copies = []
    for x in inputs:
        data = np.array(getattr(x, "_data", x), dtype=np.float64)
        copies.append(Tensor(data) if isinstance(x, Tensor) else data)
    grads = []
    prev = state.grad_enabled
    state.grad_enabled = False
    try:
        for x in copies:
            arr = x._data if isinstance(x, Tensor) else x
            flat = arr.reshape(-1)
            g = np.zeros(arr.size)
            for e in range(arr.size):
                old = flat[e]
                flat[e] = old + eps
                plus = _scalar(f(*copies))
                flat[e] = old - eps
                minus = _scalar(f(*copies))
                flat[e] = old
                g[e] = (plus - minus) / (2 * eps)
            grads.append(g.reshape(arr.shape))
    finally:
        state.grad_enabled = prev
    return grads


def _scalar(value) -> float:
    data = np.asarray(getattr(value, "_data", value), dtype=np.float64)
    if data.size != 1:
        raise ValueError(f"numerical_gradient: f must return a scalar, got shape {data.shape}")
    return float(data.reshape(()))
