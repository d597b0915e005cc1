"""Forward-mode automatic differentiation: tangents carried alongside values.

Inside a forward level (opened by ``gg.func.jvp`` and friends) a *dual* tensor carries a
primal value and a tangent, the directional derivative of that value. Every primitive
applied to a dual computes its output as usual and, in the same pass, its output
tangent from its JVP rule: t_out = sum over inputs of (d out / d x_i) t_i. No graph is
recorded for this and nothing is run backwards.

Levels nest (``jacfwd(jacfwd(f))``, ``jvp`` inside ``jvp``): a dual of level L has a
primal and a tangent that may themselves be duals of a lower level, and the JVP rules
run on Tensors, so the lower levels differentiate the rule computations themselves.
A dual also behaves as its primal for reverse mode (same array, same graph node), which
is what forward-over-reverse (``hessian``) needs.

A level is an identity, not a depth: every ``enter`` takes a new number (increasing, so
an inner level always has a larger one than the levels around it), and a level that
has closed is never opened again. A graph recorded inside a jvp keeps the duals of its
saved values; when a backward pass meets them later, inside *another* jvp, their closed
level must not be mistaken for the one now open (perturbation confusion), so duals of
closed levels are read as their primals.
"""

from __future__ import annotations

import itertools

import numpy as np

from .backend import asarray
from .graph import Node
from .modes import state
from .tensor import Tensor

__all__ = ["current_level", "enter", "exit", "make_dual", "unpack", "apply_dual"]


_next_level = itertools.count(1).__next__  # shared by all threads: numbers never repeat


def current_level() -> int:
    """The innermost open forward level of this thread; 0 when forward mode is off."""
    return state.forward_level


def enter() -> int:
    """Open a new (innermost) forward level in this thread and return its number."""
    lvl = _next_level()
    state.open_levels.append(lvl)
    state.forward_level = lvl
    state.refresh()
    return lvl


def exit(lvl: int) -> None:  # noqa: A001  (pairs with enter)
    levels = state.open_levels
    while levels and levels[-1] >= lvl:  # lvl and any inner level left open by an error
        levels.pop()
    state.forward_level = levels[-1] if levels else 0
    state.refresh()


def _live(x):
    """``x`` without the duals of levels that have closed (only their primal is live)."""
    while level_of(x) and level_of(x) not in state.open_levels:
        x = x._primal
    return x


def level_of(x) -> int:
    return getattr(x, "_level", 0) if isinstance(x, Tensor) else 0


def make_dual(primal, tangent, lvl: int):
    """A dual tensor of level ``lvl``: ``primal`` carrying ``tangent`` (same shape/dtype)."""
    if not isinstance(primal, Tensor):
        primal = Tensor._wrap(asarray(primal))
    if tangent is None:
        return primal
    if not isinstance(tangent, Tensor):
        tangent = Tensor._wrap(asarray(tangent))
    if tangent.shape != primal.shape:
        raise ValueError(
            f"jvp: a tangent has shape {tangent.shape} but its primal has shape "
            f"{primal.shape}; each tangent must match its primal's shape"
        )
    if primal.dtype.kind != "f":
        raise TypeError(f"jvp: primal of dtype {primal.dtype} cannot carry a tangent")
    if tangent.dtype != primal.dtype:
        raise TypeError(
            f"jvp: a tangent has dtype {tangent.dtype} but its primal has dtype "
            f"{primal.dtype}; convert it with .astype({primal.dtype})"
        )
    return _dual(primal, tangent, lvl)


def _dual(primal: Tensor, tangent, lvl: int) -> Tensor:
    t = object.__new__(Tensor)
    t._data = primal._data
    t._node = primal._node
    t.requires_grad = primal.requires_grad
    t._primal = primal
    t._tangent = tangent
    t._level = lvl
    return t


def unpack(x, lvl: int):
    """(primal, tangent) of ``x`` at level ``lvl``; the tangent is zeros if it has none."""
    while level_of(x) > lvl:
        # lvl is the innermost open level, so this one has closed (a dual saved by a
        # graph recorded inside an inner jvp, met again by a backward pass)
        x = x._primal
    if level_of(x) == lvl:
        return x._primal, x._tangent
    zeros = Tensor._wrap(np.zeros_like(x._data))
    return x, zeros


