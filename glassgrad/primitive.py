"""Primitives: each differentiable operation declared once, on one card.

A card is a small class that is only a namespace; the decorator's arguments say
everything the rest of the library needs to know about the op::

    @primitive(save="out", numpy=np.exp, method=True, jvp=SAME)
    class exp:
        '''out = e**x;  d out/dx = e**x = out.

        VJP: gx = g * out.    JVP: t_out = tx * out.'''

        forward = np.exp                  # or: def forward(x): return np.exp(x)

        def vjp_x(g, out, x):
            return g * out

That card is the whole op: ``gg.exp`` and ``Tensor.exp`` (``method=True``), ``np.exp(t)``
on a Tensor (``numpy=``: the NumPy callable it mirrors fills the dispatch table), the
VJP, and the JVP (``jvp=SAME``: the tangent rule is the cotangent rule with ``g`` read as
the tangent, true of every op whose Jacobian is diagonal or a scalar multiple).

The conventions, for an op with tensor inputs ``x, y`` and parameters ``p...``:

* ``params="axes keepdims"`` names the forward's non-tensor parameters; the forward's
  other arguments are the tensor inputs. Rules receive the parameters positionally after
  the inputs, already normalised by the public function, so they carry no defaults;
* ``forward(x, y, *p) -> out``              on arrays (a ufunc may serve directly);
* ``vjp_x(g, out, x, y, *p) -> gx``         one rule per input (the only VJP form): the
  engine calls only those whose input needs a gradient; a missing rule means the op is
  not differentiable in that input;
* ``jvp_x(tx, out, x, y, *p) -> t_out``     one rule per input, whose terms forward
  mode adds up (the JVP is linear in the tangents); or ``jvp=SAME`` (above); or
  ``jvp=LINEAR`` for an op linear in its input, whose tangent is the op applied to the
  tangent (``sum``, ``reshape``, ``concatenate``: t_out = op(tx));
* ``call(...)``: the public signature, when the user-facing arguments differ from the
  forward's (``sum(x, axis=None, keepdims=False)`` normalising ``axis`` and passing the
  input's shape). It ends in ``apply(<the primitive>, inputs, params)``.

Variadic primitives (``concatenate``, ``einsum``) take their inputs as one tuple and
have one rule for all of them: ``forward(xs, *p)``, ``vjp(g, out, xs, *p) -> (gx, ...)``,
``jvp(txs, out, xs, *p)`` (or ``jvp=LINEAR``).

``out`` and the inputs are only the values named in ``save`` (the rest arrive as
``None``): a rule receives exactly what it declared it needs, and nothing else is kept
alive by the graph. Rules assume the output's shape for ``g``; undoing broadcasting is
the engine's job (:func:`glassgrad.broadcast.sum_to`), never a rule's. Rules are plain
array code, so they run on arrays for an ordinary backward and on ``Tensor`` (which
speaks NumPy's dispatch protocols) for ``create_graph=True``.

Public functions that are compositions of primitives (``flatten``, ``split``) register
with :func:`op`, so the registry (:mod:`glassgrad.registry`: ``OPS``, ``NUMPY_MIRRORS``,
``METHODS``) is the one list of the library's array operations: the NumPy dispatch tables
and the Tensor methods are generated from it, and a test names any op missing from ``gg``.
"""

from __future__ import annotations

import inspect
import os

import numpy as np

from . import anomaly, forward
from .backend import RAW_TYPES, asarray
from .graph import Node, protect
from .modes import state as _modes
from .registry import METHODS, NUMPY_MIRRORS, OPS, op, register
from .tensor import Tensor

__all__ = [
    "primitive", "op", "Primitive", "PRIMITIVES", "OPS", "NUMPY_MIRRORS", "METHODS",
    "SAME", "LINEAR", "apply", "OpError",
]

PRIMITIVES: dict[str, Primitive] = {}
"""Every primitive by name (the engine's unit of differentiation)."""

SAME = "same"
"""``jvp=SAME``: each input's JVP rule is its VJP rule (diagonal Jacobian: g * d = d * t)."""
LINEAR = "linear"
"""``jvp=LINEAR``: the op is linear in its input(s); the output tangent is op(tangents)."""

_EMPTY = ()


