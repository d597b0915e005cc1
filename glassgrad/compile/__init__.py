"""``gg.compile``: a training step's forward and backward written out as NumPy source.

``step = gg.compile(loss_fn, x, y)`` runs ``loss_fn`` once on symbolic arrays (the
engine's own ops and VJP rules, see :mod:`._trace`), writes what they computed as one
plain Python function of arrays (:mod:`._emit`), and returns a :class:`Compiled` step.
Calling ``step(x, y)`` is a drop-in for ``loss = loss_fn(x, y); loss.backward()``: it
returns the loss and adds the gradients into ``.grad`` exactly as backward would, with no
graph built. ``step.source`` is the program; ``step.save(path)`` writes it as a module
that needs only NumPy.

As with ``jax.jit``, the trace specialises: on the shapes and dtypes of the arguments
(a new shape traces again, both are cached), on Python values among the arguments, on
each module's train/eval mode, and on the Python control flow it took. Where an op
decides by looking at values (``if np.any(x < 0)``), the program checks on every call
that it would decide the same way, and traces again if not: it never silently computes
the other branch's result.
"""

from __future__ import annotations

import base64
import builtins
import functools
import re
import warnings
from pathlib import Path

import numpy as np

from .. import creation, graph
from ..engine import accumulate_grad
from ..modes import state
from ..optim import SGD
from ..tensor import Tensor
from ._emit import emit
from ._sym import TraceError
from ._trace import _captured_candidates, trace

__all__ = ["compile", "Compiled", "GuardFailed", "TraceError"]


_MANY_VARIANTS = 16  # traces for one cache key before the step warns (and evicts)


class GuardFailed(Exception):
    """A compiled program met a value that would take another branch than its trace."""


_HEADER = '''"""{title}

Written by glassgrad's gg.compile: the forward and backward pass of one traced step as
plain NumPy. Call value_and_grad({args}) with arrays of the traced shapes and dtypes.
"""

import numpy as np
{extra}

class GuardFailed(Exception):
    """An input took a branch the trace did not see: trace the step again."""


'''


class _Variant:
    """One trace of the step: its program, compiled to a Python function."""

    def __init__(self, tr, em, backend, optimizer=None):
        self.trace = tr
        self.optimizer = optimizer
        self.params = [] if optimizer is None else [
            p for g in optimizer.param_groups for p in g["params"]]
        # the optimizer state tensors the program updates: (state dict, key, tensor)
        self.state_inputs = [] if optimizer is None else [
            (p, k, v) for p in self.params
            for k, v in optimizer.state.get(p, {}).items() if isinstance(v, Tensor)]

        self.emitted = em
        self.source = em.source
        self.arg_positions = [i for i, s in enumerate(tr.args) if s is not None]
        syms_of_args = {id(s) for s in tr.args if s is not None}
        inputs = {id(s) for s in em.input_syms}
        self.captured = [t for t, _, sym in tr.swapped
                         if id(sym) in inputs and id(sym) not in syms_of_args]
        self.grad_tensors = em.grad_tensors
        self.value_dtype = tr.value.a.dtype
        self.rngs = [(p._real is creation._generator, p._real) for p in tr.rngs]
        namespace = {"np": np, "GuardFailed": GuardFailed}
        if em.needs_blob:
            namespace["base64"] = base64
        exec(compile_source(em.source, "<gg.compile>"), namespace)  # noqa: S102
        self.py = namespace[em.func_name]
        self.numpy_py = self.py
        self.backend = "numpy"
        if backend == "numba":
            jit_source = _numba_source(em)
            if jit_source != em.source:
                exec(compile_source(jit_source, "<gg.compile>"), namespace)  # noqa: S102
            self.py, self.backend = _numba(namespace[em.func_name], jit_source)

    def state_current(self) -> bool:
        """Whether the optimizer still holds the state tensors this program writes (a
        ``load_state_dict`` replaces them: the program would update stale copies)."""
        state = self.optimizer.state
        return all(state.get(p, {}).get(k) is v for p, k, v in self.state_inputs)

    def run(self, args):
        opt = self.optimizer
        if opt is not None and graph.has_protected():  # writes the parameters: as step()
            for gi, group in enumerate(opt.param_groups):
                for pi, p in enumerate(group["params"]):
                    opt._check_writable(p, gi, pi)
        arrays = [args[i]._data if isinstance(args[i], Tensor) else args[i]
                  for i in self.arg_positions]
        arrays += [t._data for t in self.captured]
        if self.rngs:
            arrays += [creation._generator if default else real for default, real in self.rngs]
        result = self.py(*arrays)
        value, grads = result[0], result[1]
        given = {id(a) for a in arrays}  # a gradient that is an input array gets copied
        if opt is not None:  # zero_grad() came first: this step's gradients only
            for p in self.params:
                p._grad = None
            opt._step_count += 1
        for t, g in zip(self.grad_tensors, grads):
            if g.dtype != t._data.dtype:  # Numba may widen a reduction: back to the dtype
                g = g.astype(t._data.dtype)
            accumulate_grad(t, g, False, given)
        value = np.asarray(value)
        if value.dtype != self.value_dtype:
            value = value.astype(self.value_dtype)
        out = Tensor._wrap(value)
        if len(result) > 2:
            return (out,) + tuple(Tensor._wrap(np.asarray(a)) for a in result[2])
        return out


