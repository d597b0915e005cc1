"""Anomaly mode: find where the first NaN or Inf was born.

Off by default (it costs a stack capture per op). Inside ``detect_anomaly()`` every op
remembers where in the user's code it was created, and the first non-finite value
produced by a forward or by a backward rule raises :class:`AnomalyError` naming the op
and that place.
"""

from __future__ import annotations

import traceback

import numpy as np

from .modes import state
from .sites import is_user_file

__all__ = ["detect_anomaly", "set_detect_anomaly", "AnomalyError", "is_anomaly_enabled"]

class AnomalyError(RuntimeError):
    """A NaN or Inf appeared in a forward or backward computation.

    The facts are attributes as well as the message: ``op`` (the primitive's name),
    ``phase`` (``"forward"`` or ``"backward"``), ``filename`` and ``lineno`` (where the op
    was called in the user's code), ``inputs`` (one dict of statistics per input: ``shape``,
    ``dtype``, ``min``, ``max``, ``nan``, ``inf``; in backward also the cotangent, as
    ``"g"``), and ``masked`` (True for the masked-branch trap, see :func:`check_backward`).
    """

    def __init__(self, message, *, op=None, phase=None, filename=None, lineno=None,
                 inputs=(), masked=False):
        super().__init__(message)
        self.op, self.phase, self.filename, self.lineno = op, phase, filename, lineno
        self.inputs, self.masked = list(inputs), masked


def is_anomaly_enabled() -> bool:
    """Return True inside ``detect_anomaly()`` (in the calling thread)."""
    return state.anomaly


def _user_frames():
    """The stack without glassgrad's own frames: where the user created the op."""
    frames = traceback.extract_stack()[:-1]
    return [f for f in frames if is_user_file(f.filename)]


def record(node) -> None:
    node._extra().trace = _user_frames()[-3:]


def _where(trace) -> str:
    if not trace:
        return "  (creation site unknown: the op was made outside detect_anomaly)"
    return "".join(traceback.format_list(trace)).rstrip()


def _site(trace):
    """(filename, lineno) of the innermost user frame, or (None, None)."""
    return (trace[-1].filename, trace[-1].lineno) if trace else (None, None)


def _array(value):
    return np.asarray(getattr(value, "_data", value))


def _bad(value) -> bool:
    arr = _array(value)
    return arr.dtype.kind in "fc" and not np.all(np.isfinite(arr))


def stats(name: str, value) -> dict:
    """Shape, dtype, min, max and NaN/Inf counts of one value (NaN-aware min/max)."""
    arr = _array(value)
    row = {"name": name, "shape": arr.shape, "dtype": str(arr.dtype), "min": None,
           "max": None, "nan": 0, "inf": 0}
    if arr.dtype.kind in "biufc" and arr.size:
        if arr.dtype.kind in "fc":
            row["nan"] = int(np.isnan(arr).sum())
            row["inf"] = int(np.isinf(arr).sum())
            finite = arr[np.isfinite(arr)] if row["nan"] or row["inf"] else arr
            data = finite if finite.size else arr
        else:
            data = arr
        row["min"], row["max"] = float(np.min(data.real)), float(np.max(data.real))
    return row


def _table(rows) -> str:
    lines = []
    for r in rows:
        rng = "" if r["min"] is None else f", finite range [{r['min']:.4g}, {r['max']:.4g}]"
        bad = f", {r['nan']} NaN, {r['inf']} Inf" if r["nan"] or r["inf"] else ""
        lines.append(f"    {r['name']}: shape {r['shape']}, {r['dtype']}{rng}{bad}")
    return "\n".join(lines)


def check_forward(prim, out, datas=()) -> None:
    """Raise if ``out`` (of ``prim``, computed from ``datas``) is not finite while its
    inputs were: the place a NaN or Inf is born in the forward pass."""
    if not _bad(out):
        return
    trace = _user_frames()[-3:]
    filename, lineno = _site(trace)
    names = getattr(prim, "inputs", None) or [f"input {i}" for i in range(len(datas))]
    rows = [stats(n, d) for n, d in zip(names, datas)
            if d is not None and np.ndim(_array(d)) >= 0]
    born = all(r["nan"] == 0 and r["inf"] == 0 for r in rows)
    how = ("its inputs were finite: this op is where the non-finite value is born"
           if born else "an input was already non-finite (made outside anomaly mode?)")
    raise AnomalyError(
        f"{prim.name} produced NaN/Inf in its forward output (shape {np.shape(out)}); "
        f"{how}.\nInputs:\n{_table(rows)}\nIt was called at:\n{_where(trace)}",
        op=prim.name, phase="forward", filename=filename, lineno=lineno, inputs=rows)


def check_backward(node, g, grads, out=None, ins=None) -> None:
    """Raise at the root cause of a non-finite gradient: the node whose rule turned a
    finite cotangent ``g`` and finite saved values into a non-finite gradient.

    The masked-branch trap is recognised: where the bad gradient entries had a cotangent
    of exactly 0 (the branch was masked out by ``where`` or a mask multiply), the NaN is
    ``0 * inf`` from the rule's own derivative at a point the forward never used.
    """
    bad = [i for i, gx in enumerate(grads) if gx is not None and _bad(gx)]
    if not bad:
        return
    prim = node.prim
    names = list(getattr(prim, "inputs", ())) or [f"input {i}" for i in range(len(grads))]
    filename, lineno = _site(node.trace)
    rows = [stats("g (cotangent in)", g)]
    if out is not None and not isinstance(out, tuple):
        rows.append(stats("out (saved)", out))
    for n, d in zip(names, ins or ()):
        if d is not None:
            rows.append(stats(n, d))
    i = bad[0]
    which = names[i] if i < len(names) else f"input {i}"
    if _bad(g):
        raise AnomalyError(
            f"the cotangent reaching {prim.name} is already NaN/Inf: it came from the "
            "seed gradient passed to backward() or from a hook, not from an op's rule.\n"
            f"Values:\n{_table(rows)}\nThat {prim.name} was created at:\n"
            f"{_where(node.trace)}",
            op=prim.name, phase="backward", filename=filename, lineno=lineno, inputs=rows)
    masked = _masked_trap(g, grads[i])
    hint = ""
    if masked:
        hint = (f"\nThe masked-branch trap: at the bad entries the cotangent reaching "
                f"{prim.name} is exactly 0 (a where() or mask multiply did not select this "
                f"branch there), but {prim.name}'s derivative at those inputs is infinite, "
                f"and 0 * inf = NaN. Make the branch's input safe where it is not used, "
                f"e.g. sqrt(where(x > 0, x, 1)) instead of where(x > 0, sqrt(x), 0).")
    raise AnomalyError(
        f"the backward of {prim.name} produced NaN/Inf in the gradient of its input "
        f"{which!r} from a finite cotangent: this rule is the root cause.{hint}\n"
        f"Values:\n{_table(rows)}\nThat {prim.name} was created at:\n{_where(node.trace)}",
        op=prim.name, phase="backward", filename=filename, lineno=lineno, inputs=rows,
        masked=masked)


def _masked_trap(g, gx) -> bool:
    """Whether every non-finite entry of ``gx`` sits where the cotangent ``g`` was 0."""
    g, gx = _array(g), _array(gx)
    try:
        zero = np.broadcast_to(g == 0, np.broadcast_shapes(g.shape, gx.shape))
        bad = np.broadcast_to(~np.isfinite(gx), zero.shape)
    except ValueError:  # a reduced gradient (broadcast input): no elementwise reading
        return False
    return bool(bad.any() and np.all(zero[bad]))


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
