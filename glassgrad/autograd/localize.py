"""A gradient check that names the op whose backward is wrong.

``gradcheck`` says *that* a composite's gradient is wrong; :func:`find_bad_backward` says
*which op*. It runs ``fn`` once, recording the graph and, for every recorded op, the exact
input values it was given and the place in the user's code that called it. Then it checks
every node on its own, in creation order: the node's VJP rule, fed a random cotangent
``u``, against central differences of the node's own forward along a random direction
``v`` (a directional check in float64)::

    <VJP(u), v>  ==  (<u, f(x + eps v)> - <u, f(x - eps v)>) / (2 eps)

The first node that fails is reported (a built-in op by name, a custom
:class:`~glassgrad.autograd.Function` by class name) with its creation ``file:line`` and
its worst element. There is no PyTorch or JAX equivalent: ``torch.autograd.gradcheck``
checks only the composite.

How the inputs are seen: a node keeps only the values its rule needs, so while ``fn``
runs a profiling hook (``sys.setprofile``, this thread only, chained to any profiler
already set) watches :func:`glassgrad.primitive.apply` and ``Function._apply`` return
and copies the input arrays they were given (constants included). Nothing in the
library is wrapped or changed, and outside this function ops pay nothing.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np

from ..broadcast import sum_to
from ..graph import Node, walk
from ..modes import state
from ..primitive import SELECT, apply
from ..sites import is_user_file
from ..tensor import Tensor
from .function import Function, FunctionCtx

__all__ = ["find_bad_backward", "BadBackward"]

_APPLY_CODE = apply.__code__
_FN_APPLY_CODE = Function._apply.__func__.__code__
_MAX_ELEMENTWISE = 4096  # largest input whose worst element is searched element by element
# Ops that read only one triangle of a (batch of) symmetric matrices: their VJP is the
# symmetric gradient (as PyTorch's), so they are checked along symmetric directions.
_SYMMETRIC_INPUT = {"linalg.cholesky", "linalg.eigh", "linalg.eigvalsh"}


@dataclass
class BadBackward:
    """What :func:`find_bad_backward` found: the first op whose VJP disagrees with
    central differences of its own forward.

    ``op``: the primitive's name (``"tanh"``) or the custom Function's class name;
    ``filename``/``lineno``: where the user's code created it (None if unknown);
    ``input_index``: which of the op's inputs (argument position) has the wrong
    gradient; ``worst_index``: the element of that input that is most wrong (None when
    the input is too large to search element by element); ``analytic``/``numeric``: the
    VJP's value and the central difference there (the directional values when
    ``worst_index`` is None); ``rel_error``: their relative difference; ``message``:
    all of it as a paragraph (also ``str(report)``).
    """

    op: str
    filename: str | None
    lineno: int | None
    input_index: int
    worst_index: tuple | None
    analytic: float
    numeric: float
    rel_error: float
    message: str

    def __str__(self) -> str:
        return self.message


# --- recording the forward ------------------------------------------------------------

def _copy(d):
    return d.copy() if isinstance(d, np.ndarray) else d


def _site(frame):
    """The innermost frame outside glassgrad: where the user's code made the op."""
    while frame is not None:
        path = frame.f_code.co_filename
        if is_user_file(path):
            return os.path.abspath(path), frame.f_lineno
        frame = frame.f_back
    return None, None


class _Recorder:
    """Profile hook: for each recorded node, its input values and creation site."""

    def __init__(self, prev) -> None:
        self.prev = prev
        self.builtin: dict = {}  # Node -> (input arrays, (file, line))
        self.custom: dict = {}  # Node -> (cls, args, (file, line))

    def __call__(self, frame, event, arg):
        if self.prev is not None:
            self.prev(frame, event, arg)
        if event != "return" or arg is None:
            return
        code = frame.f_code
        if code is _APPLY_CODE:
            first = arg[0] if type(arg) is tuple else arg
            node = getattr(first, "_node", None)
            if node is None:
                return
            if node.prim is SELECT:
                node = node.parents[0]
            if node in self.builtin:
                return
            datas = frame.f_locals.get("datas")
            if datas is None:  # returned through forward mode: the inner call recorded
                return
            self.builtin[node] = ([_copy(d) for d in datas], _site(frame.f_back))
        elif code is _FN_APPLY_CODE:
            _, outs = arg
            first = outs[0] if isinstance(outs, tuple) else outs
            node = getattr(first, "_node", None)
            if node is None:
                return
            if node.prim is SELECT:
                node = node.parents[0]
            local = frame.f_locals
            args = [Tensor._wrap(_copy(a._data)) if isinstance(a, Tensor) else a
                    for a in local["args"]]
            self.custom[node] = (local["cls"], args, _site(frame.f_back))