def compile_source(source: str, filename: str):
    """Python's own ``compile`` (this module's ``compile`` is gg.compile)."""
    return builtins.compile(source, filename, "exec")


_FLOAT_LITERAL = re.compile(r"(?<![\w.])(\d+\.\d*(?:e[-+]?\d+)?|\d+e[-+]?\d+)")


def _numba_source(em) -> str:
    """The program as Numba should see it. NumPy treats a Python float next to a float32
    array as float32 (NEP 50); Numba types it float64 and then refuses a float64 @ float32
    product. In a program whose float inputs are all float32 the literals are written
    ``np.float32(...)``: the same arithmetic as the NumPy source."""
    kinds = {s.a.dtype for s in em.input_syms if s.a.dtype.kind == "f"}
    if kinds != {np.dtype(np.float32)}:
        return em.source
    out = []
    for line in em.source.splitlines():
        code, hash_, comment = line.partition("#")
        if "'" in code or '"' in code:  # a guard's message or a blob: leave as it is
            out.append(line)
            continue
        out.append(_FLOAT_LITERAL.sub(r"np.float32(\1)", code) + hash_ + comment)
    return "\n".join(out) + "\n"


def _numba(py, source):
    try:
        import numba  # noqa: PLC0415  (optional extra)
    except ImportError:
        warnings.warn("gg.compile(backend='numba'): Numba is not installed (pip install "
                      "glassgrad[numba]); running the NumPy source", stacklevel=4)
        return py, "numpy"
    jitted = numba.njit(cache=False)(py)
    state_ = {"fn": None}

    def run(*arrays):
        if state_["fn"] is None:
            try:
                out = jitted(*arrays)
                state_["fn"] = jitted
                return out
            except Exception as err:  # noqa: BLE001  (any typing failure: fall back)
                text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # Numba colours its messages
                lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
                detail = next((ln for ln in lines if ln.startswith(("No implementation",
                               "Unknown attribute", "Use of unsupported", "Untyped global",
                               "NameError", "Invalid use"))), lines[0] if lines else "")
                at = re.findall(r'File "<gg\.compile>", line (\d+)', text)
                src_lines = source.splitlines()
                where = src_lines[int(at[-1]) - 1].strip() if at and \
                    int(at[-1]) <= len(src_lines) else ""
                warnings.warn("gg.compile(backend='numba'): Numba cannot compile this "
                              f"program ({detail[:200]}{'; at: ' + where if where else ''}); "
                              "running the NumPy source instead", stacklevel=3)
                state_["fn"] = py
        return state_["fn"](*arrays)

    return run, "numba"


