"""Full backward hooks for modules: catching the gradients at a module's boundary.

``register_full_backward_hook(hook(module, grad_input, grad_output))`` needs the
gradients with respect to the module's inputs and outputs as a whole. The module's
inputs and outputs pass through identity Functions whose backward sees those gradients,
as PyTorch does it.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..engine import hook_name
from ..primitive import as_gradient
from ..tensor import Tensor


class _BackwardHookState:
    """One call of a module with backward hooks: where its input and output grads meet."""

    __slots__ = ("module", "n_args", "positions", "specs", "constants", "grad_output")

    def __init__(self, module, args: tuple) -> None:
        self.module = module
        self.n_args = len(args)
        self.positions = [i for i, a in enumerate(args)
                          if isinstance(a, Tensor) and a.requires_grad]
        self.specs = {i: (args[i].shape, args[i].dtype) for i in self.positions}
        # tensor inputs that need no gradient get zeros in grad_input (as PyTorch)
        self.constants = [(i, a.shape, a.dtype) for i, a in enumerate(args)
                          if isinstance(a, Tensor) and not a.requires_grad]
        self.grad_output = None

    def wrap_inputs(self, args: tuple) -> tuple:
        if not self.positions:
            return args
        caught = _CatchInputGrads.apply(self, *(args[i] for i in self.positions))
        args = list(args)
        for i, t in zip(self.positions, caught):
            args[i] = t
        return tuple(args)

    def wrap_outputs(self, output):
        single = isinstance(output, Tensor)
        outs = [output] if single else list(output) if isinstance(output, (tuple, list)) else []
        where = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        if not where:
            return output
        caught = _CatchOutputGrads.apply(self, *(outs[i] for i in where))
        for i, t in zip(where, caught):
            outs[i] = t
        if single:
            return outs[0]
        return type(output)(outs)

    def run_hooks(self, grads) -> list:
        """Call the module's hooks with the input grads; return the (possibly new) ones."""
        grad_input = [None] * self.n_args
        if grads is not None:
            for i, g in zip(self.positions, grads):
                grad_input[i] = g
            for i, shape, dtype in self.constants:
                grad_input[i] = Tensor._wrap(np.zeros(shape, dtype))
        grad_input = tuple(grad_input)
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != self.n_args:
                    raise RuntimeError(
                        f"backward hook {hook_name(hook)!r} of {type(self.module).__name__} "
                        "returned "
                        f"{len(result)} gradients, expected {self.n_args} (one per "
                        "positional input, None where there is none)"
                    )
                grad_input = self._checked(hook, result)
        return [grad_input[i] for i in self.positions]

    def _checked(self, hook, grads: tuple) -> tuple:
        """The hook's replacement grad_input, checked against the module's inputs."""
        who = f"backward hook {hook_name(hook)!r} of {type(self.module).__name__}"
        out = []
        for i, g in enumerate(grads):
            if g is not None and i in self.specs:
                if not isinstance(g, Tensor):
                    g = Tensor._wrap(as_gradient(g, who, i))
                shape, dtype = self.specs[i]
                if g.shape != shape or g.dtype != dtype:
                    raise RuntimeError(
                        f"{who} returned a gradient of shape {g.shape} and dtype {g.dtype} "
                        f"at index {i}, but that input has shape {shape} and dtype {dtype}"
                    )
            out.append(g)
        return tuple(out)


class _CatchOutputGrads(Function):
    """Identity on a module's outputs; its backward records ``grad_output``."""

    @staticmethod
    def forward(ctx, state, *ys):
        ctx.state = state
        return tuple(ys)

    @staticmethod
    def backward(ctx, *grads):
        state = ctx.state
        state.grad_output = tuple(grads)
        if not state.positions:  # no input needs a gradient: the hook runs from here
            state.run_hooks(None)
        return (None, *grads)


class _CatchInputGrads(Function):
    """Identity on a module's inputs; its backward calls the module's backward hooks."""

    @staticmethod
    def forward(ctx, state, *xs):
        ctx.state = state
        return tuple(xs)

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.state.run_hooks(grads))
