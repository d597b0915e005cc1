"""Anomaly mode: find where the first NaN or Inf was born.

Off by default (it costs a stack capture per op). Inside ``detect_anomaly()`` every op
remembers where in the user's code it was created, and the first non-finite value
produced by a forward or by a backward rule raises :class:`AnomalyError` naming the op
and that place.
"""

from __future__ import annotations

import os
import traceback

import numpy as np

from .modes import state

__all__ = ["detect_anomaly", "set_detect_anomaly", "AnomalyError", "is_anomaly_enabled"]

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


class AnomalyError(RuntimeError):
    """A NaN or Inf appeared in a forward or backward computation."""


def is_anomaly_enabled() -> bool:
    """Return True inside ``detect_anomaly()`` (in the calling thread)."""
    return state.anomaly


def _user_frames():
    """The stack without glassgrad's own frames: where the user created the op."""
    frames = traceback.extract_stack()[:-1]
    return [f for f in frames if not os.path.abspath(f.filename).startswith(_PKG_DIR)]


def record(node) -> None:
    node._extra().trace = _user_frames()[-3:]


def _where(trace) -> str:
    if not trace:
        return "  (creation site unknown: the op was made outside detect_anomaly)"
    return "".join(traceback.format_list(trace)).rstrip()


def _bad(value) -> bool:
    arr = np.asarray(value)
    return arr.dtype.kind in "fc" and not np.all(np.isfinite(arr))


def check_forward(prim, out) -> None:
    if _bad(out):
        raise AnomalyError(
            f"{prim.name} produced NaN/Inf in its forward output (shape {np.shape(out)}).\n"
            f"It was called at:\n{_where(_user_frames()[-3:])}"
        )


def check_backward(node, grads) -> None:
    for i, gx in enumerate(grads):
        if gx is not None and _bad(getattr(gx, "_data", gx)):
            raise AnomalyError(
                f"the backward of {node.prim.name} produced NaN/Inf in the gradient of its "
                f"input {i}.\nThat {node.prim.name} was created at:\n{_where(node.trace)}"
            )


class detect_anomaly:
    """Context manager: raise on the first NaN/Inf in forward or backward.

    Examples
    --------
    >>> import glassgrad as gg
    >>> x = gg.tensor([0.0], requires_grad=True)
    >>> with gg.autograd.detect_anomaly():
    ...     y = gg.sqrt(x)          # fine: sqrt(0) = 0
    ...     y.sum().backward()      # raises: d sqrt/dx = 1/(2 sqrt x) is inf at 0
    Traceback (most recent call last):
    ...
    glassgrad.anomaly.AnomalyError: the backward of sqrt produced NaN/Inf ...
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check = check_nan

    def __enter__(self):
        self.prev = state.anomaly
        state.anomaly = self.check
        state.refresh()
        self._err = np.seterr(all="ignore")  # we report ourselves, with a place
        return self

    def __exit__(self, *exc) -> None:
        state.anomaly = self.prev
        state.refresh()
        np.seterr(**self._err)


_saved_err: list = []  # NumPy's error settings from before set_detect_anomaly(True)


def _switch(on: bool) -> None:
    """Turn anomaly mode on or off in this thread, keeping NumPy's warnings quiet while on
    (anomaly mode reports non-finite values itself, with a place)."""
    on = bool(on)
    if on and not state.anomaly:
        _saved_err.append(np.seterr(all="ignore"))
    elif not on and state.anomaly and _saved_err:
        np.seterr(**_saved_err.pop())
    state.anomaly = on
    state.refresh()


class set_detect_anomaly:
    """Switch anomaly mode on or off, as ``torch.autograd.set_detect_anomaly(mode)``.

    Called on its own line it sets the mode at once (for the rest of the thread's
    work); used as ``with gg.autograd.set_detect_anomaly(True): ...`` the previous mode
    comes back when the block ends. See :class:`detect_anomaly` for what the mode checks.
    """

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = state.anomaly
        _switch(bool(mode) and bool(check_nan))

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        _switch(self.prev)
