"""Custom operations with a hand-written backward: the "custom layer" story.

Subclass :class:`Function`, write ``forward(ctx, *args)`` with ordinary glassgrad (or
NumPy) code and ``backward(ctx, *grad_outputs)`` returning one gradient per forward
argument (``None`` for non-tensors and inputs that need none), then call
``MyFn.apply(*args)``. Exactly PyTorch's shape, so code moves both ways::

    class Cube(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g          # d x^3/dx = 3 x^2

    y = Cube.apply(x)

Check it with ``gg.autograd.gradcheck(Cube.apply, (x,))``.

A forward may return a tuple of Tensors; ``backward`` then receives one gradient per
output (zeros for outputs that did not reach the loss).
"""

from __future__ import annotations

import weakref

import numpy as np

from .. import forward
from ..graph import Node, protect
from ..modes import state
from ..primitive import SELECT as _SELECT
from ..primitive import Primitive, as_gradient
from ..primitive import Slots as _Slots
from ..tensor import Tensor

__all__ = ["Function", "FunctionCtx"]


class _Output:
    """Placeholder in ``saved_tensors`` for the Function's own output number ``i``.

    The node must not hold its own output tensor (that would be a reference cycle), so
    the output is rebuilt from its array and (weakly held) node when asked for.
    """

    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i


class FunctionCtx:
    """What ``forward`` leaves for ``backward``: saved tensors and any attributes.

    ``ctx.needs_input_grad`` is a tuple of bools, one per forward argument.
    """

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self._outputs = ()  # (array, weakref to the node that produced it) per output
        self._freed = False

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (or None) for ``backward``; read them back as ``saved_tensors``."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    "save_for_backward takes Tensors (or None); store other values as "
                    f"ctx attributes, got {type(t).__name__}"
                )
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple:
        if self._freed:
            raise RuntimeError(
                "backward through a custom Function a second time: its saved tensors were "
                "freed. Pass `retain_graph=True` to the first backward() if you need to go "
                "through the graph again."
            )
        out = []
        for t in self._saved:
            if isinstance(t, _Output):
                data, ref = self._outputs[t.i]
                node = ref()
                r = object.__new__(Tensor)
                r._data, r._node, r.requires_grad = data, node, node is not None
                t = r
            out.append(t)
        return tuple(out)


def _make_rule(cls):
    def vjp(g, out, ins, ctx, positions, nargs, out_shapes):
        recording = state.grad_enabled  # on only for create_graph=True
        gs = g.grads if isinstance(g, _Slots) else [g]
        grads_out = []
        for gi, (shape, dtype) in zip(gs, out_shapes):
            if gi is None:  # an output that never reached the loss: zero cotangent
                gi = np.zeros(shape, dtype=dtype)
            grads_out.append(gi if isinstance(gi, Tensor) else Tensor._wrap(gi))
        grads = cls.backward(ctx, *grads_out)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != nargs:
            raise RuntimeError(
                f"{cls.__name__}.backward returned {len(grads)} gradients, expected {nargs} "
                "(one per forward argument, None for non-tensors)"
            )
        result = []
        for pos in positions:
            gx = grads[pos]
            if gx is None:
                result.append(None)
                continue
            if not isinstance(gx, Tensor):
                gx = Tensor._wrap(as_gradient(gx, f"{cls.__name__}.backward", pos))
            result.append(gx if recording else gx._data)
        return tuple(result)

    return vjp


def _free_ctx(node) -> None:
    ctx = node.params[0]
    ctx._saved = ()
    ctx._freed = True


