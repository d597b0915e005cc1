"""Symbolic arrays: NumPy values that write down every operation done on them.

A :class:`Sym` carries a *concrete* array (so shapes, dtypes and every value-dependent
decision are known while tracing) and stands for one variable of the program being
written. It speaks NumPy's dispatch protocols (``__array_ufunc__``,
``__array_function__``), so the engine's own forward functions and VJP rules run on it
unchanged through the array seam (:mod:`glassgrad.backend`) and each NumPy call they make
becomes one :class:`Stmt` of the :class:`Program`.

What is simplified while recording, because the concrete shapes make it safe:
broadcasts and reshapes to the shape an array already has, sums over no axis,
multiplications by one and additions of zero, double transposes; values computed only
from constants are folded into constants; a repeated pure computation reuses the first
(common subexpressions); a comparison that the value ranges of its operand decide
(a sigmoid's output is never below 0) is a constant too. A value that decides a branch
(``bool``, ``float``, ``int``, ``.item()``) is read from the concrete array and
*guarded*: the program checks, on every call, that it would have decided the same way.
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["Sym", "Program", "Stmt", "TraceError", "unwrap"]


class TraceError(RuntimeError):
    """Something in the traced function cannot be written out as a NumPy program."""


class Stmt:
    """One line of the program: ``target = op(args, kwargs)``, or an effect (target None
    or ``effect=True``: an in-place write, a random draw, a guard)."""

    __slots__ = ("target", "op", "args", "kwargs", "label", "effect", "kind", "extra")

    def __init__(self, target, op, args, kwargs, label, effect=False, kind="call"):
        self.target = target  # Sym, tuple of Syms (several results), or None
        self.op = op  # how to write it: see _emit.render
        self.args = args
        self.kwargs = kwargs
        self.label = label  # (op name, rule) that produced it, for the comments
        self.effect = effect
        self.kind = kind  # "call", "method", "getitem", "setitem", "attr", "guard", "rng"
        self.extra = None


_BINOPS = {np.add: "+", np.subtract: "-", np.multiply: "*", np.true_divide: "/",
           np.matmul: "@", np.power: "**", np.floor_divide: "//", np.remainder: "%",
           np.greater: ">", np.greater_equal: ">=", np.less: "<", np.less_equal: "<=",
           np.equal: "==", np.not_equal: "!=", np.bitwise_and: "&", np.bitwise_or: "|",
           np.bitwise_xor: "^"}
_UNOPS = {np.negative: "-", np.positive: "+", np.invert: "~"}


def unwrap(x):
    """The concrete value behind Syms, recursively through lists, tuples and dicts."""
    t = type(x)
    if t is Sym:
        return x.a
    if t is tuple or t is list:
        return t(unwrap(v) for v in x)
    if t is dict:
        return {k: unwrap(v) for k, v in x.items()}
    if t is slice:
        return slice(unwrap(x.start), unwrap(x.stop), unwrap(x.step))
    return x


def _has_sym(x) -> bool:
    """Whether ``x`` holds a Sym that is not a known constant."""
    t = type(x)
    if t is Sym:
        return not x.const
    if t is tuple or t is list:
        return any(_has_sym(v) for v in x)
    if t is dict:
        return any(_has_sym(v) for v in x.values())
    if t is slice:
        return _has_sym(x.start) or _has_sym(x.stop) or _has_sym(x.step)
    return False


def _key(x):
    """A hashable identity of an argument, for common-subexpression elimination."""
    t = type(x)
    if t is Sym:
        return ("s", x.id, x.version) if not x.const else ("c", x.const_key())
    if t is tuple or t is list:
        return (t.__name__,) + tuple(_key(v) for v in x)
    if t is dict:
        return ("d",) + tuple(sorted((k, _key(v)) for k, v in x.items()))
    if t is slice:
        return ("sl", _key(x.start), _key(x.stop), _key(x.step))
    if isinstance(x, np.ndarray):
        return ("a", x.dtype.str, x.shape, x.tobytes()) if x.size <= 64 else ("id", id(x))
    if isinstance(x, np.dtype) or isinstance(x, type):
        return ("t", str(x))
    try:
        hash(x)
    except TypeError:
        return ("id", id(x))
    return ("v", type(x).__name__, x)


def _uniform(a):
    """The single value all elements of ``a`` share, or None."""
    if a.size == 0 or a.dtype.kind not in "biufc":
        return None
    first = a.flat[0]
    if a.size == 1 or bool(np.all(a == first)):
        return first
    return None


class Program:
    """The statements recorded while tracing, in execution order, plus the inputs."""

    def __init__(self) -> None:
        self.stmts: list = []
        self.inputs: list = []  # Syms standing for the traced function's input arrays
        self.cse: dict = {}
        self.next_id = 0
        self.label = None  # fixed label (set by the tracer around the seed etc.)
        self.code_labels: dict = {}  # code object -> (op name, rule name)
        self.guards = 0
        self.mutated: set = set()  # ids of Syms written in place
        self.apply_code = None  # primitive.apply's code: its frame means "in an op's forward"
        self.applying = ("?", None)  # (op, "forward") of the op apply is running

    # -- values --------------------------------------------------------------------------
    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def input(self, array, name: str) -> Sym:
        s = Sym(self, np.array(array, copy=True), name=name)
        s.is_input = True
        self.inputs.append(s)
        return s

    def const(self, array) -> Sym:
        s = Sym(self, np.asarray(array))
        s.const = True
        return s

    # -- recording -----------------------------------------------------------------------
    def where(self):
        """(op name, rule) of the code running now: the innermost frame that is a
        primitive's forward or rule, else the innermost frame outside NumPy and here."""
        if self.label is not None:
            return self.label
        f = sys._getframe(2)
        fallback = None
        labels = self.code_labels
        while f is not None:
            code = f.f_code
            hit = labels.get(code)
            if hit is not None:
                return hit
            if code is self.apply_code:  # inside apply: a forward that is a NumPy callable
                return fallback if fallback is not None else self.applying
            if fallback is None:
                mod = f.f_globals.get("__name__", "")
                if not (mod.startswith("numpy") or mod.startswith("glassgrad.compile")
                        or mod.startswith("glassgrad.backend")):
                    fallback = (getattr(code, "co_qualname", code.co_name), None)
            f = f.f_back
        return fallback or ("?", None)

    def record(self, op, args, kwargs, result, kind="call", effect=False, cse=True):
        """Add a statement computing ``result`` (a concrete array, or tuple of them);
        returns the Sym(s) standing for it, reusing an identical earlier pure one."""
        key = None
        if cse and not effect:
            key = (kind, op if isinstance(op, str) else id(op), _key(args), _key(kwargs))
            hit = self.cse.get(key)
            if hit is not None:
                return hit
        if isinstance(result, tuple):
            target = tuple(Sym(self, np.asarray(r)) for r in result)
        elif result is None:
            target = None
        else:
            target = Sym(self, result if isinstance(result, np.ndarray) else np.asarray(result))
        if target is not None and not effect and not _has_sym((args, kwargs)):
            # computed from constants only: a constant itself (folded)
            for t in (target if isinstance(target, tuple) else (target,)):
                t.const = True
            return target
        st = Stmt(target, op, args, kwargs, self.where(), effect=effect, kind=kind)
        self.stmts.append(st)
        if key is not None:
            self.cse[key] = target
        for t in (target if isinstance(target, tuple) else () if target is None else (target,)):
            t.stmt = st
        return target

    def materialize(self, s: Sym) -> None:
        """A constant about to be written in place becomes a variable of its own.

        Called *before* the concrete write: the variable starts from the constant's value
        as it was, and the concrete array is replaced by a private copy so that other
        Syms folded to the same constant do not see the write."""
        if s.const:
            s.const = False
            s.a = s.a.copy()
            st = Stmt(s, "np.array", (s.a.copy(),), {}, self.where(), kind="call")
            st.extra = "materialize"
            self.stmts.append(st)
            s.stmt = st

    def mutate(self, s: Sym) -> None:
        """``s`` is about to be written in place (call before the concrete write): later
        reads see a new version (no CSE across it)."""
        if s.const:
            self.materialize(s)
        s.version += 1
        self.mutated.add(s.id)

    def guard(self, value_sym: Sym, expected, how: str) -> None:
        """Record that ``how(value_sym) == expected`` must hold on every call."""
        if value_sym.const:
            return
        self.guards += 1
        st = Stmt(None, how, (value_sym,), {"expected": expected}, self.where(),
                  effect=True, kind="guard")
        self.stmts.append(st)


