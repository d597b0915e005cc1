"""The passes over a traced program before it is written out.

Each takes the statement list (in execution order) and returns what the writer needs:
:func:`prune` keeps what the outputs and the lasting effects need (reverse liveness);
:func:`share_copies` lets a copy that nobody writes be its original;
:func:`writes_after_guards` moves writes into the caller's arrays after the last guard;
:func:`find_inlinable` finds the single-use temporaries written into their use; :class:`Frees`
says after which line a large temporary is read for the last time.
"""

from __future__ import annotations

import numpy as np

from ._sym import Sym

__all__ = ["syms", "targets_of", "prune", "share_copies", "substitute", "writes_after_guards",
           "find_inlinable", "Frees", "FREE_BYTES"]


def syms(x, out):
    t = type(x)
    if t is Sym:
        out.append(x)
    elif t is tuple or t is list:
        for v in x:
            syms(v, out)
    elif t is dict:
        for v in x.values():
            syms(v, out)
    elif t is slice:
        syms((x.start, x.stop, x.step), out)
    return out


def targets_of(st):
    t = st.target
    return () if t is None else t if isinstance(t, tuple) else (t,)


def prune(stmts, outputs, inputs_ids):
    """Keep the statements the outputs or a lasting effect need (reverse liveness)."""
    live = {s.id for s in outputs if type(s) is Sym}
    kept = []
    for st in reversed(stmts):
        targets = targets_of(st)
        need = any(t.id in live for t in targets)
        if st.effect:
            if st.kind in ("guard", "rng"):
                need = True
            else:  # an in-place write: needed if what it writes is live or an input
                dst = st.args[0] if st.kind in ("setitem", "method") else None
                if st.kind == "ufunc":
                    out = st.kwargs.get("out")
                    dst = out[0] if out else st.args[0]
                elif st.kind == "call":
                    dst = st.args[0] if st.args else None
                if type(dst) is Sym and (dst.id in live or dst.id in inputs_ids):
                    need = True
        if need:
            kept.append(st)
            for s in syms((st.args, st.kwargs), []):
                live.add(s.id)
    kept.reverse()
    return kept, live


def written(st):
    """The Sym an in-place statement writes, else None."""
    if not st.effect or st.kind in ("guard", "rng"):
        return None
    if st.kind == "ufunc":
        out = st.kwargs.get("out")
        dst = out[0] if out else st.args[0]
    else:
        dst = st.args[0] if st.args else None
    return dst if type(dst) is Sym else None


def writes_after_guards(stmts, inputs_ids):
    """Writes into the caller's arrays (batch norm's running statistics) move after the
    last guard when nothing later reads them: a guard that fails must leave the inputs
    as they were, or running the next variant would apply the update twice."""
    last_guard = max((i for i, st in enumerate(stmts) if st.kind == "guard"), default=-1)
    if last_guard < 0:
        return stmts
    # from the end: a write moves when every later statement that reads what it wrote
    # moves too (``n += 1`` then ``n[...] = n``: both go)
    moving: set = set()
    readers: dict = {}  # Sym id -> ids of the later statements reading it
    for i in range(len(stmts) - 1, -1, -1):
        st = stmts[i]
        dst = written(st)
        if dst is not None and dst.id in inputs_ids and i < last_guard \
                and readers.get(dst.id, set()) <= moving:
            moving.add(id(st))
        for sym in syms((st.args, st.kwargs), []):
            readers.setdefault(sym.id, set()).add(id(st))
    if not moving:
        return stmts
    moved = [st for st in stmts if id(st) in moving]
    kept = [st for st in stmts if id(st) not in moving]
    at = kept.index(stmts[last_guard]) + 1
    return kept[:at] + moved + kept[at:]


_COPIES = {"copy", "astype"}


def share_copies(stmts, mutated, outputs):
    """``b = a.copy()`` (or a same-dtype astype) where neither is ever written: b is a."""
    alias = {}
    kept = []
    for st in stmts:
        if st.kind == "method" and st.op in _COPIES and not st.effect:
            src, dst = st.args[0], st.target
            same = st.op == "copy" or (len(st.args) > 1 and np.dtype(st.args[1]) ==
                                       src.a.dtype and type(src) is Sym)
            if same and type(src) is Sym and src.id not in mutated and dst.id not in mutated:
                alias[dst.id] = alias.get(src.id, src)
                continue
        kept.append(st)
    return kept, alias


