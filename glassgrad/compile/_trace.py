"""Tracing: run a step once on symbolic arrays, with the engine's own forward and rules.

:func:`trace` swaps the array behind every tensor the function uses (its arguments, the
parameters and buffers of the modules it reaches, any other tensor an op meets) for a
:class:`~glassgrad.compile._sym.Sym`, runs the function and then the engine's backward
(``run_backward`` in capture mode, as ``autograd.grad``), and puts the arrays back. The
ops, the VJP rules, the broadcasting reductions and the fan-out sums all run as they
always do; each NumPy call they make is written down. Nothing a user can see changes:
the symbolic arrays hold copies, random draws come from a copy of the generator, and no
``.grad`` is touched.
"""

from __future__ import annotations

import copy
import inspect

import numpy as np

from ..backend import RAW_TYPES, register
from ..engine import run_backward
from ..modes import state
from ..nn.module import Module
from ..primitive import PRIMITIVES, apply
from ..tensor import Tensor
from . import _fuse
from ._sym import Program, Sym, TraceError

__all__ = ["trace", "Trace"]

if Sym not in RAW_TYPES:
    register(Sym, writeable_flag=False)


def _code_labels() -> dict:
    """code object -> (op name, rule name), for the comments of the program."""
    labels = {}
    for name, prim in list(PRIMITIVES.items()) + [(p.name, p) for p in _fuse.PRIMS]:
        fwd = getattr(prim.forward, "__code__", None)
        if fwd is not None:
            labels.setdefault(fwd, (name, "forward"))
        rules = prim.vjp if isinstance(prim.vjp, tuple) else (prim.vjp,)
        inputs = getattr(prim, "inputs", None) or ()
        for i, rule in enumerate(rules):
            # the rule itself, not a shared wrapper (quiet ops share one wrapper's code)
            code = getattr(inspect.unwrap(rule), "__code__", None) if rule is not None \
                else None
            if code is not None:
                what = f"vjp_{inputs[i]}" if i < len(inputs) and len(rules) > 1 else "vjp"
                labels.setdefault(code, (name, what))
    return labels


class _RngProxy:
    """A NumPy generator seen by the tracer: each draw is a statement of the program
    (run on the real generator at call time); the concrete values come from a copy."""

    def __init__(self, tracer, real):
        self._tracer = tracer
        self._real = real
        self._copy = copy.deepcopy(real)
        self.sym = None  # the program's input standing for the generator

    def __getattr__(self, name):
        method = getattr(self._copy, name)
        if not callable(method):
            return method

        def draw(*args, **kwargs):
            result = method(*args, **kwargs)
            if not isinstance(result, (np.ndarray, np.generic)):
                raise TraceError(f"gg.compile: the random draw rng.{name} returned a "
                                 f"{type(result).__name__}, which the program cannot hold")
            return self._tracer.prog.record(name, (self, *args), kwargs, np.asarray(result),
                                            kind="rng", effect=True)

        return draw


class Trace:
    """What one trace found: the program, its inputs and outputs, and the tensors."""

    def __init__(self):
        self.prog = Program()
        self.prog.code_labels = _code_labels()
        self.prog.apply_code = apply.__code__
        self.swapped = []  # (tensor, original array, Sym)
        self.by_tensor = {}  # id(tensor) -> Sym
        self.args = []  # Syms of the argument tensors (or arrays), in order
        self.arg_names = []
        self.captured = []  # tensors found by the trace, in order of first sight
        self.rngs = []  # _RngProxy per real generator, in order of first draw
        self.value = None
        self.aux = ()
        self.grads = {}  # tensor -> Sym of its gradient (None: no gradient reached it)
        self.backward_start = None
        self.optimizer_start = None  # first statement of the optimizer's step, if traced
        self.prev_observer = None
        self.out_of = {}  # id(node) -> the Sym of its output

    # -- called by the engine while tracing ---------------------------------------------------
    def see(self, prim, inputs) -> None:
        """``apply`` runs ``prim`` on these inputs: every tensor not yet traced becomes an
        input of the program."""
        self.prog.applying = (prim.name, "forward")
        for x in inputs:
            if isinstance(x, Tensor) and type(x._data) is not Sym:
                self.capture(x)

    def capture(self, t: Tensor, name=None) -> Sym:
        hit = self.by_tensor.get(id(t))
        if hit is not None:
            return hit
        if t._node is not None and t.requires_grad:
            raise TraceError(
                "gg.compile: the traced function uses a tensor that was computed outside "
                f"it and still has a graph (shape {tuple(t.shape)}); its gradient would have "
                "to flow on past the compiled step. Pass it as an argument, compute it "
                "inside the function, or .detach() it")
        sym = self.prog.input(t._data, name or f"c{len(self.captured)}")
        sym.name_given = name is not None
        self.swapped.append((t, t._data, sym))
        self.by_tensor[id(t)] = sym
        self.captured.append(t)
        t._data = sym
        return sym

    def rng(self, real):
        for proxy in self.rngs:
            if proxy._real is real:
                return proxy
        proxy = _RngProxy(self, real)
        proxy.sym = len(self.rngs)
        self.rngs.append(proxy)
        return proxy

    def restore(self) -> None:
        for t, original, _ in reversed(self.swapped):
            t._data = original

    # -- observers: names for the program's variables ----------------------------------------
    def on_forward(self, node, inputs, out) -> None:
        outs = out if type(out) is tuple else (out,)
        for o in outs:
            if type(o) is Sym and o.name is None and not o.is_input:
                o.name = node.name
        if type(out) is Sym:
            self.out_of[id(node)] = out

    def on_backward(self, node, g, gxs) -> None:
        if self.prev_observer is not None:
            self.prev_observer(node, g, gxs)
        if type(g) is Sym and g.name is None and not g.const and g.grad_of is None:
            out = self.out_of.get(id(node))
            if out is not None:
                g.grad_of = out
            else:
                g.name = "d_" + node.name