def _fmt_op(func) -> str:
    name = getattr(func, "__name__", str(func))
    mod = getattr(func, "__module__", "") or ""
    if mod.startswith("numpy.linalg") or "linalg" in mod:
        return f"np.linalg.{name}"
    if mod.startswith("numpy.fft"):
        return f"np.fft.{name}"
    if mod.startswith("numpy.lib.stride_tricks"):
        return f"np.lib.stride_tricks.{name}"
    return f"np.{name}"


_IN_PLACE_METHODS = frozenset(("fill", "sort", "partition", "put", "itemset", "setfield",
                               "resize"))


class Sym(np.lib.mixins.NDArrayOperatorsMixin):
    """A traced array: a concrete value (``.a``) and the variable that will hold it."""

    __slots__ = ("prog", "a", "id", "version", "const", "stmt", "name", "is_input",
                 "grad_of", "name_given", "bounds", "__weakref__")

    __array_priority__ = 100

    def __init__(self, prog: Program, a, name=None) -> None:
        self.prog = prog
        self.a = a
        self.id = prog.new_id()
        self.version = 0
        self.const = False
        self.stmt = None
        self.name = name  # a hint: the emitter makes names unique
        self.is_input = False
        self.grad_of = None  # the Sym whose cotangent this is (names it d_<that>)
        self.name_given = False
        self.bounds = None  # (lo, hi) every non-NaN value is known to lie in, or None

    __hash__ = object.__hash__

    def const_key(self):
        a = self.a
        u = _uniform(a)
        if u is not None:
            return ("u", a.dtype.str, a.shape, u.item())
        if a.size <= 64:
            return ("a", a.dtype.str, a.shape, a.tobytes())
        return ("id", self.id)

    # -- metadata: concrete, static ---------------------------------------------------
    shape = property(lambda self: self.a.shape)
    dtype = property(lambda self: self.a.dtype)
    ndim = property(lambda self: self.a.ndim)
    size = property(lambda self: self.a.size)
    itemsize = property(lambda self: self.a.itemsize)
    nbytes = property(lambda self: self.a.nbytes)
    strides = property(lambda self: self.a.strides)
    base = None  # a traced value is nobody's view as far as the engine's protection goes

    def __len__(self) -> int:
        return len(self.a)

    def __repr__(self) -> str:
        return f"Sym({self.name or self.id}, shape={self.a.shape}, dtype={self.a.dtype})"

    def __array__(self, dtype=None, copy=None):
        raise TraceError(
            f"a traced value (shape {self.a.shape}) was turned into a plain NumPy array "
            f"in {self.prog.where()[0]}: the computation would be baked into the compiled "
            "program as a constant. Keep it in NumPy calls (np.add(x, y), x.sum()), or "
            "compute it outside the compiled function. (Writing it into an array the "
            "tracer cannot see does this too: a buffer updated in place must be reachable "
            "from the compiled function, as an argument, a module's buffer or a captured "
            "tensor, not made inside it)")

    # -- values that decide branches: concrete, guarded -------------------------------------
    def __bool__(self) -> bool:
        v = bool(self.a)
        self.prog.guard(self, v, "bool")
        return v

    def __float__(self) -> float:
        v = float(self.a)
        self.prog.guard(self, v, "float")
        return v

    def __int__(self) -> int:
        v = int(self.a)
        self.prog.guard(self, v, "int")
        return v

    __index__ = __int__

    def item(self, *args):
        v = self.a.item(*args)
        self.prog.guard(self if not args else self[args], v, "item")
        return v

    def tolist(self):
        v = self.a.tolist()
        self.prog.guard(self, v, "tolist")
        return v

    def __iter__(self):
        return (self[i] for i in range(len(self.a)))

    # -- NumPy protocols --------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        for x in inputs:
            if not isinstance(x, (Sym, np.ndarray, np.generic, int, float, complex, bool)) \
                    and not (method == "at" and x is inputs[1]):  # ufunc.at's index
                return NotImplemented  # a Tensor: let it take the operation
        prog = self.prog
        out = kwargs.get("out")
        if out is not None or method == "at":
            targets = out if out is not None else (inputs[0],)
            for t in targets:
                if type(t) is Sym:
                    prog.mutate(t)
                elif isinstance(t, np.ndarray):
                    raise TraceError(f"np.{ufunc.__name__}: writing a traced value into a "
                                     "plain NumPy array: the array would not be updated "
                                     "on later calls")
            getattr(ufunc, method)(*unwrap(inputs), **unwrap(kwargs))
            prog.record((ufunc, method), inputs, kwargs, None, kind="ufunc", effect=True)
            if out is not None:
                return out[0] if len(out) == 1 else out
            return None
        concrete = getattr(ufunc, method)(*unwrap(inputs), **unwrap(kwargs))
        if method == "__call__":
            simple = _simplify(ufunc, inputs, concrete)
            if simple is not None:
                return simple
        if method == "__call__" and not kwargs:
            known = _decided(ufunc, inputs, concrete)
            if known is not None:  # a comparison the value ranges decide: a constant
                return prog.const(known)
        out = prog.record((ufunc, method), inputs, kwargs, concrete, kind="ufunc")
        if method == "__call__" and not kwargs and type(out) is Sym and not out.const:
            out.bounds = _range(ufunc, inputs)
        return out

    def __array_function__(self, func, types, args, kwargs):
        prog = self.prog
        name = func.__name__
        if name in ("copyto", "put", "place", "put_along_axis", "fill_diagonal"):
            dst = args[0] if args else kwargs.get("dst", kwargs.get("a", kwargs.get("arr")))
            if type(dst) is Sym:
                prog.mutate(dst)
            func(*unwrap(args), **unwrap(kwargs))
            prog.record(_fmt_op(func), args, kwargs, None, effect=True)
            return None
        concrete = func(*unwrap(args), **unwrap(kwargs))
        if not isinstance(concrete, (np.ndarray, np.generic, tuple, list)):
            return concrete  # metadata (np.shape, np.ndim, np.result_type ...)
        if isinstance(concrete, (tuple, list)) and not all(
                isinstance(c, (np.ndarray, np.generic)) for c in concrete):
            return concrete
        if isinstance(concrete, list):
            concrete = tuple(concrete)
        simple = _simplify_function(func, args, kwargs, concrete)
        if simple is not None:
            return simple
        if name in ("empty_like",):
            return prog.record(_fmt_op(func), args, kwargs, concrete, cse=False)
        return prog.record(_fmt_op(func), args, kwargs, concrete)

    # -- indexing ---------------------------------------------------------------------------
    def __getitem__(self, index):
        concrete = self.a[unwrap(index)]
        if _whole(index) and concrete.shape == self.a.shape:
            return self  # x[:] or x[...]: nothing to write down
        return self.prog.record("getitem", (self, index), {}, np.asarray(concrete),
                                kind="getitem")

    def __setitem__(self, index, value) -> None:
        if value is self and _whole(index):
            return  # x[...] = x: nothing to write
        self.prog.mutate(self)
        self.a[unwrap(index)] = unwrap(value)
        self.prog.record("setitem", (self, index, value), {}, None, kind="setitem",
                         effect=True)

    # -- methods and attributes: every other ndarray method, written down -------------------
    @property
    def T(self):
        if self.a.ndim < 2:
            return self
        inner = self.stmt
        if inner is not None and inner.kind == "attr" and inner.op == "T" \
                and not inner.effect:
            return inner.args[0]  # (x.T).T is x
        return self.prog.record("T", (self,), {}, self.a.T, kind="attr")

    @property
    def real(self):
        if self.a.dtype.kind != "c":
            return self
        return self.prog.record("real", (self,), {}, self.a.real, kind="attr")

    @property
    def imag(self):
        return self.prog.record("imag", (self,), {}, self.a.imag, kind="attr")

    def astype(self, dtype, *args, **kwargs):
        if np.dtype(dtype) == self.a.dtype and not kwargs.get("copy", True):
            return self
        return self._method("astype", (dtype,) + args, kwargs)

    def reshape(self, *shape, **kwargs):
        concrete = self.a.reshape(*unwrap(shape), **kwargs)
        if concrete.shape == self.a.shape:
            return self
        st = self.stmt
        if st is not None and st.kind == "call" and st.op == "np.sum" and len(st.args) == 1 \
                and st.kwargs.get("keepdims") is True and type(st.args[0]) is Sym:
            # sum(keepdims=True) then reshape to the reduced shape: one plain sum
            axis = st.kwargs.get("axis")
            if np.sum(st.args[0].a, axis=axis).shape == concrete.shape:
                return np.sum(st.args[0], axis=axis)
        return self.prog.record("reshape", (self,) + shape, kwargs, concrete, kind="method")

    def transpose(self, *axes):
        ax = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        if ax and tuple(ax) == tuple(range(self.a.ndim)):
            return self
        if not ax:
            return self.T
        return self._method("transpose", axes, {})

    def sum(self, *args, **kwargs):
        return np.sum(self, *args, **kwargs)

    def _method(self, name, args, kwargs):
        if name in _IN_PLACE_METHODS:
            self.prog.mutate(self)  # before the write: a constant is copied as it was
        concrete = getattr(self.a, name)(*unwrap(args), **unwrap(kwargs))
        if concrete is None:  # an in-place method (fill, sort, ...)
            if name not in _IN_PLACE_METHODS:
                self.prog.mutate(self)
            self.prog.record(name, (self,) + tuple(args), kwargs, None, kind="method",
                             effect=True)
            return None
        if not isinstance(concrete, (np.ndarray, np.generic)):
            if isinstance(concrete, tuple) and all(isinstance(c, np.ndarray) for c in concrete):
                return self.prog.record(name, (self,) + tuple(args), kwargs, concrete,
                                        kind="method")
            return concrete
        return self.prog.record(name, (self,) + tuple(args), kwargs, concrete, kind="method")

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        attr = getattr(self.a, name)
        if callable(attr):
            return lambda *args, **kwargs: self._method(name, args, kwargs)
        if isinstance(attr, np.ndarray):
            return self.prog.record(name, (self,), {}, attr, kind="attr")
        return attr  # flags, ctypes...: metadata of the concrete array

    def __copy__(self):
        return self._method("copy", (), {})

    def __deepcopy__(self, memo):
        return self._method("copy", (), {})


