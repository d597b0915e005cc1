"""What the pictures show of an array, and ``gg.viz.record``: keep what the graph forgets.

A recorded graph keeps only what backward needs: ``x * 3`` saves ``3`` until the
backward frees it, ``+ 5`` saves nothing, and no node keeps the gradient that flowed
through it. A picture of the chain rule wants all of that, so :class:`record` watches the
ops and the backward pass (through :func:`~glassgrad.engine.observe_forward` and
:func:`~glassgrad.engine.observe_backward`, the same observers the other instruments use)
and keeps a small :class:`Snapshot` of every constant, every op's output and every op's
incoming gradient, keyed weakly by the node: the record dies with the graph.
"""

from __future__ import annotations

import weakref

import numpy as np

from ..engine import observe_backward, observe_forward
from ..modes import state

__all__ = ["Snapshot", "record", "recorded", "SMALL"]

SMALL = 64  # arrays up to this many elements are kept whole; bigger ones as statistics
AUTO_VALUES = 6  # show_values="auto" prints values up to this many elements


def _fmt_num(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (complex, np.complexfloating)):
        return f"{complex(v):.4g}"
    return f"{float(v):.4g}"


class Snapshot:
    """An array as the pictures describe it: its values when it is small (at most
    :data:`SMALL` elements, copied), else its shape, mean, std and norm; ``rms`` is the
    root mean square of its magnitude (the colour of a gradient), None when empty."""

    __slots__ = ("shape", "dtype", "values", "stats", "rms", "source")

    def __init__(self, array) -> None:
        raw = getattr(array, "_data", array)
        a = np.asarray(raw)
        # Which array it was (weakly: an id alone could be reused by a later array), so a
        # picture can name a constant after the tensor in ``params`` it came from.
        self.source = weakref.ref(a) if a is raw and isinstance(a, np.ndarray) else None
        self.shape, self.dtype = tuple(a.shape), a.dtype
        self.values = a.copy() if a.size <= SMALL else None
        self.stats = None
        self.rms = None
        if a.dtype.kind in "biufc" and a.size:
            f = np.abs(a) if a.dtype.kind == "c" else a.astype(np.float64)
            mag = np.abs(f)
            self.rms = float(np.sqrt(np.mean(mag * mag)))
            if self.values is None:
                self.stats = (float(f.mean()), float(f.std()), float(np.linalg.norm(f.ravel())))

    def came_from(self, array) -> bool:
        """Whether the snapshot was taken of this very array object (still alive)."""
        return self.source is not None and self.source() is array

    def text(self, show_values="auto", shape=True) -> str:
        """``2``, ``[1, 2, 3]``, ``[..] shape (2, 2)``, or ``shape (4, 2) mean .. std .. norm ..``
        (``show_values``: "auto" = values up to 6 elements, True = up to 64, False = never;
        ``shape=False`` leaves the shape out, for labels that state it on their own line)."""
        size = int(np.prod(self.shape)) if self.shape else 1
        if size == 0:
            return f"shape {self.shape} (empty)" if shape else "(empty)"
        want = size <= AUTO_VALUES if show_values == "auto" else bool(show_values)
        if want and self.values is not None:
            v = self.values
            if v.ndim == 0:
                return _fmt_num(v.item())
            body = "[" + ", ".join(_fmt_num(x) for x in v.ravel()) + "]"
            return body + (f" shape {self.shape}" if v.ndim > 1 and shape else "")
        if self.stats is None and self.values is not None and self.values.dtype.kind in "biuf":
            f = self.values.astype(np.float64)
            self.stats = (float(f.mean()), float(f.std()), float(np.linalg.norm(f.ravel())))
        if self.stats is None:
            return f"shape {self.shape}" if shape else ""
        mean, std, norm = self.stats
        head = f"shape {self.shape} " if shape else ""
        return f"{head}mean {mean:.3g} std {std:.3g} norm {norm:.3g}"


class _NodeRecord:
    __slots__ = ("value", "constants", "grad")

    def __init__(self) -> None:
        self.value = None  # Snapshot of the op's output
        self.constants = {}  # input position -> Snapshot, for inputs needing no gradient
        self.grad = None  # Snapshot of the total cotangent of the output (last backward)


_RECORDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Node -> _NodeRecord


def recorded(node):
    """What :class:`record` kept of ``node``, or None."""
    return _RECORDS.get(node)


def _is_array(x) -> bool:
    return isinstance(x, (np.ndarray, np.generic, int, float, complex, bool))


def _snap(x):
    """A Snapshot of an array, a Tensor or a Python number; None for anything else (a
    multi-output op's tuple is described by its first output)."""
    if isinstance(x, tuple):
        x = x[0] if x else None
    x = getattr(x, "_data", x)
    return Snapshot(x) if _is_array(x) else None


class record:
    """Context manager: remember, for the graph pictures, what the graph itself forgets.

    Inside ``with gg.viz.record():`` every op that records a node also keeps a snapshot of
    its constant inputs (the ``3`` of ``x * 3``) and of its output value, and every
    backward pass run inside the block keeps the gradient that reached each op. Draw
    afterwards: ``gg.viz.draw(z, "z.svg")`` then labels and colours every op box, not
    only the leaves. Snapshots are small (values up to 64 elements, statistics above),
    held weakly by the graph's nodes, and cost nothing once the block is left. It
    touches no ``.grad`` and changes no number the engine computes.

    >>> import glassgrad as gg
    >>> x = gg.tensor(2.0, requires_grad=True)
    >>> with gg.viz.record():
    ...     z = x * 3 + 5
    ...     z.backward()
    >>> "grad 1" in gg.viz.to_dot(z) and '"3"' in gg.viz.to_dot(z)
    True
    """

    def __enter__(self):
        self._prev_forward = state.forward_observer
        self._prev_backward = state.backward_observer
        self._fwd = observe_forward(self._on_forward)
        self._bwd = observe_backward(self._on_backward)
        self._fwd.__enter__()
        self._bwd.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._bwd.__exit__(*exc)
        self._fwd.__exit__(*exc)

    def _on_forward(self, node, inputs, out) -> None:
        if self._prev_forward is not None:
            self._prev_forward(node, inputs, out)
        rec = _RECORDS.get(node)
        if rec is None:
            rec = _RECORDS[node] = _NodeRecord()
        rec.value = _snap(out)
        if len(inputs) == len(node.parents):  # primitives (custom Functions: tensors only)
            for i, (x, p) in enumerate(zip(inputs, node.parents)):
                if p is None:
                    snap = _snap(x)
                    if snap is not None:
                        rec.constants[i] = snap

    def _on_backward(self, node, g, gxs) -> None:
        if self._prev_backward is not None:
            self._prev_backward(node, g, gxs)
        rec = _RECORDS.get(node)
        if rec is None:
            rec = _RECORDS[node] = _NodeRecord()
        snap = _snap(g)  # None for a multi-output node's per-output slots
        if snap is not None:
            rec.grad = snap
