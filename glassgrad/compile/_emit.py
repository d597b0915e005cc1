"""From a trace to Python source: dead code out, copies shared, one line per NumPy call.

The program is in SSA form (every :class:`~glassgrad.compile._sym.Sym` is assigned once,
except for the in-place writes the rules make, which are kept in order). This module
removes what the outputs do not need, shares copies of values nobody writes to, names
the variables (``matmul``, ``sigmoid``, their cotangents ``d_matmul``...), writes the
constants once at module level, and renders each statement as the NumPy a person would
write (``a @ b``, ``x.T``, ``np.sum(g, axis=0)``), with a comment per op naming its rule.
"""

from __future__ import annotations

import base64
import keyword

import numpy as np

from ..primitive import PRIMITIVES
from ._fuse import PRIMS
from ._passes import (
    Frees,
    find_inlinable,
    prune,
    share_copies,
    substitute,
    targets_of,
    writes_after_guards,
)
from ._sym import _BINOPS, _UNOPS, Stmt, Sym, _uniform

__all__ = ["emit", "Emitted"]

_PRECEDENCE = {"**": 8, "@": 6, "*": 6, "/": 6, "//": 6, "%": 6, "+": 5, "-": 5,
               "&": 4, "^": 3, "|": 2, ">": 1, ">=": 1, "<": 1, "<=": 1, "==": 1, "!=": 1}
_UNARY = 7
_ASSOC = {"*", "+", "&", "|", "^"}  # a chain of these on the left needs no parentheses


def _wrap(text, prec, op_prec, left, op):
    if prec > op_prec or prec == 100:
        return text
    if prec == op_prec and left and op in _ASSOC:
        return text
    return f"({text})"


class Emitted:
    """The program as text, and what the runner needs to call it."""

    def __init__(self, **kw):
        self.source = kw["source"]  # the module text: constants, then the function
        self.func_name = kw["func_name"]
        self.input_names = kw["input_names"]  # parameter names, in call order
        self.input_syms = kw["input_syms"]  # the Syms they stand for
        self.constants = kw["constants"]  # name -> array
        self.grad_tensors = kw["grad_tensors"]  # tensors whose gradients are returned
        self.n_aux = kw["n_aux"]
        self.n_rngs = kw["n_rngs"]
        self.needs_blob = kw["needs_blob"]
        self.n_stmts = kw["n_stmts"]


def _prim(op_name: str):
    return PRIMITIVES.get(op_name) or next((p for p in PRIMS if p.name == op_name), None)


def _vjp_line(op_name: str):
    prim = _prim(op_name)
    doc = getattr(prim, "doc", None) or getattr(prim, "__doc__", None) or ""
    for line in doc.splitlines():
        s = line.strip()
        if s.startswith("VJP:"):
            text = s[4:].strip().split("   ")[0].strip()
            cut = text.find(". ")
            return text[:cut + 1] if cut > 0 else text
    return None


def _fwd_line(op_name: str):
    prim = _prim(op_name)
    doc = getattr(prim, "doc", None) or ""
    first = doc.strip().splitlines()[0].strip() if doc.strip() else ""
    return first if first and len(first) < 90 else None


_RESERVED = {"np", "base64", "value_and_grad", "GuardFailed", "_blob", "bool", "float",
             "int", "list", "tuple", "slice", "range", "len", "sum", "min", "max", "abs",
             "complex", "object", "type", "print"} | set(keyword.kwlist)


class _Namer:
    def __init__(self, taken):
        self.taken = set(taken) | _RESERVED
        self.names = {}  # Sym id -> name

    def name(self, s: Sym) -> str:
        n = self.names.get(s.id)
        if n is None:
            hint = s.name or "t"
            grad_of = s.grad_of
            if grad_of is not None and s.name is None:
                hint = "d_" + self.name(grad_of)
            base = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in hint)
            if not base or base[0].isdigit():
                base = "p" + base
            n, i = base, 1
            while n in self.taken:
                i += 1
                n = f"{base}{i}"
            self.taken.add(n)
            self.names[s.id] = n
        return n