def _full_slice(i) -> bool:
    return type(i) is slice and i.start is None and i.stop is None and i.step is None


def _whole(index) -> bool:
    """``index`` selects everything (``:``, ``...``, a tuple of those)."""
    if index is Ellipsis or _full_slice(index):
        return True
    return type(index) is tuple and all(i is Ellipsis or _full_slice(i) for i in index)


def _is_const(x, value=None) -> bool:
    """Whether ``x`` is a known uniform constant (equal to ``value`` if given)."""
    if type(x) is Sym:
        if not x.const:
            return False
        u = _uniform(x.a)
    elif isinstance(x, (int, float, bool, np.generic)):
        u = x
    elif isinstance(x, np.ndarray):
        u = _uniform(x)
    else:
        return False
    if u is None:
        return False
    return value is None or (u == value and not isinstance(u, (bool, np.bool_)))


def _same(x, concrete) -> bool:
    """``x`` is a Sym that already has the result's shape and dtype."""
    return type(x) is Sym and x.a.shape == concrete.shape and x.a.dtype == concrete.dtype


def _simplify(ufunc, inputs, concrete):
    """A no-op arithmetic step (``x * 1``, ``x + 0``, ``x / 1``, ``x ** 1``, ``--x``)
    returns ``x``."""
    if not isinstance(concrete, np.ndarray) and not isinstance(concrete, np.generic):
        return None
    concrete = np.asarray(concrete)
    if len(inputs) == 2:
        a, b = inputs
        if ufunc is np.multiply:
            if _is_const(b, 1) and _same(a, concrete):
                return a
            if _is_const(a, 1) and _same(b, concrete):
                return b
        elif ufunc is np.add:
            if _is_const(b, 0) and _same(a, concrete):
                return a
            if _is_const(a, 0) and _same(b, concrete):
                return b
        elif ufunc is np.subtract:
            if _is_const(b, 0) and _same(a, concrete):
                return a
        elif ufunc is np.true_divide or ufunc is np.power:  # x / 1, x ** 1
            if _is_const(b, 1) and _same(a, concrete):
                return a
    elif len(inputs) == 1 and ufunc is np.negative:
        a = inputs[0]
        st = a.stmt if type(a) is Sym else None
        if st is not None and st.kind == "ufunc" and st.op == (np.negative, "__call__") \
                and not st.kwargs and _same(st.args[0], concrete):
            return st.args[0]
    return None


