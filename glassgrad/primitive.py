"""Primitives: each differentiable operation declared once, with its rules.

A primitive is declared as a small class that is only a namespace::

    @primitive(save="out")
    class exp:
        '''out = exp(x);  d out/dx = exp(x) = out.

        VJP: gx = g * out.    JVP: t_out = tx * out.'''
        forward = np.exp                  # or: def forward(x): return np.exp(x)

        def vjp(g, out, x):
            return (g * out,)

        def jvp(tx, out, x):
            return tx * out

The calling conventions, for an op with tensor inputs ``x, y`` and non-tensor parameters
``p...`` (parameters are the forward's arguments that have a default value):

* ``forward(x, y, *p) -> out``              on NumPy arrays (a ufunc may serve directly);
* ``vjp(g, out, x, y, *p) -> (gx, gy)``     one cotangent per input (``None`` allowed);
  or, usually better, one rule per input, ``vjp_x(g, out, x, y, *p) -> gx`` and
  ``vjp_y(...) -> gy``: the engine calls only those whose input needs a gradient;
* ``jvp(tx, out, x, *p) -> t_out``           for one input; with several inputs, one
  rule per input, ``jvp_x(tx, out, x, y, *p)``, whose results forward mode adds up
  (the JVP is linear in the tangents).

``out`` and the inputs are only the values named in ``save`` (the rest arrive as
``None``): a rule receives exactly what it declared it needs, and nothing else is kept
alive by the graph. Rules assume the output's shape for ``g``; undoing broadcasting is
the engine's job (:func:`glassgrad.broadcast.sum_to`), never a rule's. Rules are plain
array code, so they run on ``np.ndarray`` for an ordinary backward and on ``Tensor``
(which speaks NumPy's dispatch protocols) for ``create_graph=True``.

Variadic primitives (``concatenate``, ``einsum``) take their inputs as one tuple:
``forward(xs, *p)``, ``vjp(g, out, xs, *p)``, ``jvp(txs, out, xs, *p)``.
"""

from __future__ import annotations

import inspect
import os

import numpy as np

from . import anomaly, forward
from .graph import Node, protect
from .modes import state as _modes
from .tensor import Tensor

__all__ = ["primitive", "Primitive", "PRIMITIVES", "apply", "OpError"]

PRIMITIVES: dict[str, Primitive] = {}

_ndarray = np.ndarray
_asarray = np.asarray
_EMPTY = ()


class OpError(ValueError):
    """An operation was given inputs it cannot work on (shapes, dtypes, arguments)."""


class Primitive:
    """One declared operation: its NumPy forward and its VJP/JVP rules."""

    def __init__(self, name, forward, vjp, jvp, save, doc, variadic=False, explain=None):
        self.name = name
        self.what = f"the VJP of {name}"  # how error messages name its backward
        self.custom_explain = explain
        self.on_release = None  # extra cleanup when a node's saved values are freed
        # ``vjp`` is one function returning a tuple, or a tuple of per-input functions
        # (``vjp_x``, ``vjp_y``: only the ones whose input needs a gradient are called).
        self.per_input = isinstance(vjp, tuple)
        self.forward = forward
        self.vjp = vjp
        self.jvp = jvp
        self.variadic = variadic
        self.__doc__ = doc
        names = save.split()
        self.save_out = "out" in names
        if variadic:
            self.save_all = "xs" in names
            self.save_mask = None
        else:
            inputs = input_names(forward)
            self.nones = (None,) * len(inputs)  # the ``ins`` of a node that saved nothing
            unknown = set(names) - set(inputs) - {"out"}
            if unknown:
                raise TypeError(f"primitive {name}: save names unknown inputs {unknown}")
            mask = tuple(n in names for n in inputs)
            self.save_all = all(mask)
            self.save_mask = mask if any(mask) and not all(mask) else None
            if not any(mask):
                self.save_all = False

    def __repr__(self) -> str:
        where = self.where()
        return f"<primitive {self.name} ({where})>" if where else f"<primitive {self.name}>"

    def where(self) -> str:
        """``file:line`` of this primitive's VJP rules, so a live graph's backward is one
        hop away: ``loss.grad_fn.prim`` prints where to read it."""
        rules = self.vjp if self.per_input else (self.vjp,)
        rules = [getattr(r, "__wrapped__", r) for r in rules]
        codes = [r.__code__ for r in rules if getattr(r, "__code__", None) is not None]
        if not codes:
            return ""
        first = min(codes, key=lambda c: c.co_firstlineno)
        path = first.co_filename
        marker = os.sep + "glassgrad" + os.sep
        if marker in path:  # show it from the package root, as a reader would look it up
            path = "glassgrad" + os.sep + path.rsplit(marker, 1)[1]
        return f"{path}:{first.co_firstlineno}"

    def __call__(self, *inputs):
        return apply(self, inputs)

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
    arr = value if type(value) is _ndarray else np.asarray(value)
    if arr.dtype.kind not in "biufc":
        raise TypeError(
            f"{who} returned a {type(value).__name__} as the gradient at index {index}; "
            "a gradient must be a Tensor or a numeric array (or None for no gradient)"
        )
    return arr