def apply_dual(prim, inputs, params, apply):
    """Apply ``prim`` to inputs of which some are duals: value and tangent together."""
    lvl = max(level_of(x) for x in inputs)
    if lvl == 0:
        return None  # no duals among the inputs: the caller applies normally
    if lvl != state.forward_level and lvl not in state.open_levels:
        # a dual of a closed level (kept by a closure or a saved graph): a constant now
        inputs = [_live(x) for x in inputs]
        lvl = max(level_of(x) for x in inputs)
        if lvl == 0:
            return None
    primals = [x._primal if level_of(x) == lvl else x for x in inputs]
    tangents = [x._tangent if level_of(x) == lvl else None for x in inputs]
    out = apply(prim, primals, params)
    if prim.jvp is None:
        raise NotImplementedError(
            f"forward mode: {prim.name} has no JVP rule, so tangents cannot be pushed "
            "through it" + (
                f" (custom Function {prim.name}: define a staticmethod "
                "jvp(ctx, *tangents))" if prim.on_release is not None else "")
        )
    multi = type(out) is tuple  # a multi-output op: one tangent per output
    outs = out if multi else (out,)
    # On the plain first level with nothing to record, rules run on raw arrays (fast);
    # otherwise on Tensors, so lower levels / reverse mode see the rule computation.
    raw = lvl == state.open_levels[0] and not any(o.requires_grad for o in outs) and all(
        level_of(t) == 0 and not getattr(t, "requires_grad", False) for t in tangents)
    if raw:
        vals = [x._data if isinstance(x, Tensor) else x for x in primals]
        outv = tuple(o._data for o in outs) if multi else out._data
        tans = [None if t is None else t._data for t in tangents]
    else:
        vals, outv, tans = primals, out, tangents
    t_out = _run_jvp(prim, tans, outv, vals, params)
    if t_out is None:
        return out
    t_outs = t_out if multi else (t_out,)
    duals = tuple(_dual(o, _fit_tangent(t, o, raw), lvl) for o, t in zip(outs, t_outs))
    node = outs[0]._node
    if node is not None and not raw:
        if multi:
            node = node.parents[0]  # the op's node (each output has a SELECT node)
        # Forward-over-reverse: the backward rules of this node must see the tangents of
        # what it saved, at every level. ``out`` is already the dual of the lower levels
        # (the same node recorded them a moment ago), so the outermost level, recorded
        # last, keeps the whole tower. (This links the node and the tangents' graph in a
        # cycle; it only happens while both modes are active, and the cycle collector
        # frees it.)
        node._extra().duals = (inputs, duals if multi else duals[0])
    return duals if multi else duals[0]


def _fit_tangent(t_out, out: Tensor, raw: bool) -> Tensor:
    """A rule's tangent as a Tensor of exactly ``out``'s shape and dtype."""
    if raw:
        t_out = asarray(t_out)
        if t_out.shape != out.shape:
            t_out = np.broadcast_to(t_out, out.shape).copy()
        if t_out.dtype != out.dtype:
            t_out = t_out.astype(out.dtype)
        return Tensor._wrap(t_out)
    if not isinstance(t_out, Tensor):
        t_out = Tensor._wrap(asarray(t_out))
    if t_out.shape != out.shape:
        t_out = t_out.broadcast_to(out.shape)
    if t_out.dtype != out.dtype:
        t_out = t_out.astype(out.dtype)
    return t_out


def _run_jvp(prim, tans, outv, vals, params):
    """The output tangent from ``prim``'s JVP rule(s); None when no input has one."""
    if prim.variadic:
        filled = [t if t is not None else np.zeros_like(asarray(getattr(v, "_data", v)))
                  for t, v in zip(tans, vals)]
        return prim.jvp(filled, outv, vals, *params)
    t_out = None
    for rule, t in zip(prim.jvp, tans):
        if t is None:
            continue
        if rule is None:
            raise NotImplementedError(f"forward mode: {prim.name} has no JVP rule for "
                                      "one of its inputs")
        term = rule(t, outv, *vals, *params)
        if t_out is None:
            t_out = term
        else:  # inf + -inf from two singular terms is NaN: the answer, not an accident
            with np.errstate(invalid="ignore"):
                if type(term) is tuple:  # a multi-output op: add output by output
                    t_out = tuple(a + b for a, b in zip(t_out, term))
                else:
                    t_out = t_out + term
    return t_out


def saved_duals(node: Node, out, ins):
    """The saved values of ``node`` as duals, where forward mode recorded tangents."""
    extra = node.extra
    duals = None if extra is None else extra.duals
    if duals is None:
        return out, ins
    inputs, dual = duals
    if type(dual) is tuple:  # a multi-output op
        out = None if out is None else tuple(_live(d) for d in dual)
    elif out is not None:
        out = _live(dual)
    if ins is not None:
        ins = [_live(x) if d is not None and level_of(x) else d for d, x in zip(ins, inputs)]
    return out, ins