def _simplify_function(func, args, kwargs, concrete):
    """Array functions that the concrete shapes show to do nothing return their input."""
    if not args or type(args[0]) is not Sym or not isinstance(concrete, np.ndarray):
        return None
    x = args[0]
    name = func.__name__
    if name in ("broadcast_to", "reshape", "ascontiguousarray", "squeeze", "expand_dims",
                "atleast_1d", "atleast_2d", "moveaxis") and _same(x, concrete):
        return x
    if name in ("sum", "mean") and _same(x, concrete):
        axis = kwargs.get("axis", args[1] if len(args) > 1 else None)
        if axis == () or axis == []:
            return x
    if name == "transpose":
        axes = kwargs.get("axes", args[1] if len(args) > 1 else None)
        nd = x.a.ndim
        if axes is not None:
            axes = tuple(int(a) % nd if nd else int(a) for a in np.asarray(axes).ravel())
        if axes is not None and axes == tuple(range(nd)):
            return x
        if axes is None or axes == tuple(reversed(range(nd))):
            return x.T  # written x.T; (x.T).T is x
    if name == "asarray" and _same(x, concrete) and kwargs.get("dtype") is None:
        return x
    return None



# -- value ranges: enough to prove a guard's comparison always false ---------------------
# Bounds hold for every value that is not NaN. A comparison with NaN is False, so a
# comparison the bounds decide is decided for NaN too.

