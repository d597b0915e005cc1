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
"""

from __future__ import annotations

import weakref

import numpy as np

from .. import grad_mode
from ..graph import Node, Protection, protect
from ..primitive import Primitive
from ..tensor import Tensor

__all__ = ["Function", "FunctionCtx"]


class _Output:
    """Placeholder in ``saved_tensors`` for the Function's own output (no cycle)."""

    __slots__ = ()


_OUTPUT = _Output()


class FunctionCtx:
    """What ``forward`` leaves for ``backward``: saved tensors and any attributes.

    ``ctx.needs_input_grad`` is a tuple of bools, one per forward argument.
    """

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self._node_ref = None
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
        node = self._node_ref() if self._node_ref is not None else None
        out = []
        for t in self._saved:
            if t is _OUTPUT:
                r = object.__new__(Tensor)
                r._data, r._node, r.requires_grad = self._out_data, node, node is not None
                t = r
            out.append(t)
        return tuple(out)


def _make_rule(cls):
    def vjp(g, out, *rest):
        ctx, positions, nargs = rest[-3:]
        recording = grad_mode.enabled  # on only for create_graph=True
        gt = g if isinstance(g, Tensor) else Tensor._wrap(g)
        grads = cls.backward(ctx, gt)
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
            elif recording:
                result.append(gx if isinstance(gx, Tensor) else Tensor._wrap(np.asarray(gx)))
            else:
                result.append(gx._data if isinstance(gx, Tensor) else np.asarray(gx))
        return tuple(result)

    return vjp


def _free_ctx(node) -> None:
    ctx = node.params[0]
    ctx._saved = ()
    ctx._freed = True


class Function:
    """Base class for operations with a user-written forward and backward."""

    _prims: dict = {}

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must define backward(ctx, *grads)")

    @classmethod
    def _primitive(cls) -> Primitive:
        prim = Function._prims.get(cls)
        if prim is None:
            def forward(*args):
                raise RuntimeError("Function primitives are applied through Function.apply")

            jvp = getattr(cls, "jvp", None)
            prim = Primitive(cls.__name__, forward, _make_rule(cls), jvp, "",
                             cls.__doc__ or "", variadic=False)
            prim.on_release = _free_ctx
            Function._prims[cls] = prim
        return prim

    @classmethod
    def apply(cls, *args):
        """Run ``forward`` and record one node whose backward is ``cls.backward``."""
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        prev = grad_mode.enabled
        grad_mode.enabled = False
        try:
            result = cls.forward(ctx, *args)
        finally:
            grad_mode.enabled = prev
        if isinstance(result, (tuple, list)):
            raise NotImplementedError(
                f"{cls.__name__}.forward returned {len(result)} outputs; custom Functions "
                "with several outputs are not supported yet: return one Tensor"
            )
        if not isinstance(result, Tensor):
            result = Tensor._wrap(np.asarray(result))
        if not (prev and any(needs)):
            return result
        positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        parents = [
            (args[i]._node or args[i]) if args[i].requires_grad else None for i in positions
        ]
        node = Node(cls._primitive(), parents, None, None, (ctx, positions, len(args)),
                    result._data.shape, result._data.dtype)
        # The output must not be held by its own node (a cycle): keep a placeholder.
        ctx._saved = tuple(_OUTPUT if t is result else t for t in ctx._saved)
        ctx._out_data = result._data
        ctx._node_ref = weakref.ref(node)
        protected = [
            t._data for t in ctx._saved
            if isinstance(t, Tensor) and t._node is None and protect(t._data, cls.__name__)
        ]
        node.protected = Protection(protected) if protected else None
        out = object.__new__(Tensor)
        out._data, out._node, out.requires_grad = result._data, node, True
        return out