# --- checking one node ------------------------------------------------------------------

def _is_float(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _inner(u, outs) -> float:
    return float(sum(np.sum(uk * np.asarray(ok, dtype=np.float64)) for uk, ok in zip(u, outs)))


class _Case:
    """One node made checkable: ``run(xs)`` re-runs its forward (a tuple of arrays) on
    the input list ``xs``; ``vjp(xs, u)`` gives one input cotangent per entry of
    ``which``."""

    def __init__(self, name, where, xs, which, run, vjp, symmetric=False):
        self.name, self.where, self.xs, self.which = name, where, xs, which
        self.run, self.vjp = run, vjp
        self.symmetric = symmetric  # perturb only along symmetric matrices

    def direction(self, v):
        """``v`` as an allowed direction (symmetrised in the last two axes if needed)."""
        return (v + np.swapaxes(v, -1, -2)) / 2 if self.symmetric and v.ndim >= 2 else v


def _builtin_case(node, datas):
    prim = node.prim
    params = node.params
    multi = prim.outputs > 1
    xs = [d.astype(np.float64) if _is_float(d) else d for d in datas]

    def run(xs):
        out = prim.forward(list(xs), *params) if prim.variadic else prim.forward(*xs, *params)
        return tuple(np.asarray(o) for o in out) if multi else (np.asarray(out),)

    which = [i for i, (p, x) in enumerate(zip(node.parents, xs))
             if p is not None and _is_float(x)
             and (prim.variadic or prim.vjp[i] is not None)]

    def vjp(xs, u):
        outs = run(xs)
        g, out = (u, outs) if multi else (u[0], outs[0])
        if prim.variadic:
            gxs = prim.vjp(g, out, list(xs), *params)
            return [gxs[i] for i in which]
        return [prim.vjp[i](g, out, *xs, *params) for i in which]

    return _Case(prim.name, prim.where(), xs, which, run, vjp,
                 symmetric=prim.name in _SYMMETRIC_INPUT)


def _custom_case(node, cls, args):
    ctx0, positions, _nargs, _shapes = node.params
    needs = ctx0.needs_input_grad
    xs = [a._data.astype(np.float64) if isinstance(a, Tensor) and _is_float(a._data) else a
          for a in args]
    which = [pos for pos, p in zip(positions, node.parents)
             if p is not None and _is_float(xs[pos])]

    def call(xs):
        ctx = FunctionCtx(needs)
        targs = [Tensor._wrap(x) if i in positions else x for i, x in enumerate(xs)]
        for i, t in enumerate(targs):
            if i in positions:
                t.requires_grad = bool(needs[i])
        res = cls.forward(ctx, *targs)
        res = res if isinstance(res, (tuple, list)) else (res,)
        return ctx, tuple(np.asarray(getattr(r, "_data", r)) for r in res)

    def run(xs):
        return call(xs)[1]

    def vjp(xs, u):
        ctx, _ = call(xs)
        grads = cls.backward(ctx, *(Tensor._wrap(uk) for uk in u))
        grads = grads if isinstance(grads, tuple) else (grads,)
        return [None if grads[i] is None else np.asarray(getattr(grads[i], "_data", grads[i]))
                for i in which]

    return _Case(cls.__name__, f"Function {cls.__name__}.backward", xs, which, run, vjp)


def _with(xs, i, value):
    ys = list(xs)
    ys[i] = value
    return ys


def _check(case, rng, eps, rtol, atol):
    """None if the node's VJP agrees with its forward, else the details of the worst
    disagreement: (input index, element, analytic, numeric, rel error, directional).

    A directional mismatch is looked at element by element before it is reported: at a
    kink of the forward (relu at 0, a tie in max) the central difference is the average
    of two one-sided slopes, and any value between them is a valid (sub)gradient. Where
    the forward is not finite around the point, the input is not judged (that is the
    business of ``detect_anomaly``).
    """
    xs = case.xs
    outs = case.run(xs)
    if not all(o.dtype.kind == "f" and o.dtype.itemsize >= 8 for o in outs):
        return None  # an output below float64 (astype): differences would be noise
    u = tuple(rng.standard_normal(o.shape) for o in outs)
    gxs = case.vjp(xs, u)
    base = _inner(u, outs)
    for i, gx in zip(case.which, gxs):
        x = xs[i]
        gx = np.zeros(x.shape) if gx is None else sum_to(np.asarray(gx, np.float64), x.shape)
        v = case.direction(rng.standard_normal(x.shape))
        analytic = float(np.sum(gx * v))
        plus = _inner(u, case.run(_with(xs, i, x + eps * v)))
        minus = _inner(u, case.run(_with(xs, i, x - eps * v)))
        numeric = (plus - minus) / (2 * eps)
        if not np.isfinite(numeric) or _agrees(analytic, numeric, atol, rtol):
            continue
        if x.size <= _MAX_ELEMENTWISE:
            found = _worst(case, xs, i, u, gx, base, eps, atol, rtol)
            if found is None:
                continue  # only kinks: every element's value is a valid subgradient
            return (i, *found, (analytic, numeric))
        if _kink(plus, minus, base, eps, atol, rtol):
            continue  # not differentiable along v, and too large to look closer
        return (i, None, analytic, numeric, _rel(analytic, numeric), (analytic, numeric))
    return None


def _agrees(a, n, atol, rtol) -> bool:
    return abs(a - n) <= atol + rtol * max(abs(a), abs(n))


def _kink(plus, minus, base, eps, atol, rtol) -> bool:
    """The one-sided slopes differ by more than smoothness explains (O(eps))."""
    right, left = (plus - base) / eps, (base - minus) / eps
    return abs(right - left) > 10 * (atol + rtol * max(abs(right), abs(left))) + 1e3 * eps


def _worst(case, xs, i, u, gx, base, eps, atol, rtol):
    """(element, analytic, numeric, relative error) where the VJP of input ``i`` is most
    wrong, by central differences of ``<u, f>`` element by element; None when every
    element agrees (a kink's element agrees when the VJP lies between its one-sided
    slopes)."""
    x = xs[i]
    num = np.empty(x.size)
    lo = np.empty(x.size)
    hi = np.empty(x.size)
    for e in range(x.size):
        step = np.zeros(x.size)
        step[e] = eps
        step = case.direction(step.reshape(x.shape))
        plus = _inner(u, case.run(_with(xs, i, x + step)))
        minus = _inner(u, case.run(_with(xs, i, x - step)))
        num[e] = (plus - minus) / (2 * eps)
        if _kink(plus, minus, base, eps, atol, rtol):
            right, left = (plus - base) / eps, (base - minus) / eps
            lo[e], hi[e] = min(right, left), max(right, left)
        else:
            lo[e] = hi[e] = num[e]
    ana = gx.reshape(-1)
    with np.errstate(invalid="ignore"):
        off = np.maximum(lo - ana, ana - hi).clip(min=0)  # distance from [lo, hi]
        excess = off / (atol + rtol * np.abs(num))
    excess = np.where(np.isnan(excess) & np.isfinite(num), np.inf, excess)
    excess = np.where(np.isfinite(num), excess, 0.0)  # forward undefined around: unjudged
    if not excess.size or not excess.max() > 1:
        return None
    e = int(np.argmax(excess))
    a, n = float(ana[e]), float(num[e])
    index = tuple(int(k) for k in np.unravel_index(e, x.shape)) if x.ndim else ()
    return index, a, n, _rel(a, n)


def _rel(a, n) -> float:
    return abs(a - n) / max(abs(a), abs(n), 1e-300)


# --- the entry point ----------------------------------------------------------------------

def _leaves(inputs):
    out = []
    for x in inputs:
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            out.append(Tensor(x._data.astype(np.float64), requires_grad=True))
        else:
            out.append(x)
    return out


def _roots(result):
    items = result if isinstance(result, (tuple, list)) else (result,)
    return [r for r in items if isinstance(r, Tensor) and r._node is not None]


def find_bad_backward(fn, *inputs, eps=1e-6, rtol=1e-4, atol=1e-6, seed=0):
    """Run ``fn(*inputs)`` and return the first recorded op whose backward is wrong.

    Every node of the recorded graph is checked on its own, in creation order: its VJP
    with a random cotangent ``u`` against central differences of that node's forward
    along a random direction ``v``, in float64 (float Tensor inputs become float64
    leaves requiring grad; other inputs pass through unchanged). Integer and boolean
    inputs of an op, and outputs below float64 (after ``astype``), are not checked.
    glassgrad-only: PyTorch's ``gradcheck`` checks the composite, never names an op.

    Parameters of a model that ``fn`` closes over stay as they are (checks run in
    float64 whatever the recorded dtype); call ``model.double()`` first if its layers
    refuse float64 inputs. Raises ``ValueError`` when ``fn`` records nothing.

    Returns ``None`` when every node agrees, else a :class:`BadBackward` naming the op
    (built-in name, or the custom ``Function``'s class name), where ``fn`` created it,
    the input and its worst element, with analytic and numeric values and the relative
    error.

    >>> class Twice(gg.autograd.Function):          # backward off by a factor of 2
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         return x * 2
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         return g
    >>> report = gg.autograd.find_bad_backward(lambda x: Twice.apply(x.tanh()).sum(),
    ...                                        gg.randn(3))
    >>> report.op
    'Twice'
    """
    leaves = _leaves(inputs)
    recorder = _Recorder(sys.getprofile())
    prev_grad = state.grad_enabled
    state.grad_enabled = True
    sys.setprofile(recorder)
    try:
        result = fn(*leaves)
    finally:
        sys.setprofile(recorder.prev)
        state.grad_enabled = prev_grad
    nodes = walk(_roots(result))
    if not nodes:
        raise ValueError(
            "find_bad_backward: fn recorded no operation to check (none of its outputs "
            "has a graph); pass the float Tensors that fn computes with as inputs, e.g. "
            "find_bad_backward(lambda x: (x.tanh() * 2).sum(), gg.randn(3))"
        )
    rng = np.random.default_rng(seed)
    prev_grad = state.grad_enabled
    state.grad_enabled = False
    try:
        with np.errstate(all="ignore"):
            for node in nodes:
                report = _check_node(node, recorder, rng, eps, rtol, atol)
                if report is not None:
                    return report
    finally:
        state.grad_enabled = prev_grad
    return None


def _check_node(node: Node, recorder, rng, eps, rtol, atol):
    if node.prim is SELECT:
        return None  # routes a cotangent to its op's output slot: nothing to check
    if node in recorder.custom:
        cls, args, site = recorder.custom[node]
        case = _custom_case(node, cls, args)
    elif node in recorder.builtin:
        datas, site = recorder.builtin[node]
        case = _builtin_case(node, datas)
    else:
        return None  # made outside fn (an input that already had a graph)
    if not case.which:
        return None
    found = _check(case, rng, eps, rtol, atol)
    if found is None:
        return None
    i, index, a, n, rel, (da, dn) = found
    filename, lineno = site
    if filename is None and node.trace:
        filename, lineno = node.trace[-1].filename, node.trace[-1].lineno
    return _report(case, node, i, index, a, n, rel, da, dn, filename, lineno)


def _report(case, node, i, index, a, n, rel, da, dn, filename, lineno):
    x = case.xs[i]
    what = "the custom Function" if case.where.startswith("Function") else "the op"
    place = f"{filename}:{lineno}" if filename else "an unknown place"
    if index is not None:
        elem = (f"its worst element is {index}: the VJP gives {a:.10g} where central "
                f"differences give {n:.10g} (relative error {rel:.3g})")
    else:
        elem = (f"the input has {x.size} elements, too many to search one by one; "
                f"relative error {rel:.3g}")
    msg = (
        f"find_bad_backward: the backward of {what} {case.name} (created at {place}) "
        f"disagrees with central differences of its own forward, for its input {i} "
        f"(shape {x.shape}, {x.dtype}). Directional check: <VJP(u), v> = {da:.10g} but "
        f"(<u, f(x + eps v)> - <u, f(x - eps v)>) / (2 eps) = {dn:.10g}; {elem}. "
        f"Read the rule at {case.where or case.name}."
    )
    return BadBackward(case.name, filename, lineno, i, index, a, n, rel, msg)