def input_names(forward) -> list:
    """Names of a forward's tensor inputs: its leading parameters without defaults.

    Non-tensor parameters are marked by giving them a default. A NumPy ufunc may serve
    as the forward itself (``forward = np.multiply``): its inputs are called x, y.
    """
    if isinstance(forward, np.ufunc):
        return ["x", "y", "z"][: forward.nin]
    sig = inspect.signature(forward).parameters
    return [n for n, p in sig.items() if p.default is inspect.Parameter.empty]


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


def primitive(save: str = "", variadic: bool = False, quiet: bool = False):
    """Class decorator that turns a rule namespace into a registered :class:`Primitive`.

    ``save`` names what the rules need at backward time: any of the forward's input
    names and ``out`` (for variadic primitives, ``xs`` for all inputs).
    ``quiet=True`` marks an op whose rules are evaluated at singular points on purpose
    (d sqrt/dx at 0 is inf, as in PyTorch): its VJP and JVP rules run with NumPy's
    RuntimeWarnings off, since the inf or NaN is the answer and the forward already
    warned about the user's value. Only those ops pay for the error-state switch;
    ``detect_anomaly()`` is the tool that reports non-finite gradients.
    """

    def decorate(cls) -> Primitive:
        doc = inspect.cleandoc(cls.__doc__ or "")
        vjp, jvp = getattr(cls, "vjp", None), getattr(cls, "jvp", None)
        if vjp is None and not variadic:
            names = input_names(cls.forward)
            rules = tuple(getattr(cls, "vjp_" + n, None) for n in names)
            if any(r is not None for r in rules):
                vjp = rules
                jvps = tuple(getattr(cls, "jvp_" + n, None) for n in names)
                jvp = jvps if any(j is not None for j in jvps) else None
        if quiet:
            vjp = tuple(map(_quietly, vjp)) if isinstance(vjp, tuple) else _quietly(vjp)
            jvp = tuple(map(_quietly, jvp)) if isinstance(jvp, tuple) else _quietly(jvp)
        # A trailing underscore only avoids shadowing a builtin (sum_, max_).
        prim = Primitive(
            cls.__name__.rstrip("_"), cls.forward, vjp, jvp, save, doc, variadic,
            getattr(cls, "explain", None),
        )
        if prim.name in PRIMITIVES:
            raise ValueError(f"primitive {prim.name!r} declared twice")
        PRIMITIVES[prim.name] = prim
        return prim

    return decorate


def apply(prim: Primitive, inputs: tuple, params: tuple = _EMPTY):
    """Run ``prim`` forward on ``inputs`` and, if needed, record a node for backward.

    ``inputs`` are Tensors or raw constants (Python scalars, arrays); ``params`` are
    the op's non-tensor arguments, passed to the forward and to the rules unchanged.
    This is the hot path of the whole library: keep it lean.
    """
    if _modes.forward_level:
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
    if type(out) is not _ndarray:
        out = _asarray(out)
    t = _new(Tensor)
    t._data = out
    if not (requires and _modes.grad_enabled):
        t._node = None
        t.requires_grad = False
        if _modes.anomaly:
            anomaly.check_forward(prim, out)
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
    if _modes.anomaly:
        anomaly.record(node)
        anomaly.check_forward(prim, out)
    return t


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
            if type(d) is _ndarray:
                protect(d, opname, type(p) is not Node, arrays)
    return arrays or None


_new = object.__new__