_INF = float("inf")


def _bounds_of(x):
    """(lo, hi) of an operand: a number, a constant, or a Sym with known bounds."""
    if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool):
        v = float(x)
        return (v, v) if v == v else None
    if type(x) is Sym:
        if x.const and x.a.dtype.kind in "iuf" and x.a.size:
            finite = x.a[~np.isnan(x.a)] if x.a.dtype.kind == "f" else x.a
            return (float(finite.min()), float(finite.max())) if finite.size else None
        return x.bounds
    return None


def _range(ufunc, inputs):
    """Bounds of ``ufunc(*inputs)`` from its inputs' (monotone pieces only)."""
    b = [_bounds_of(x) for x in inputs]
    u = [(-_INF, _INF) if r is None else r for r in b]
    if ufunc is np.exp:
        with np.errstate(over="ignore"):
            return (float(np.exp(u[0][0])), float(np.exp(u[0][1])))
    if ufunc is np.negative:
        return (-u[0][1], -u[0][0])
    if ufunc is np.tanh:
        return (max(-1.0, float(np.tanh(u[0][0]))), min(1.0, float(np.tanh(u[0][1]))))
    if ufunc in (np.absolute, np.square, np.sqrt):
        return (0.0, _INF)
    if ufunc is np.logaddexp and len(u) == 2:
        return (max(u[0][0], u[1][0]), _INF)
    if ufunc is np.maximum and len(u) == 2:
        return (max(u[0][0], u[1][0]), max(u[0][1], u[1][1]))
    if ufunc is np.minimum and len(u) == 2:
        return (min(u[0][0], u[1][0]), min(u[0][1], u[1][1]))
    if ufunc is np.add and len(u) == 2 and None not in b:
        return (u[0][0] + u[1][0], u[0][1] + u[1][1])
    return None


_FLIPPED = {np.less: np.greater, np.greater: np.less, np.less_equal: np.greater_equal,
            np.greater_equal: np.less_equal}


def _decided(ufunc, inputs, concrete):
    """``x < c`` (and >, <=, >=) that ``x``'s bounds make False everywhere: the concrete
    all-False result, else None. Never a result the concrete values contradict."""
    if ufunc not in _FLIPPED or len(inputs) != 2:
        return None
    x, c = inputs
    if type(x) is not Sym or x.const:
        x, c, ufunc = c, x, _FLIPPED[ufunc]
    if type(x) is not Sym or x.const or x.bounds is None:
        return None
    cb = _bounds_of(c)
    if cb is None or cb[0] != cb[1]:
        return None
    lo, hi = x.bounds
    v = cb[0]
    never = ((ufunc is np.less and lo >= v) or (ufunc is np.less_equal and lo > v)
             or (ufunc is np.greater and hi <= v) or (ufunc is np.greater_equal and hi < v))
    if not never:
        return None
    concrete = np.asarray(concrete)
    return concrete if concrete.dtype == bool and not concrete.any() else None
