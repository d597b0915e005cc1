"""Shared test helper: a function of some of its inputs, the others held constant.

gradcheck, ``gg.func.jvp``/``vjp`` and ``torch.func.jvp`` differentiate with respect to
*every* argument of the function they are given. The op table's rows and the nn
comparisons take one argument per input, some of which are not differentiable (class
targets, index arrays, bounds a row marks ``diff=False``). :func:`of_inputs` builds the
function of the differentiable inputs only, with the rest closed over as constants.

Not a test module (no ``test_`` prefix).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import glassgrad as gg


def gg_const(a) -> gg.Tensor:
    """A glassgrad constant (requires_grad=False) holding a copy of ``a``."""
    return gg.tensor(np.array(a, copy=True))


def torch_const(a) -> torch.Tensor:
    """A torch constant holding a copy of ``a`` (dtype preserved)."""
    return torch.tensor(np.array(a, copy=True))


def positions(mask: Sequence[bool]) -> tuple[int, ...]:
    """The indices where ``mask`` is true: ``(True, False, True) -> (0, 2)``."""
    return tuple(i for i, d in enumerate(mask) if d)


def of_inputs(fn: Callable[..., Any], arrays: Sequence[Any], moving: Sequence[int],
              const: Callable[[Any], Any]) -> Callable[..., Any]:
    """``fn`` as a function of the inputs at positions ``moving`` only (in that order).

    Every other input ``i`` is ``const(arrays[i])``, built afresh on each call (so a
    call cannot see what an earlier one did to it). ``const`` is :func:`gg_const` or
    :func:`torch_const` (or anything that turns an array into ``fn``'s argument type).
    """
    moving = tuple(moving)
    fixed = [i for i in range(len(arrays)) if i not in moving]

    def restricted(*xs):
        if len(xs) != len(moving):
            raise TypeError(f"expected {len(moving)} inputs (positions {moving}), "
                            f"got {len(xs)}")
        args: list[Any] = [None] * len(arrays)
        for i in fixed:
            args[i] = const(arrays[i])
        for i, x in zip(moving, xs):
            args[i] = x
        return fn(*args)

    return restricted