class Compiled:
    """A traced, compiled step: call it as the function it came from.

    ``step(*args)`` returns the loss (and any other outputs the function returned) as
    Tensors and accumulates gradients into ``.grad`` of every tensor that requires grad,
    exactly as ``loss.backward()`` after the eager call would. ``source`` is the program
    of the most recent trace, ``inputs`` the tensors it reads (arguments, then captured
    tensors), ``save(path)`` writes a standalone module, ``traces`` counts the traces.
    """

    def __init__(self, fn, backend="numpy", fuse=True, optimizer=None):
        if backend not in ("numpy", "numba"):
            raise ValueError(f"gg.compile: backend must be 'numpy' or 'numba', not {backend!r}")
        if optimizer is not None:
            _check_optimizer(optimizer)
        self.optimizer = optimizer
        self.fn = fn
        self.backend = backend
        self.fuse = fuse
        self.traces = 0
        self._variants: dict = {}
        self._last = None
        _, _, self._modules = _captured_candidates(fn)
        functools.update_wrapper(self, fn, updated=())

    def _key(self, args):
        key = []
        for a in args:
            if isinstance(a, Tensor):
                d = a._data
                key.append((d.shape, d.dtype, a.requires_grad))
            elif isinstance(a, np.ndarray):
                key.append(("array", a.shape, a.dtype))
            else:
                try:
                    hash(a)
                except TypeError:
                    raise TypeError(f"gg.compile: argument of type {type(a).__name__} is "
                                    "neither a Tensor, an array nor a hashable Python value"
                                    ) from None
                key.append(("value", type(a), a))
        key.append(state.grad_enabled)
        key.append(tuple(m.training for m in self._modules))
        if self.optimizer is not None:  # hyperparameters are baked in (a scheduler: retrace)
            key.append(tuple(tuple(v for k, v in g.items() if k != "params")
                             for g in self.optimizer.param_groups))
        return tuple(key)

    def __call__(self, *args):
        opt = self.optimizer
        if opt is not None and not _state_ready(opt):
            # the first step creates the optimizer's state (a momentum buffer starts as
            # the gradient): run it eagerly, trace from the next call on
            opt.zero_grad()
            out = self.fn(*args)
            (out if isinstance(out, Tensor) else out[0]).backward()
            opt.step()
            return out
        key = self._key(args)
        variants = self._variants.get(key)
        if variants:
            for v in variants:
                if opt is not None and not v.state_current():
                    continue
                try:
                    out = v.run(args)
                except GuardFailed:
                    continue
                self._last = v  # .source, .inputs and .save() describe what just ran
                return out
        v = self.trace(*args)
        variants = self._variants.setdefault(key, [])
        variants.append(v)
        if len(variants) == _MANY_VARIANTS:
            warnings.warn(
                f"gg.compile: {len(variants)} traces of {getattr(self.fn, '__name__', 'the step')} "
                "for the same shapes: a value it reads as a Python number (float(), .item(), "
                "a branch on a tensor) changes from call to call, so each call traces again. "
                "Keep such values as tensors, or leave this function uncompiled",
                stacklevel=2)
        if len(variants) > _MANY_VARIANTS:
            del variants[0]  # keep the cache bounded: the oldest variant goes
        try:
            return v.run(args)
        except GuardFailed as err:
            raise TraceError(f"gg.compile: a fresh trace failed its own check ({err}); "
                             "a value decides a branch differently on every call (a NaN?)"
                             ) from None

    def trace(self, *args) -> _Variant:
        """Trace the function on ``args`` and compile the program (not cached: calling
        the step caches)."""
        hooked = [type(m).__name__ for m in self._modules
                  if m.__dict__.get("_forward_pre_hooks") or m.__dict__.get("_forward_hooks")
                  or m.__dict__.get("_backward_hooks")]
        if hooked:
            warnings.warn(
                f"gg.compile: module hooks on {', '.join(sorted(set(hooked)))} run once, while "
                "tracing, not on every call of the compiled step (a Monitor sees no "
                "activations there)", stacklevel=3)
        tr = trace(self.fn, args, fuse=self.fuse, optimizer=self.optimizer)
        em = emit(tr)
        v = _Variant(tr, em, self.backend, self.optimizer)
        self.traces += 1
        self._last = v
        return v

    def _latest(self) -> _Variant:
        if self._last is None:
            raise RuntimeError("gg.compile: nothing traced yet; call the step once (or "
                               "pass example arguments to gg.compile)")
        return self._last

    @property
    def source(self) -> str:
        """The Python source of the program the latest call ran (or, before any call, of
        the latest trace): constants, then ``value_and_grad``."""
        return self._latest().source

    @property
    def inputs(self) -> list:
        """The tensors (or arrays) the program reads, in its argument order: the traced
        arguments, then the captured tensors (parameters, buffers...)."""
        v = self._latest()
        args = [a for a in v.trace.args if a is not None]
        originals = {id(sym): t for t, _, sym in v.trace.swapped}
        return [originals.get(id(s), s) for s in args] + list(v.captured)

    @property
    def input_names(self) -> list:
        return list(self._latest().emitted.input_names)

    def save(self, path) -> Path:
        """Write the latest program as a module that imports only NumPy (and base64 for
        large constants): ``value_and_grad(*arrays)`` takes arrays in ``input_names``
        order and returns ``(value, grads)``."""
        v = self._latest()
        name = getattr(self.fn, "__name__", "step")
        text = _HEADER.format(title=f"The compiled step of {name}().",
                              args=", ".join(v.emitted.input_names),
                              extra="import base64\n" if v.emitted.needs_blob else "")
        path = Path(path)
        path.write_text(text + v.source)
        return path

    def __repr__(self) -> str:
        name = getattr(self.fn, "__name__", "step")
        n = sum(len(v) for v in self._variants.values())
        return f"<gg.compile of {name}: {n} cached trace(s), backend={self.backend}>"


