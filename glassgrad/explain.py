"""``gg.explain``: the backward pass walked in words, one step per op.

``gg.explain(z)`` runs the real backward pass from ``z`` (the engine's own sweep, watched
through :func:`glassgrad.engine.observe_backward`) and writes down what each step did:
which op, its local rule (the ``VJP:`` line of its card), the cotangent that arrived and
the cotangents it sent to each input. Where a value reaches a node along several paths
(``b = a + a``) the step shows the contributions being added up. Nothing is assigned to
anyone's ``.grad``: the sweep runs in ``autograd.grad``'s capturing mode, keeping the graph.

``gg.explain(gg.tanh)`` (a primitive) prints its derivation and the source of its rules.
"""

from __future__ import annotations

import html
import inspect
import textwrap

import numpy as np

from .engine import observe_backward, run_backward, seed
from .graph import Node, walk
from .primitive import Primitive
from .tensor import Tensor

__all__ = ["explain", "Explanation", "Step"]


def _show(value) -> str:
    """A value as a learner reads it: the number for a scalar, the entries for a few,
    shape and norm otherwise."""
    arr = np.asarray(getattr(value, "_data", value))
    if arr.size == 1:
        return f"{arr.reshape(()).item():.6g}"
    if arr.size <= 4:
        return np.array2string(arr, precision=4, separator=", ")
    return f"<shape {arr.shape}, norm {float(np.linalg.norm(arr.astype(np.float64))):.4g}>"


def _rule(prim) -> str:
    """The ``VJP:`` line of a primitive's docstring (its local backward rule)."""
    for line in (prim.__doc__ or "").splitlines():
        if "VJP:" in line:
            text = line.split("VJP:", 1)[1]
            return text.split("JVP:", 1)[0].strip().rstrip(".")
    return "(a custom Function's backward)" if prim.variadic else "(no VJP line)"


class Step:
    """One op of the backward pass: ``op``, ``name`` (as in the listing), ``rule``,
    ``g`` (the total cotangent of its output), ``contributions`` (the cotangents that
    were added into ``g``, one per consumer), ``sent`` (list of (input name, cotangent))."""

    def __init__(self, op, name, rule, g, contributions, sent, args=()) -> None:
        self.op, self.name, self.rule, self.args = op, name, rule, tuple(args)
        self.g, self.contributions, self.sent = g, contributions, sent


class Explanation:
    """The steps of one backward pass; ``str()`` reads them out, Jupyter shows a table.

    ``grads`` holds what each leaf received in total ({leaf name: array}), the same
    numbers ``gg.autograd.grad`` returns.
    """

    def __init__(self, steps, grads, leaves, leaf_parts=None) -> None:
        self.steps, self.grads, self.leaves = steps, grads, leaves
        self.leaf_parts = leaf_parts or {}

    def __str__(self) -> str:
        lines = ["backward pass, newest op first (the engine's order):"]
        for k, s in enumerate(self.steps, 1):
            g = _show(s.g)
            if len(s.contributions) > 1:
                parts = " + ".join(_show(c) for c in s.contributions)
                g = f"{parts} = {g}   ({len(s.contributions)} paths add up)"
            lines.append(f"{k}. {s.name} = {s.op}({', '.join(s.args)}): d/d{s.name} = {g}")
            lines.append(f"   rule: {s.rule}")
            for target, value in s.sent:
                lines.append(f"   -> d/d{target} += {_show(value)}")
        lines.append("leaves:")
        for name, g in self.grads.items():
            parts = self.leaf_parts.get(name, [])
            total = _show(g)
            if len(parts) > 1:
                total = f"{' + '.join(_show(p) for p in parts)} = {total}"
            lines.append(f"   d/d{name} = {total}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = []
        for k, s in enumerate(self.steps, 1):
            sent = "<br>".join(f"d/d{html.escape(t)} += {html.escape(_show(v))}"
                               for t, v in s.sent)
            rows.append(f"<tr><td>{k}</td><td>{html.escape(s.name)} = {html.escape(s.op)}"
                        f"</td><td>{html.escape(s.rule)}</td><td>{html.escape(_show(s.g))}"
                        f"</td><td>{sent}</td></tr>")
        leaves = "".join(f"<tr><td colspan=4>d/d{html.escape(n)}</td><td>"
                         f"{html.escape(_show(g))}</td></tr>" for n, g in self.grads.items())
        return ("<table><tr><th>step</th><th>op</th><th>local rule (VJP)</th>"
                "<th>cotangent in</th><th>cotangents out</th></tr>"
                + "".join(rows) + leaves + "</table>")


def _explain_primitive(prim: Primitive) -> str:
    rules = prim.vjp if isinstance(prim.vjp, tuple) else (prim.vjp,)
    sources = []
    for r in rules:
        if r is None:
            continue
        r = getattr(r, "__wrapped__", r)
        try:
            sources.append(inspect.getsource(r))
        except (OSError, TypeError):
            pass
    where = prim.where()
    return (f"primitive {prim.name}" + (f" ({where})" if where else "") + "\n\n"
            + (prim.__doc__ or "") + "\n\n" + "\n".join(textwrap.dedent(s) for s in sources))


def explain(target, params=None):
    """Explain ``target``'s backward pass step by step (a Tensor), or show a primitive's
    derivation and rules (``gg.explain(gg.tanh)``).

    ``params`` names leaves ({name: tensor}, e.g. ``dict(model.named_parameters())``);
    other leaves are called ``x0``, ``x1``... in creation order, and intermediate values
    ``v1``, ``v2``... The graph is kept and no ``.grad`` changes.

    >>> import glassgrad as gg
    >>> x = gg.tensor(2.0, requires_grad=True)
    >>> z = x * 3 + 5
    >>> e = gg.explain(z)
    >>> float(e.grads["x0"])
    3.0
    """
    if isinstance(target, Primitive):
        return _explain_primitive(target)
    if not isinstance(target, Tensor) or target._node is None:
        raise TypeError("explain: give a Tensor computed from tensors that require grad "
                        "(or a primitive such as gg.tanh)")
    nodes = walk([target])
    names: dict = {}
    by_id = {id(t): n for n, t in (params or {}).items()}
    leaves = []
    for node in nodes:
        for p in node.parents:
            if p is not None and type(p) is not Node and id(p) not in names:
                names[id(p)] = by_id.get(id(p), f"x{len(leaves)}")
                leaves.append(p)
    for k, node in enumerate(nodes, 1):
        names[id(node)] = f"v{k}"
    names[id(target._node)] = "out"
    contributions: dict = {}
    steps = []

    def observer(node, g, gxs):
        targets = []
        for p, gx in zip(node.parents, gxs):
            if p is None or gx is None:
                continue
            label = names[id(p)]
            contributions.setdefault(id(p), []).append(np.array(getattr(gx, "_data", gx)))
            targets.append((label, gx))
        args = [names[id(p)] if p is not None else "const" for p in node.parents]
        steps.append(Step(node.prim.name, names[id(node)], _rule(node.prim),
                          np.array(getattr(g, "_data", g)),
                          contributions.get(id(node), []), targets, args))

    capture = {leaf: None for leaf in leaves}
    with observe_backward(observer):
        run_backward([target], [seed(target, None, False)], True, False, capture)
    grads = {names[id(leaf)]: (np.asarray(g) if g is not None else None)
             for leaf, g in capture.items()}
    parts = {names[id(leaf)]: contributions.get(id(leaf), []) for leaf in leaves}
    return Explanation(steps, grads, leaves, parts)