class Function:
    """Base class for operations with a user-written forward and backward."""

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must define backward(ctx, *grads)")

    @classmethod
    def _primitive(cls) -> Primitive:
        # Kept on the class itself (not in a registry keyed by class), so a Function
        # class defined inside a function is freed with its last node.
        prim = cls.__dict__.get("_glassgrad_primitive")
        if prim is None:
            def forward(*args):
                raise RuntimeError("Function primitives are applied through Function.apply")

            # One rule for all the Tensor arguments: a variadic primitive.
            prim = Primitive(cls.__name__, forward, _make_rule(cls), getattr(cls, "jvp", None),
                             doc=cls.__doc__ or "", variadic=True, on_release=_free_ctx)
            prim.what = f"Function {cls.__name__}.backward"
            cls._glassgrad_primitive = prim
        return prim

    @classmethod
    def apply(cls, *args):
        """Run ``forward`` and record one node whose backward is ``cls.backward``.

        In forward mode (inside ``gg.func.jvp`` / ``jacfwd``) the output tangents come from
        the Function's ``jvp(ctx, *tangents)`` staticmethod, which must then exist.
        """
        lvl = state.forward_level and max((forward.level_of(a) for a in args), default=0)
        if lvl:
            return cls._apply_dual(args, lvl)
        return cls._apply(args)[1]

    @classmethod
    def _apply_dual(cls, args, lvl):
        jvp = getattr(cls, "jvp", None)
        if jvp is None:
            raise NotImplementedError(
                f"forward mode through the custom Function {cls.__name__}: it defines no "
                f"jvp. Add `@staticmethod def jvp(ctx, *tangents)` returning the output "
                "tangent(s), d out = sum_i (d out / d x_i) * tangent_i"
            )
        primals = [a._primal if forward.level_of(a) == lvl else a for a in args]
        tangents = []
        for a, p in zip(args, primals):
            if forward.level_of(a) == lvl:
                tangents.append(a._tangent)
            elif isinstance(p, Tensor):
                tangents.append(Tensor._wrap(np.zeros(p.shape, dtype=p.dtype)))
            else:
                tangents.append(None)
        ctx, outs = cls._apply(primals)
        t_outs = jvp(ctx, *tangents)
        # For forward-over-reverse, backward must see the inputs it saved with their
        # tangents: swap each saved primal for the dual it came from.
        duals = {id(p): a for a, p in zip(args, primals) if a is not p}
        ctx._saved = tuple(duals.get(id(t), t) for t in ctx._saved)
        if isinstance(outs, tuple):
            t_outs = t_outs if isinstance(t_outs, (tuple, list)) else (t_outs,)
            return tuple(forward.make_dual(o, t, lvl) for o, t in zip(outs, t_outs))
        return forward.make_dual(outs, t_outs, lvl)

    @classmethod
    def _apply(cls, args):
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        prev = state.grad_enabled
        state.grad_enabled = False
        try:
            result = cls.forward(ctx, *args)
        finally:
            state.grad_enabled = prev
        multi = isinstance(result, (tuple, list))
        results = [r if isinstance(r, Tensor) else Tensor._wrap(np.asarray(r))
                   for r in (result if multi else (result,))]
        if not (prev and any(needs)):
            return ctx, (tuple(results) if multi else results[0])

        positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        parents = [
            (args[i]._node or args[i]) if args[i].requires_grad else None for i in positions
        ]
        out_shapes = tuple((r._data.shape, r._data.dtype) for r in results)
        k = len(results)
        main_shape = out_shapes[0][0] if not multi else ("outputs", k)
        main_dtype = out_shapes[0][1] if not multi else None
        node = Node(cls._primitive(), parents, None, None, (ctx, positions, len(args),
                    out_shapes), main_shape, main_dtype)
        if multi:
            out_nodes = [Node(_SELECT, [node], None, None, (i, k, main_shape), *out_shapes[i])
                         for i in range(k)]
        else:
            out_nodes = [node]
        # Outputs must not be held by their own nodes (a cycle): keep placeholders.
        index = {id(r): i for i, r in enumerate(results)}
        ctx._saved = tuple(
            _Output(index[id(t)]) if id(t) in index else t for t in ctx._saved
        )
        ctx._outputs = tuple((r._data, weakref.ref(n)) for r, n in zip(results, out_nodes))
        protected = []
        for t in ctx._saved:
            if isinstance(t, Tensor):
                protect(t._data, cls.__name__, t._node is None, protected)
        node.protected = protected or None
        outs = []
        for r, n in zip(results, out_nodes):
            o = object.__new__(Tensor)
            o._data, o._node, o.requires_grad = r._data, n, True
            outs.append(o)
        if state.forward_observer is not None:
            state.forward_observer(node, [a._data if isinstance(a, Tensor) else a for a in args],
                                   tuple(r._data for r in results) if multi else results[0]._data)
        return ctx, (tuple(outs) if multi else outs[0])