def _check_optimizer(opt) -> None:
    if not isinstance(opt, SGD):
        raise TypeError(
            f"gg.compile(optimizer=...): {type(opt).__name__} is not supported yet, only "
            "gg.optim.SGD (with momentum, weight decay, nesterov): other rules read their "
            "step count as a Python number, which a trace would bake in. Compile the "
            "gradient step alone and call opt.step() after it")
    if "step" in opt.__dict__:
        raise TypeError("gg.compile(optimizer=...): this optimizer's step() is wrapped "
                        "(a Monitor?); the wrapper would run only at trace time")
    for group in opt.param_groups:
        for p in group["params"]:
            if getattr(p, "_post_hooks", None):
                raise TypeError(
                    "gg.compile(optimizer=...): a parameter has a post-accumulate-grad hook "
                    "(DistributedDataParallel averages gradients there), which runs after "
                    "the program, so the update would use this rank's gradients alone. "
                    "Compile the gradient step without optimizer= and call opt.step()")


def _state_ready(opt) -> bool:
    """Whether every parameter already has the state its update reads (a momentum buffer
    exists from the second step on)."""
    for group in opt.param_groups:
        if group.get("momentum", 0) != 0:
            for p in group["params"]:
                if p.requires_grad and "momentum_buffer" not in opt.state.get(p, {}):
                    return False
    return True


def compile(fn=None, *example_args, backend="numpy", fuse=True, optimizer=None):  # noqa: A001
    """Trace ``fn`` (returning a scalar loss Tensor, or ``(loss, *others)``) into a
    compiled step; see the module docstring. ``gg.compile(fn, x, y)`` traces at once on
    the example arguments; ``@gg.compile`` or ``gg.compile(fn)`` traces on the first
    call. ``backend="numba"`` runs the program through Numba where it can (optional
    extra), else the NumPy source with a warning. ``fuse=False`` keeps every op's own
    rule (no algebraic shortcuts such as sigmoid + BCE -> p - y).

    ``optimizer=opt`` (a ``gg.optim.SGD``) compiles the whole training step: calling it
    is then a drop-in for ``opt.zero_grad(); loss = fn(*args); loss.backward();
    opt.step()``. The optimizer's own update rule is traced on the program's gradients,
    so the parameters and the momentum buffers are updated in place by the program
    (``# ---- optimizer step`` in ``.source``); ``.grad`` holds the step's gradients
    afterwards, as in eager mode. The first call runs eagerly when the optimizer's state
    does not exist yet (a momentum buffer starts as the first gradient); changing a
    hyperparameter (a learning-rate schedule) traces again.
    """
    if fn is None:
        return lambda f: compile(f, backend=backend, fuse=fuse, optimizer=optimizer)
    step = Compiled(fn, backend=backend, fuse=fuse, optimizer=optimizer)
    if example_args and (optimizer is None or _state_ready(optimizer)):
        key = step._key(example_args)
        step._variants.setdefault(key, []).append(step.trace(*example_args))
    return step