class OpError(ValueError):
    """An operation was given inputs it cannot work on (shapes, dtypes, arguments)."""


class Primitive:
    """One declared operation: its forward and its VJP/JVP rules.

    ``vjp`` is a tuple of per-input rules (``None`` where the op has no derivative in that
    input), or for a variadic primitive one rule returning a tuple. ``jvp`` likewise, or
    None when the op has no forward-mode rule.
    """

    def __init__(self, name, forward, vjp, jvp=None, *, save="", doc="", params=(),
                 variadic=False, explain=None, on_release=None, call=None, outputs=1):
        self.name = name
        self.outputs = outputs  # > 1: forward returns a tuple (see ``outputs=``)
        self.what = f"the VJP of {name}"  # how error messages name its backward
        self.custom_explain = explain
        self.on_release = on_release  # extra cleanup when a node's saved values are freed
        self.forward = forward
        self.vjp = vjp
        self.jvp = jvp
        self.variadic = variadic
        self.params = tuple(params)
        self.call = call  # the public signature, if it differs from the forward's
        self.__doc__ = doc
        names = save.split()
        self.save_out = "out" in names
        self.save_mask = None
        if variadic:
            self.save_all = "xs" in names
            self.nones = None
            return
        inputs = input_names(forward, self.params)
        self.inputs = tuple(inputs)
        self.nones = (None,) * len(inputs)  # the ``ins`` of a node that saved nothing
        unknown = set(names) - set(inputs) - {"out"}
        if unknown:
            raise TypeError(f"primitive {name}: save names unknown inputs {unknown}")
        mask = tuple(n in names for n in inputs)
        self.save_all = bool(mask) and all(mask)
        if any(mask) and not all(mask):
            self.save_mask = mask

    def __repr__(self) -> str:
        where = self.where()
        return f"<primitive {self.name} ({where})>" if where else f"<primitive {self.name}>"

    def where(self) -> str:
        """``file:line`` of this primitive's VJP rules, so a live graph's backward is one
        hop away: ``loss.grad_fn.prim`` prints where to read it."""
        rules = self.vjp if isinstance(self.vjp, tuple) else (self.vjp,)
        rules = [getattr(r, "__wrapped__", r) for r in rules if r is not None]
        codes = [r.__code__ for r in rules if getattr(r, "__code__", None) is not None]
        if not codes:
            return ""
        first = min(codes, key=lambda c: c.co_firstlineno)
        path = first.co_filename
        marker = os.sep + "glassgrad" + os.sep
        if marker in path:  # show it from the package root, as a reader would look it up
            path = "glassgrad" + os.sep + path.rsplit(marker, 1)[1]
        return f"{path}:{first.co_firstlineno}"

    def __call__(self, *args, **kwargs):
        call = self.call
        if call is not None:
            return call(*args, **kwargs)
        if kwargs:
            raise TypeError(f"{self.name}() takes no keyword arguments")
        return apply(self, args)

    def explain(self, err: Exception, datas, params) -> Exception:
        """Turn a NumPy failure inside ``forward`` into an error naming this op."""
        if self.custom_explain is not None:
            custom = self.custom_explain(err, *datas, *params)
            if custom is not None:
                return custom
        shapes = " and ".join(str(np.shape(d)) for d in (datas if not self.variadic else datas[0]))
        msg = str(err)
        if "broadcast" in msg:
            return OpError(
                f"{self.name}: shapes {shapes} cannot be broadcast together "
                "(trailing dimensions must be equal or 1)"
            )
        return type(err)(f"{self.name}: {msg} (input shapes {shapes})")


def as_gradient(value, who: str, index: int) -> np.ndarray:
    """``value`` (returned by user code as a gradient) as a numeric array, or a clear error.

    ``who`` names the user's code (``MyFn.backward``, ``hook 'clip' on Linear``); a
    string, a list of objects or None-like junk would otherwise reach NumPy and fail
    far from its cause.
    """
    arr = asarray(value)
    if arr.dtype.kind not in "biufc":
        raise TypeError(
            f"{who} returned a {type(value).__name__} as the gradient at index {index}; "
            "a gradient must be a Tensor or a numeric array (or None for no gradient)"
        )
    return arr