def _dtype_expr(dt) -> str:
    dt = np.dtype(dt)
    if dt.kind in "biufc" and dt.name in np.sctypeDict:
        return f"np.{dt.name}"
    return f"np.dtype({dt.str!r})"


def _scalar_expr(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return repr(bool(v)) if isinstance(v, bool) else f"np.bool_({bool(v)})"
    if isinstance(v, np.generic):
        item = v.item()
        if isinstance(item, float) and not np.isfinite(item):
            item = f"float({str(item)!r})"
        return f"{_dtype_expr(v.dtype)}({item!r})" if not isinstance(item, str) \
            else f"{_dtype_expr(v.dtype)}({item})"
    if isinstance(v, float) and not np.isfinite(v):
        return f"float({str(v)!r})"
    return repr(v)


class _Writer:
    """Renders arguments; owns the constant pool."""

    def __init__(self, namer: _Namer):
        self.namer = namer
        self.constants = {}  # name -> array
        self.const_lines = []
        self.const_keys = {}
        self.needs_blob = False
        self.inline = {}  # Sym id -> (expression text, precedence): single-use temporaries

    def prec(self, x) -> int:
        """Precedence of ``x``'s text: 100 for names, calls, attributes and subscripts."""
        if type(x) is Sym and not x.const:
            hit = self.inline.get(x.id)
            if hit is not None:
                return hit[1]
        if type(x) is Sym and x.const and x.a.ndim == 0 and x.a.item() < 0:
            return _UNARY
        if isinstance(x, (int, float)) and x < 0:
            return _UNARY
        return 100

    def const(self, a: np.ndarray, plain_ok=False) -> str:
        a = np.asarray(a)
        if a.ndim == 0:
            return _scalar_expr(a[()])
        key = (a.dtype.str, a.shape, a.tobytes()) if a.size <= 4096 else id(a)
        hit = self.const_keys.get(key)
        if hit is not None:
            return hit
        name = f"C{len(self.constants)}"
        while name in self.namer.taken:
            name += "_"
        self.namer.taken.add(name)
        u = _uniform(a)
        shape = tuple(int(n) for n in a.shape)
        if u is not None:
            fill = _scalar_expr(u.item() if a.dtype.kind != "b" else bool(u))
            expr = f"np.full({shape!r}, {fill}, dtype={_dtype_expr(a.dtype)})"
        elif a.size <= 16 and a.dtype.kind in "biuf":
            expr = (f"np.array({a.ravel().tolist()!r}, dtype={_dtype_expr(a.dtype)})"
                    + (f".reshape({shape!r})" if a.ndim != 1 else ""))
        else:
            self.needs_blob = True
            data = base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()
            expr = f"_blob({data!r}, {a.dtype.str!r}, {shape!r})"
        self.constants[name] = a
        self.const_lines.append(f"{name} = {expr}  # constant {shape} {a.dtype}")
        self.const_keys[key] = name
        return name

    def arg(self, x, in_index=False) -> str:
        t = type(x)
        if t is Sym:
            if x.const:
                return self.const(x.a)
            hit = self.inline.get(x.id)
            if hit is not None:
                return hit[0]
            return self.namer.name(x)
        if isinstance(x, np.ndarray):
            return self.const(x)
        if isinstance(x, np.generic):
            return _scalar_expr(x)
        if t is tuple:
            inner = ", ".join(self.arg(v, in_index) for v in x)
            if in_index:
                return inner if len(x) != 1 else inner + ","
            return f"({inner}{',' if len(x) == 1 else ''})"
        if t is list:
            return "[" + ", ".join(self.arg(v) for v in x) + "]"
        if t is slice:
            parts = ["" if v is None else self.arg(v) for v in (x.start, x.stop, x.step)]
            if in_index:
                text = f"{parts[0]}:{parts[1]}" + (f":{parts[2]}" if x.step is not None else "")
                return text
            return f"slice({', '.join(p or 'None' for p in parts)})"
        if x is Ellipsis:
            return "..."
        if isinstance(x, np.dtype):
            return _dtype_expr(x)
        if isinstance(x, type):
            if issubclass(x, np.generic):
                return f"np.{x.__name__}"
            return x.__name__
        if t is dict:
            return "{" + ", ".join(f"{k!r}: {self.arg(v)}" for k, v in x.items()) + "}"
        if x.__class__.__name__ == "_RngProxy":
            return "rng" if x.sym == 0 else f"rng{x.sym}"
        if isinstance(x, (int, float, complex, bool, str)) or x is None:
            return _scalar_expr(x)
        if hasattr(x, "__name__") and isinstance(x, np.ufunc):
            return f"np.{x.__name__}"
        raise TypeError(f"gg.compile: cannot write an argument of type {type(x).__name__} "
                        "into the program")

    def kwargs(self, kw) -> list:
        parts = []
        for k, v in kw.items():
            if k == "axis" and type(v) is tuple and len(v) == 1:
                v = v[0]  # axis=0 reads better than axis=(0,) and means the same
            if k == "keepdims" and v is False:
                continue  # the default
            parts.append(f"{k}={self.arg(v)}")
        return parts


def _render(st: Stmt, w: _Writer):
    """The expression (or effect line) of one statement, and its precedence."""
    k = st.kind
    if k == "ufunc":
        ufunc, method = st.op
        args, kw = st.args, dict(st.kwargs)
        out = kw.get("out")
        if method == "__call__" and set(kw) == {"out"} and len(args) == 2 \
                and ufunc in _BINOPS and ufunc is not np.matmul and len(out) == 1 \
                and out[0] is args[0] and type(args[0]) is Sym:
            # np.subtract(p, u, out=(p,)) is ``p -= u``: an in-place update, as written
            return f"{w.arg(args[0])} {_BINOPS[ufunc]}= {w.arg(args[1])}", 0
        if method == "__call__":
            if not kw and len(args) == 2 and ufunc in _BINOPS:
                sym = _BINOPS[ufunc]
                op_prec = _PRECEDENCE[sym]
                texts = _const_as_scalar(w, st, args)
                a = _wrap(texts[0][0], texts[0][1], op_prec, True, sym)
                b = _wrap(texts[1][0], texts[1][1], op_prec, False, sym)
                return f"{a} {sym} {b}", op_prec
            if not kw and len(args) == 1 and ufunc in _UNOPS:
                inner = w.arg(args[0])
                if w.prec(args[0]) < 100:
                    inner = f"({inner})"
                return f"{_UNOPS[ufunc]}{inner}", _UNARY
            if set(kw) == {"dtype"} and len(args) == 2 and ufunc in _BINOPS \
                    and st.target is not None and np.dtype(kw["dtype"]) == _plain_dtype(
                        ufunc, args) == st.target.a.dtype:
                kw = {}  # the dtype= changes nothing: write the operator
                sym = _BINOPS[ufunc]
                op_prec = _PRECEDENCE[sym]
                texts = _const_as_scalar(w, st, args)
                a = _wrap(texts[0][0], texts[0][1], op_prec, True, sym)
                b = _wrap(texts[1][0], texts[1][1], op_prec, False, sym)
                return f"{a} {sym} {b}", op_prec
            parts = [w.arg(a) for a in args] + w.kwargs(kw)
            return f"np.{ufunc.__name__}({', '.join(parts)})", 100
        if method == "reduce" and ufunc in _REDUCE_METHODS and len(args) == 1 \
                and type(args[0]) is Sym and set(kw) <= {"axis", "keepdims"}:
            x, axis = args[0], kw.get("axis", 0)
            if axis is None or (type(axis) is tuple and sorted(a % max(x.a.ndim, 1)
                                for a in axis) == list(range(x.a.ndim))):
                kw.pop("axis", None)
                if kw.get("keepdims") is not True:
                    kw.pop("keepdims", None)
                    return f"{_obj(w, x)}.{_REDUCE_METHODS[ufunc]}()", 100
            return f"{_obj(w, x)}.{_REDUCE_METHODS[ufunc]}({', '.join(w.kwargs(kw))})", 100
        parts = [w.arg(a) for a in args] + w.kwargs(kw)
        return f"np.{ufunc.__name__}.{method}({', '.join(parts)})", 100
    if k == "call":
        if st.op in _AS_METHOD and len(st.args) == 1 and type(st.args[0]) is Sym \
                and isinstance(st.args[0].a, np.ndarray):
            # x.sum(axis=0): what a person writes, and faster than np.sum's Python wrapper
            parts = w.kwargs(st.kwargs)
            return f"{_obj(w, st.args[0])}.{st.op[3:]}({', '.join(parts)})", 100
        parts = [w.arg(a) for a in st.args] + w.kwargs(st.kwargs)
        return f"{st.op}({', '.join(parts)})", 100
    if k in ("method", "rng"):
        parts = [w.arg(a) for a in st.args[1:]] + w.kwargs(st.kwargs)
        return f"{_obj(w, st.args[0])}.{st.op}({', '.join(parts)})", 100
    if k == "attr":
        return f"{_obj(w, st.args[0])}.{st.op}", 100
    if k == "getitem":
        return f"{_obj(w, st.args[0])}[{w.arg(st.args[1], in_index=True)}]", 100
    if k == "setitem":
        return (f"{_obj(w, st.args[0])}[{w.arg(st.args[1], in_index=True)}] = "
                f"{w.arg(st.args[2])}"), 0
    if k == "guard":
        how, expected = st.op, st.kwargs["expected"]
        value = w.arg(st.args[0])
        if how == "bool":
            test = value if not expected else f"not {_obj(w, st.args[0])}"
            return (f"if {test}:  # the trace took the {expected} branch\n        raise "
                    f"GuardFailed({'a value-dependent branch would go the other way'!r})"), 0
        read = f"{_obj(w, st.args[0])}.{how}()" if how in ("item", "tolist") \
            else f"{how}({value})"
        want = _scalar_expr(expected) if isinstance(expected, (int, float, complex)) \
            else repr(expected)
        return (f"if {read} != {want}:  # the trace read {expected!r}\n        raise "
                f"GuardFailed({f'{how}(...) differs from the traced {expected!r}'!r})"), 0
    raise AssertionError(k)


_REDUCE_METHODS = {np.add: "sum", np.multiply: "prod", np.maximum: "max", np.minimum: "min",
                   np.logical_or: "any", np.logical_and: "all"}
_AS_METHOD = {"np.sum", "np.mean", "np.any", "np.all", "np.max", "np.min", "np.prod",
              "np.argmax", "np.argmin", "np.cumsum"}


def _short(v) -> float:
    """The shortest Python float that is ``v`` in ``v``'s own precision (``0.2`` for the
    float32 nearest 0.2, not ``0.20000000298023224``): an operand a float32 array turns
    back into exactly ``v``."""
    return float(str(v)) if isinstance(v, np.floating) else float(v)


def _plain_dtype(ufunc, args):
    """The dtype ``ufunc(*args)`` gives without a ``dtype=`` argument."""
    try:
        return ufunc(*[a.a if type(a) is Sym else a for a in args]).dtype
    except (TypeError, ValueError):
        return None


def _obj(w, x) -> str:
    text = w.arg(x)
    return text if w.prec(x) == 100 else f"({text})"


def _const_as_scalar(w: _Writer, st: Stmt, args):
    """Operands of a binary operator; a uniform constant whose broadcast does not change
    the result's shape and dtype is written as a plain number (``0.25 * x``). Not for
    ``@``: a matrix product does not broadcast, a number there is an error."""
    out = st.target
    if st.op[0] is np.matmul:
        return [(w.arg(x), w.prec(x)) for x in args]
    texts = []  # (text, precedence) per operand
    for i, x in enumerate(args):
        other = args[1 - i]
        c = x.a if type(x) is Sym and x.const else x if isinstance(x, np.ndarray) else None
        if c is not None and c.ndim > 0 and out is not None:
            u = _uniform(c)
            oshape = np.shape(other.a if type(other) is Sym else other)
            odt = (other.a.dtype if type(other) is Sym else np.asarray(other).dtype)
            if u is not None and oshape == out.a.shape and odt == out.a.dtype \
                    and c.dtype == out.a.dtype and c.dtype.kind in "fc":
                v = _short(u) if c.dtype.kind == "f" else complex(u)
                texts.append((repr(v), _UNARY if c.dtype.kind == "f" and v < 0 else 100))
                continue
        if c is not None and c.ndim == 0 and out is not None and type(x) is Sym:
            odt = (other.a.dtype if type(other) is Sym else np.asarray(other).dtype)
            if c.dtype == out.a.dtype and odt == out.a.dtype and c.dtype.kind == "f":
                v = _short(c[()])
                texts.append((repr(v), _UNARY if v < 0 else 100))
                continue
        texts.append((w.arg(x), w.prec(x)))
    return texts


def emit(tr, func_name="value_and_grad") -> Emitted:
    """Write the traced step ``tr`` as a Python function of the input arrays."""
    prog = tr.prog
    grad_tensors = [t for t in tr.grads if tr.grads[t] is not None]
    outputs = [tr.value] + [tr.grads[t] for t in grad_tensors] + [a._data for a in tr.aux]
    inputs_ids = {s.id for s in prog.inputs}
    stmts, alias = share_copies(prog.stmts, prog.mutated, outputs)
    if alias:
        for st in stmts:
            st.args = substitute(st.args, alias)
            st.kwargs = substitute(st.kwargs, alias)
        outputs = [alias.get(o.id, o) if type(o) is Sym else o for o in outputs]
    stmts, live = prune(stmts, outputs, inputs_ids)
    stmts = writes_after_guards(stmts, inputs_ids)

    # inputs: the arguments (all, so the signature is the function's), then the captured
    # tensors the program reads, in the order the trace met them
    arg_syms = [s for s in tr.args if s is not None]
    arg_ids = {s.id for s in arg_syms}
    captured = [(t, sym) for t, _, sym in tr.swapped
                if sym.id not in arg_ids and sym.id in live]
    taken = set()
    namer = _Namer(set())
    input_names = []
    for s in arg_syms + [sym for _, sym in captured]:
        s.name = s.name or "c"
        input_names.append(namer.name(s))
        taken.add(s.id)
    rng_names = ["rng" if i == 0 else f"rng{i}" for i in range(len(tr.rngs))]
    namer.taken.update(rng_names)
    for t in grad_tensors:  # leaf gradients are called d_<leaf>
        g = tr.grads[t]
        g = alias.get(g.id, g) if type(g) is Sym else g
        sym = tr.by_tensor.get(id(t))
        if type(g) is Sym and not g.const and not g.is_input and g.id not in namer.names:
            g.name = "d_" + namer.name(sym)
    w = _Writer(namer)
    body = []
    label = None
    kept_ids = {id(st) for st in stmts}

    def first_kept(start):
        """The first statement kept at or after ``start`` (where a section's header goes)."""
        if start is None:
            return None
        return next((st for st in prog.stmts[start:] if id(st) in kept_ids), None)

    backward_at = first_kept(tr.backward_start)
    optimizer_at = first_kept(tr.optimizer_start)
    inlinable = find_inlinable(stmts, outputs, prog.mutated, backward_at)
    frees = Frees(stmts, outputs, inputs_ids, inlinable)
    body.append("    # ---- forward ----")
    for st in stmts:
        if st is backward_at:
            body.append("")
            body.append("    # ---- backward: the chain rule, one op at a time ----")
            label = None
        if st is optimizer_at:
            body.append("")
            body.append("    # ---- optimizer step: the parameters updated in place ----")
            label = None
        targets = targets_of(st)
        expr, prec = _render(st, w)
        if id(st) in inlinable and len(expr) <= 48:  # long expressions keep a name
            w.inline[targets[0].id] = (expr, prec)
            continue
        if st.label != label:
            label = st.label
            body.append(_comment(label))
        if not targets or st.effect and st.kind != "rng":
            body.append("    " + expr)
        else:
            lhs = ", ".join(namer.name(t) for t in targets)
            body.append(f"    {lhs} = {expr}")
        dead = frees.after(st, w)
        if dead:
            body.append(f"    del {', '.join(dead)}  # large, not read again: freed now")
    value_text = w.arg(outputs[0])
    grad_texts = [w.arg(o) for o in outputs[1:1 + len(grad_tensors)]]
    aux_texts = [w.arg(o) for o in outputs[1 + len(grad_tensors):]]
    body.append("")
    grads_tuple = "(" + ", ".join(grad_texts) + ("," if len(grad_texts) == 1 else "") + ")"
    if aux_texts:
        aux_tuple = "(" + ", ".join(aux_texts) + ("," if len(aux_texts) == 1 else "") + ")"
        body.append(f"    return {value_text}, {grads_tuple}, {aux_tuple}")
    else:
        body.append(f"    return {value_text}, {grads_tuple}")
    sig = ", ".join(input_names + ([f"{n}=None" for n in rng_names]))
    grad_names = [namer.names.get(tr.by_tensor[id(t)].id, "?") for t in grad_tensors]
    doc = ['    """Value and gradients of the traced step (written by gg.compile).',
           "",
           f"    Inputs: {', '.join(input_names) or '(none)'}"
           + (f"; {', '.join(rng_names)}: numpy.random.Generator (random draws)"
              if rng_names else "") + ".",
           f"    Returns (value, ({', '.join('d_' + n for n in grad_names)}))"
           + (f" and {len(aux_texts)} more output(s)" if aux_texts else "") + ".",
           '    """']
    rng_default = [f"    if {n} is None:\n        {n} = np.random.default_rng()"
                   for n in rng_names]
    header = [f"def {func_name}({sig}):"] + doc + rng_default
    lines = []
    if w.needs_blob:
        lines += ["def _blob(data, dtype, shape):",
                  "    return np.frombuffer(base64.b64decode(data), dtype=dtype)"
                  ".reshape(shape).copy()", ""]
    lines += w.const_lines
    if w.const_lines:
        lines.append("")
    source = "\n".join(lines + header + body) + "\n"
    return Emitted(source=source, func_name=func_name, input_names=input_names,
                   input_syms=arg_syms + [sym for _, sym in captured],
                   constants=w.constants, grad_tensors=grad_tensors, n_aux=len(aux_texts),
                   n_rngs=len(rng_names), needs_blob=w.needs_blob, n_stmts=len(stmts))


_HELPERS = {"sum_to": "sum the cotangent over the axes its input was broadcast along",
            "expand_to": "broadcast the cotangent back to the input's shape"}


def _comment(label) -> str:
    if label is None:
        return "    #"
    op, rule = label
    if rule == "forward":
        doc = _fwd_line(op)
        return f"    # {op}" + (f": {doc}" if doc else "")
    if rule and rule.startswith("vjp"):
        line = _vjp_line(op)
        return f"    # {op} backward ({rule})" + (f": {line}" if line else "")
    if op == "seed":
        return "    # seed: d loss / d loss = 1"
    if op in _HELPERS:
        return f"    # {op}: {_HELPERS[op]}"
    return f"    # {op}"