def substitute(x, alias):
    t = type(x)
    if t is Sym:
        return alias.get(x.id, x)
    if t is tuple:
        return tuple(substitute(v, alias) for v in x)
    if t is list:
        return [substitute(v, alias) for v in x]
    if t is dict:
        return {k: substitute(v, alias) for k, v in x.items()}
    if t is slice:
        return slice(*(substitute(v, alias) for v in (x.start, x.stop, x.step)))
    return x


_INLINE_KINDS = {"ufunc", "call", "method", "attr", "getitem"}

FREE_BYTES = 1 << 16  # temporaries this large are deleted after their last read


class Frees:
    """Which large temporaries die after each written line (``del`` them there).

    A function's locals live until it returns, so without this the program would hold
    every intermediate of the forward and the backward at once (twice eager's peak for a
    CNN, whose graph frees saved values as backward passes them). A value is read by the
    statements that use it; a statement written into its single use (inlined) is read
    where that use is written. Small values are left alone: freeing them saves nothing
    and would clutter the source."""

    def __init__(self, stmts, outputs, inputs_ids, inlinable) -> None:
        keep = {o.id for o in outputs if type(o) is Sym} | set(inputs_ids)
        self.user = {}  # id(stmt) inlined -> the stmt it is written into
        self.readers = {}  # Sym id -> stmts that read it
        for st in stmts:
            for x in syms((st.args, st.kwargs), []):
                self.readers.setdefault(x.id, []).append(st)
                if x.stmt is not None and id(x.stmt) in inlinable:
                    self.user[id(x.stmt)] = st
        self.inlinable = inlinable
        self.pending = {}  # Sym id -> Sym, large and named, waiting for its last reader
        for st in stmts:
            for t in targets_of(st):
                if t.id not in keep and not t.const and id(st) not in inlinable \
                        and t.a.nbytes >= FREE_BYTES:
                    self.pending[t.id] = t
        self.written = set()

    def _done(self, st) -> bool:
        while id(st) in self.inlinable:
            nxt = self.user.get(id(st))
            if nxt is None:
                return False
            st = nxt
        return id(st) in self.written

    def after(self, st, w) -> list:
        """Names to ``del`` right after the line of ``st``."""
        self.written.add(id(st))
        if not self.pending:
            return []
        dead = []
        for sid, sym in list(self.pending.items()):
            if sym.stmt is None or not self._done(sym.stmt):
                continue  # not defined yet
            if all(self._done(r) for r in self.readers.get(sid, ())):
                del self.pending[sid]
                if sid not in w.inline:
                    dead.append(w.namer.name(sym))
        return dead


def find_inlinable(stmts, outputs, mutated, backward_at) -> set:
    """Statements whose unnamed result is used exactly once, by a later statement of the
    same op and rule with no in-place write in between: written into that use."""
    uses, user = {}, {}
    for st in stmts:
        for s in syms((st.args, st.kwargs), []):
            uses[s.id] = uses.get(s.id, 0) + 1
            user[s.id] = st
    for o in outputs:
        if type(o) is Sym:
            uses[o.id] = uses.get(o.id, 0) + 2  # outputs keep their names
    position = {id(st): i for i, st in enumerate(stmts)}
    writes = [i for i, st in enumerate(stmts) if st.effect and st.kind not in ("guard", "rng")]
    out = set()
    for i, st in enumerate(stmts):
        t = st.target
        if type(t) is not Sym or st.effect or st.kind not in _INLINE_KINDS:
            continue
        if t.name is not None or t.grad_of is not None or t.is_input or t.id in mutated:
            continue
        if uses.get(t.id) != 1:
            continue
        u = user[t.id]
        if (u.label != st.label and u.kind != "guard") or u.kind == "setitem" \
                or u is backward_at:
            continue
        j = position[id(u)]
        if any(i < k < j for k in writes):
            continue
        out.add(id(st))
    return out