def input_names(forward, params=()) -> list:
    """Names of a forward's tensor inputs: its arguments that are not ``params``.

    A NumPy ufunc may serve as the forward itself (``forward = np.multiply``): its inputs
    are called x, y.
    """
    if isinstance(forward, np.ufunc):
        return ["x", "y", "z"][: forward.nin]
    sig = inspect.signature(forward).parameters
    return [n for n in sig if n not in params]


def _quietly(rule):
    """``rule`` run with NumPy's floating-point warnings off (see ``quiet``)."""
    if rule is None:
        return None

    def quiet_rule(*args):
        with np.errstate(all="ignore"):
            return rule(*args)

    quiet_rule.__wrapped__ = rule  # where the rule is, for Primitive.where and readers
    quiet_rule.__name__ = rule.__name__
    return quiet_rule


def _linear_jvp(prim: Primitive):
    """The JVP of an op linear in its input(s): the op itself applied to the tangent(s).

    On Tensors (a nested level, or forward-over-reverse) it records, so the tangent is
    differentiable in turn; on arrays it is the plain forward.
    """
    nparams = len(prim.params)

    if prim.variadic:
        def linear_jvp(txs, out, xs, *params):
            if any(isinstance(t, Tensor) for t in txs):
                return apply(prim, tuple(txs), params)
            return prim.forward(txs, *params)

        return linear_jvp

    def linear_jvp_x(tx, out, *rest):
        params = rest[len(rest) - nparams:] if nparams else _EMPTY
        if isinstance(tx, Tensor):
            return apply(prim, (tx,), params)
        return prim.forward(tx, *params)

    return (linear_jvp_x,)


def _check_arity(name, rule, n_args):
    """Fail at import, not at the first backward, when a rule's signature is wrong."""
    if rule is None:
        return
    sig = inspect.signature(getattr(rule, "__wrapped__", rule)).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in sig):
        return
    got = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in sig)
    if got != n_args:
        raise TypeError(
            f"primitive {name}: rule {rule.__name__} takes {got} arguments, expected "
            f"{n_args} (g or t, out, the inputs, then the params)"
        )


def primitive(save: str = "", *, params: str = "", variadic: bool = False,
              quiet: bool = False, jvp=None, numpy=None, method=False, name=None,
              on_release=None, public=True, outputs: int = 1):
    """Class decorator that turns a card (a rule namespace) into a registered
    :class:`Primitive`. See the module docstring for the card's conventions.

    ``save`` names what the rules need at backward time: any of the forward's input
    names and ``out`` (for variadic primitives, ``xs`` for all inputs).
    ``params`` names the forward's non-tensor parameters.
    ``jvp``: ``SAME`` or ``LINEAR`` instead of writing ``jvp_*`` rules.
    ``numpy``, ``method``, ``name``: see :func:`op`; ``public=False`` keeps an internal
    primitive (one a public function or a rule calls) out of the op registry.
    ``on_release(node)``: extra cleanup when a node's saved values are freed.
    ``outputs=k`` (k > 1) declares an op with several outputs (``qr``: Q and R): the
    forward returns a tuple of k arrays and the op a tuple of k Tensors; each VJP rule
    receives ``g`` as a tuple of k cotangents (zeros for an output that reached no
    loss) and ``out`` as the tuple of outputs; JVP rules return a tuple of k tangents.
    ``quiet=True`` marks an op whose rules are evaluated at singular points on purpose
    (d sqrt/dx at 0 is inf, as in PyTorch): its VJP and JVP rules run with NumPy's
    RuntimeWarnings off, since the inf or NaN is the answer and the forward already
    warned about the user's value. Only those ops pay for the error-state switch;
    ``detect_anomaly()`` is the tool that reports non-finite gradients.
    """
    param_names = tuple(params.split())

    def decorate(cls) -> Primitive:
        opname = name or cls.__name__
        if opname.endswith("_"):
            raise ValueError(f"primitive {opname!r}: give the public name, not a trailing _")
        doc = inspect.cleandoc(cls.__doc__ or "")
        if variadic:
            vjp = getattr(cls, "vjp", None)
            jvps = None if jvp is not None else getattr(cls, "jvp", None)
        else:
            if hasattr(cls, "vjp") or hasattr(cls, "jvp"):
                raise TypeError(f"primitive {opname}: write one rule per input (vjp_x, jvp_x)")
            inputs = input_names(cls.forward, param_names)
            vjp = tuple(getattr(cls, "vjp_" + n, None) for n in inputs)
            if jvp is SAME:
                jvps = vjp
            elif jvp is None:
                jvps = tuple(getattr(cls, "jvp_" + n, None) for n in inputs)
                if all(j is None for j in jvps):
                    jvps = None
            else:
                jvps = None
            n_args = 2 + len(inputs) + len(param_names)
            for rule in vjp + (jvps or ()):
                _check_arity(opname, rule, n_args)
        if quiet:
            vjp = tuple(map(_quietly, vjp)) if isinstance(vjp, tuple) else _quietly(vjp)
            jvps = tuple(map(_quietly, jvps)) if isinstance(jvps, tuple) else _quietly(jvps)
        call = cls.__dict__.get("call")
        prim = Primitive(
            opname, cls.forward, vjp, jvps, save=save, doc=doc, params=param_names,
            variadic=variadic, explain=getattr(cls, "explain", None),
            on_release=on_release, call=call, outputs=outputs,
        )
        if jvp is LINEAR:
            prim.jvp = _linear_jvp(prim)
        prim.card = cls  # the class as written: the derivative reference shows its source
        if call is not None:
            prim.__signature__ = inspect.signature(call)
        if opname in PRIMITIVES:
            raise ValueError(f"primitive {opname!r} declared twice")
        PRIMITIVES[opname] = prim
        if public:
            register(opname, prim, call if call is not None else prim, numpy, method)
        return prim

    return decorate