def _captured_candidates(fn) -> list:
    """Tensors the function can reach without being given them: a bound method's module,
    modules and tensors in its closure, defaults and the globals it names. Their arrays
    are swapped before the run, so reads that bypass the ops (a buffer updated in place,
    ``array_of(running_mean)``) are traced too. Named as their module names them.
    Returns (tensors, names by id, every module found: their train/eval modes key the
    cache)."""
    found, names, modules = [], {}, []
    seen_mod = set()

    def add_module(m, prefix):
        if id(m) in seen_mod:
            return
        seen_mod.add(id(m))
        modules.extend(m.modules())
        for n, p in m.named_parameters():
            names.setdefault(id(p), prefix + n)
            found.append(p)
        for n, b in m.named_buffers():
            if b is not None:
                names.setdefault(id(b), prefix + n)
                found.append(b)

    def visit(obj, name):
        if isinstance(obj, Module):
            add_module(obj, "" if name in ("self", "model") else name + ".")
        elif isinstance(obj, Tensor):
            names.setdefault(id(obj), name)
            found.append(obj)
        elif isinstance(obj, (list, tuple)) and len(obj) < 64:
            for i, o in enumerate(obj):
                if isinstance(o, (Module, Tensor)):
                    visit(o, f"{name}{i}")
        elif isinstance(obj, dict) and len(obj) < 64:  # params = {"W1": ..., "b1": ...}
            for k, o in obj.items():
                if isinstance(o, (Module, Tensor)) and isinstance(k, str):
                    visit(o, k)

    target = fn
    if isinstance(fn, Module):
        add_module(fn, "")
        target = type(fn).forward
    self_obj = getattr(fn, "__self__", None)
    if self_obj is not None:
        visit(self_obj, "self")
        target = fn.__func__
    code = getattr(target, "__code__", None)
    if code is not None:
        for cell_name, cell in zip(code.co_freevars, target.__closure__ or ()):
            try:
                visit(cell.cell_contents, cell_name)
            except ValueError:  # an empty cell
                pass
        g = getattr(target, "__globals__", {})
        for n in code.co_names:
            if n in g:
                visit(g[n], n)
        for d in (target.__defaults__ or ()):
            visit(d, "default")
    return found, names, modules


