"""The per-thread switches every op reads: grad mode, anomaly mode, forward level, observers.

They live on one ``threading.local`` object, as PyTorch keeps its grad mode per thread:
``no_grad()``, ``optimizer.step()`` or a ``backward()`` in one thread never stops
recording in another, and two threads can train two models at once. A new thread starts
with the defaults below (recording on, anomaly off, no forward level), not with the
state of the thread that started it.

The hot path reads ``state.grad_enabled`` and friends as attributes of this one object;
a thread-local attribute read costs about as much as a module-global one.
"""

from __future__ import annotations

import threading

__all__ = ["state"]


class _ThreadModes(threading.local):
    """Defaults as class attributes; an assignment in a thread shadows them there only."""

    grad_enabled: bool = True  # record a node for ops on tensors that require grad
    anomaly: bool = False  # check every value for NaN/Inf and remember creation sites
    forward_level: int = 0  # innermost open forward-mode level; 0: forward mode off
    backward_observer = None  # called per node by backward (observe_backward)
    forward_observer = None  # called per new node by the ops (observe_forward)
    tracer = None  # gg.compile's tracer while it runs a function on symbolic arrays
    # anomaly, forward_level, forward_observer or tracer: one read on the hot path
    special: bool = False

    def __init__(self) -> None:
        # Runs once in each thread, on its first use: the stacks are the thread's own.
        self.open_levels: list = []  # forward levels open now, outermost first
        self.transform_frames: list = []  # leaf-id sets of the gg.func transforms running


    def refresh(self) -> None:
        """Recompute ``special`` after changing ``anomaly``, ``forward_level`` or
        ``forward_observer`` or ``tracer``."""
        self.special = bool(self.anomaly or self.forward_level
                            or self.forward_observer is not None or self.tracer is not None)


state = _ThreadModes()