def apply(prim: Primitive, inputs: tuple, params: tuple = _EMPTY):
    """Run ``prim`` forward on ``inputs`` and, if needed, record a node for backward.

    ``inputs`` are Tensors or raw constants (Python scalars, arrays); ``params`` are
    the op's non-tensor arguments, passed to the forward and to the rules unchanged.
    This is the hot path of the whole library: keep it lean.
    """
    special = _modes.special  # anomaly, forward mode, observers, tracing: one read
    if special and _modes.tracer is not None:
        _modes.tracer.see(prim, inputs)  # gg.compile: tensors captured by the traced function
    if special and _modes.forward_level:
        result = forward.apply_dual(prim, inputs, params, apply)
        if result is not None:
            return result
    # One pass over the inputs: arrays for the forward, and each input's place in the
    # graph (its node, the leaf itself, or None when it needs no gradient).
    requires = False
    datas = []
    parents = []
    for x in inputs:
        if type(x) is Tensor or isinstance(x, Tensor):
            datas.append(x._data)
            node = x._node
            if node is not None:
                parents.append(node)
                requires = True
            elif x.requires_grad:
                parents.append(x)
                requires = True
            else:
                parents.append(None)
        else:
            datas.append(x)
            parents.append(None)
    try:
        if prim.variadic:
            out = prim.forward(datas, *params)
        elif params:
            out = prim.forward(*datas, *params)
        else:
            out = prim.forward(*datas)
    except (ValueError, TypeError, IndexError) as err:
        raise prim.explain(err, datas if not prim.variadic else (datas,), params) from None
    if type(out) not in RAW_TYPES:  # a NumPy scalar, or a multi-output op's tuple
        if type(out) is tuple:
            return _apply_multi(prim, out, datas, parents, params, requires)
        out = asarray(out)
    t = _new(Tensor)
    t._data = out
    if not (requires and _modes.grad_enabled):
        t._node = None
        t.requires_grad = False
        if special and _modes.anomaly:
            anomaly.check_forward(prim, out, datas)
        return t

    if prim.save_all:
        ins = datas
    elif prim.save_mask is not None:
        ins = [d if m else None for d, m in zip(datas, prim.save_mask)]
    else:
        ins = None
    saved_out = out if prim.save_out else None
    node = Node(prim, parents, saved_out, ins, params, out.shape, out.dtype)
    if ins is not None or saved_out is not None:
        node.protected = _protect_saved(prim.name, ins, saved_out, parents)
    t._node = node
    t.requires_grad = True
    if special:
        if _modes.anomaly:
            anomaly.record(node)
            anomaly.check_forward(prim, out, datas)
        if _modes.forward_observer is not None:
            _modes.forward_observer(node, datas, out)
    return t