def trace(fn, args, kwargs=None, fuse=True, optimizer=None) -> Trace:
    """Run ``fn(*args, **kwargs)`` and its backward on symbolic arrays; return the
    :class:`Trace`. ``fn`` must return a scalar Tensor (the loss), or a tuple whose first
    item is the loss and whose other items are Tensors returned alongside. With an
    ``optimizer``, its ``step()`` runs on the symbolic gradients too: its in-place updates
    of the parameters and of its state tensors become the end of the program."""
    kwargs = kwargs or {}
    tr = Trace()
    prog = tr.prog
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    candidates, cand_names, _ = _captured_candidates(fn)
    if state.tracer is not None:
        raise TraceError("gg.compile: tracing inside another trace is not supported")
    prev = (state.tracer, state.forward_observer, state.backward_observer)
    state.tracer = tr
    tr.prev_observer = state.backward_observer
    state.forward_observer = _chain_forward(prev[1], tr.on_forward)
    state.backward_observer = tr.on_backward
    state.refresh()
    try:
        for i, a in enumerate(args):
            name = params[i] if i < len(params) else f"arg{i}"
            if isinstance(a, Tensor):
                if a._node is not None:
                    raise TraceError(
                        f"gg.compile: argument {i} ({name}) has a graph of its own; pass a "
                        "leaf tensor (or .detach() it)")
                sym = tr.capture(a, name)
                tr.captured.remove(a)
            elif isinstance(a, np.ndarray):
                sym = prog.input(a, name)
            else:
                sym = None  # a Python value: baked into the trace (part of the cache key)
            tr.args.append(sym)
            tr.arg_names.append(name)
        for t in candidates:
            if id(t) not in tr.by_tensor:
                tr.capture(t, cand_names.get(id(t)))
        opt_params = _capture_optimizer(tr, optimizer, cand_names) if optimizer else []
        # the arguments themselves go in as Tensors; raw arrays as their Syms
        call_args = [a if isinstance(a, Tensor) or s is None else s
                     for a, s in zip(args, tr.args)]
        result = fn(*call_args, **kwargs)
        loss, aux = _split(result)
        tr.aux = aux
        tr.value = loss._data
        leaves = [t for t, _, _ in tr.swapped if t.requires_grad and t._node is None]
        if loss.requires_grad and leaves:
            if fuse:
                _fuse.rewrite(loss._node)
            tr.backward_start = len(prog.stmts)
            prog.label = ("seed", None)
            seed = prog.const(np.ones_like(loss._data.a))
            prog.label = None
            totals = run_backward([loss], [seed], retain_graph=False, create_graph=False,
                                  capture=dict.fromkeys(leaves))
            for t in leaves:
                g = totals.get(t)
                if g is not None and type(g) is not Sym:
                    g = prog.const(np.asarray(g))
                tr.grads[t] = g
        if optimizer is not None:
            _trace_step(tr, optimizer, opt_params)
    finally:
        state.tracer, state.forward_observer, state.backward_observer = prev
        state.refresh()
        tr.restore()
    return tr


def _capture_optimizer(tr, optimizer, names) -> list:
    """The optimizer's parameters and its state tensors (momentum buffers...) become
    inputs of the program: the step updates them in place."""
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for i, p in enumerate(params):
        pname = names.get(id(p)) or f"param{i}"
        if id(p) not in tr.by_tensor:
            tr.capture(p, pname)
        for key, value in optimizer.state.get(p, {}).items():
            if isinstance(value, Tensor) and id(value) not in tr.by_tensor:
                tr.capture(value, f"{pname}_{key}")
    return params


def _trace_step(tr, optimizer, params) -> None:
    """``optimizer.step()`` on the traced gradients (as after ``zero_grad(); backward()``),
    leaving the real ``.grad`` and step count as they were."""
    saved = [(p, p.grad) for p in params]
    count = optimizer._step_count
    try:
        for p in params:
            g = tr.grads.get(p)
            p._grad = None if g is None else Tensor._wrap(g)
        tr.optimizer_start = len(tr.prog.stmts)
        optimizer.step()
    finally:
        for p, g in saved:
            p._grad = g
        optimizer._step_count = count


def _chain_forward(prev, mine):
    if prev is None:
        return mine

    def both(node, inputs, out):
        prev(node, inputs, out)
        mine(node, inputs, out)

    return both


def _split(result):
    if isinstance(result, Tensor):
        loss, aux = result, ()
    elif isinstance(result, (tuple, list)) and result and isinstance(result[0], Tensor):
        loss, aux = result[0], tuple(result[1:])
        for i, a in enumerate(aux):
            if not isinstance(a, Tensor):
                raise TraceError(f"gg.compile: output {i + 1} of the function is a "
                                 f"{type(a).__name__}; return Tensors only")
    else:
        raise TraceError("gg.compile: the function must return the loss (a Tensor), or a "
                         f"tuple (loss, other tensors...); got {type(result).__name__}")
    if loss._data.size != 1:
        raise TraceError(f"gg.compile: the loss must be a single number to run backward "
                         f"on, got shape {tuple(loss.shape)} (reduce it, e.g. .sum())")
    if type(loss._data) is not Sym:
        raise TraceError("gg.compile: the loss does not depend on any traced tensor")
    return loss, aux
