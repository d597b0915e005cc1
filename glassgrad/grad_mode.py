"""Grad mode: whether applying a primitive records a node in the graph.

One per-thread flag (``modes.state.grad_enabled``), read on every op; ``no_grad``/
``enable_grad`` flip it for a block or a function in the calling thread only (they are
context managers and decorators, as in PyTorch).
"""

from __future__ import annotations

import functools
import threading

from .modes import state

__all__ = [
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
    "is_inference_mode_enabled",
]

def is_grad_enabled() -> bool:
    """Return True when new operations are recorded for backward."""
    return state.grad_enabled


class _GradModeContext:
    """Shared body of ``no_grad`` and ``enable_grad``: save, set, restore."""

    mode = True

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        # ``@gg.no_grad`` without parentheses: decorate at once, as torch allows.
        return self(fn) if callable(fn) else self

    def __init__(self, fn=None) -> None:
        pass

    def __enter__(self) -> None:
        self.prev = state.grad_enabled
        state.grad_enabled = self.mode

    def __exit__(self, *exc) -> None:
        state.grad_enabled = self.prev

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = state.grad_enabled
            state.grad_enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                state.grad_enabled = prev

        return wrapper


class no_grad(_GradModeContext):
    """Do not record operations: ``with gg.no_grad(): ...`` or ``@gg.no_grad()``.

    Use it for parameter updates and evaluation, where no gradient is wanted.
    """

    mode = False


class enable_grad(_GradModeContext):
    """Record operations again inside a ``no_grad`` block (or decorate a function)."""

    mode = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode for a block (context manager) or a function (decorator).

    Calling it also sets the mode at once, as ``torch.set_grad_enabled`` does, so
    ``gg.set_grad_enabled(False)`` on its own line switches recording off.
    """

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self.prev = state.grad_enabled
        state.grad_enabled = self.mode

    def __enter__(self) -> None:
        state.grad_enabled = self.mode  # ``prev`` was taken when the object was made


_inference = threading.local()  # .on: inside an enabled inference_mode in this thread


class inference_mode(_GradModeContext):
    """``torch.inference_mode``: a block (or, as a decorator, a function) where nothing is
    recorded, as :class:`no_grad`; tensors made inside report ``requires_grad=False``.

    ``with gg.inference_mode():``, ``@gg.inference_mode()`` and ``@gg.inference_mode``
    all work; ``inference_mode(False)`` changes nothing (as torch). glassgrad has no
    separate inference tensors: those made inside are ordinary no-grad tensors, so unlike
    torch's they may later be used in recorded ops without ``clone()``.
    """

    mode = False
    enabled = True

    def __init__(self, mode: bool = True) -> None:
        self.enabled = bool(mode)

    def __enter__(self) -> None:
        self.prev = (state.grad_enabled, getattr(_inference, "on", False))
        if self.enabled:
            state.grad_enabled = False
            _inference.on = True

    def __exit__(self, *exc) -> None:
        state.grad_enabled, _inference.on = self.prev

    def __call__(self, fn):
        ctx = self

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(ctx.enabled):
                return fn(*args, **kwargs)

        return wrapper


def is_inference_mode_enabled() -> bool:
    """True inside an enabled ``inference_mode()`` block in this thread, as
    ``torch.is_inference_mode_enabled``."""
    return getattr(_inference, "on", False)