class Slots:
    """The cotangents of a multi-output node, one slot per output, summed slot-wise.

    Each output of a multi-output op is its own small node (:data:`SELECT`, "output i
    of that node"), whose VJP puts its cotangent in slot i; the engine adds the slots up
    like any cotangent, and the op's rules receive them as a tuple.
    """

    __slots__ = ("grads", "shape", "dtype")

    def __init__(self, grads: list, shape) -> None:
        self.grads = grads
        self.shape = shape
        self.dtype = None

    def __add__(self, other: Slots) -> Slots:
        merged = [a if b is None else b if a is None else a + b
                  for a, b in zip(self.grads, other.grads)]
        return Slots(merged, self.shape)


def _select_rule(g, out, x, index, count, shape):
    grads = [None] * count
    grads[index] = g
    return Slots(grads, shape)


def _select_forward(x, index, count, shape):
    raise RuntimeError("an output of a multi-output op is made by the op itself")


SELECT = Primitive("output", _select_forward, (_select_rule,),
                   params=("index", "count", "shape"),
                   doc="Output number ``index`` of a multi-output op. VJP: route g to that "
                   "output's slot.")


def multi_output_shape(outs) -> tuple:
    """The ``shape`` of a multi-output node: a marker holding each output's (shape, dtype)."""
    return ("outputs", tuple((o.shape, o.dtype) for o in outs))


def output_cotangents(g, shape, like) -> tuple:
    """A multi-output node's summed :class:`Slots` as one cotangent per output, with
    zeros (of ``like``'s kind: array or Tensor) for outputs that reached no loss."""
    grads = g.grads if isinstance(g, Slots) else [g]
    filled = []
    for gi, (s, dt) in zip(grads, shape[1]):
        if gi is None:
            gi = np.zeros(s, dtype=dt)
            if like:
                gi = Tensor._wrap(gi)
        filled.append(gi)
    return tuple(filled)


def select_output(node: Node, i: int, data) -> Tensor:
    """Output ``i`` of the multi-output ``node`` as a Tensor wired to the graph."""
    shape = node.shape
    sel = Node(SELECT, [node], None, None, (i, len(shape[1]), shape), *shape[1][i])
    t = _new(Tensor)
    t._data, t._node, t.requires_grad = data, sel, True
    return t


def _apply_multi(prim, outs, datas, parents, params, requires):
    """``apply`` for an op with several outputs: one node, one SELECT node per output."""
    outs = tuple(asarray(o) for o in outs)
    if not (requires and _modes.grad_enabled):
        return tuple(Tensor._wrap(o) for o in outs)
    if prim.save_all:
        ins = datas
    elif prim.save_mask is not None:
        ins = [d if m else None for d, m in zip(datas, prim.save_mask)]
    else:
        ins = None
    saved_out = outs if prim.save_out else None
    node = Node(prim, parents, saved_out, ins, params, multi_output_shape(outs), None)
    if ins is not None or saved_out is not None:
        protected = []
        for o in saved_out or ():
            protect(o, prim.name, False, protected)
        for d, p in zip(ins or (), parents):
            if type(d) in RAW_TYPES:
                protect(d, prim.name, type(p) is not Node, protected)
        node.protected = protected or None
    if _modes.anomaly:
        anomaly.record(node)
    if _modes.forward_observer is not None:
        _modes.forward_observer(node, datas, outs)
    return tuple(select_output(node, i, o) for i, o in enumerate(outs))


def _protect_saved(opname, ins, out, parents):
    """Register every array this node saved as needed until the node is released.

    Writing into a saved array between forward and backward (through ``.data``, a
    ``detach()``-ed alias, or an in-place op) would silently corrupt the gradient; it
    fails at the write instead, and our in-place ops name the op that saved it. Leaf
    arrays and the arrays that saved views look into are also made read-only with
    NumPy's flag (see :mod:`glassgrad.graph`).
    """
    arrays = []
    if out is not None:
        protect(out, opname, False, arrays)
    if ins is not None:
        for d, p in zip(ins, parents):
            if type(d) in RAW_TYPES:
                protect(d, opname, type(p) is not Node, arrays)
    return arrays or None


_new = object.__new__
