"""DOT text for a recorded graph: ops as boxes, leaves as ellipses, gradients as colour.

Reads the graph only through :func:`glassgrad.graph.walk` (nodes in creation order) and
each node's ``parents``/``out``/``ins``; nothing here runs an op or touches ``.grad``.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np

from ..graph import FREED, Node, _next_seq, walk

__all__ = ["to_dot", "trace_modules", "build_layout_graph", "RAMP", "colour_of"]

# Blue (vanishing) -> red (large), 8 fixed steps over |grad| from 1e-8 to 1e+2 (log scale).
RAMP = ["#3b4cc0", "#5b7ae0", "#86a9f7", "#b6cdf7", "#ecd3c5", "#f4a989", "#e0654f", "#b40426"]
LOG_LO, LOG_HI = -8.0, 2.0
NO_GRAD = "#e8e8e8"  # gradient not known
ZERO_GRAD = "#202020"  # exactly zero: darkest, so dead units stand out


def colour_of(magnitude) -> str:
    """Fill colour for a gradient magnitude (its RMS): a fixed blue->red log-scale ramp,
    grey when unknown (None), near-black when exactly zero."""
    if magnitude is None or not np.isfinite(magnitude):
        return NO_GRAD if magnitude is None else "#ff00ff"
    if magnitude == 0:
        return ZERO_GRAD
    t = (math.log10(magnitude) - LOG_LO) / (LOG_HI - LOG_LO)
    i = min(len(RAMP) - 1, max(0, int(t * len(RAMP))))
    return RAMP[i]


def _text_colour(fill: str) -> str:
    return "white" if fill in (RAMP[0], RAMP[1], RAMP[-1], RAMP[-2], ZERO_GRAD) else "black"


def _fmt_num(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{float(v):.4g}"


def _summary(arr, show_values) -> str:
    """Values for small arrays (<= 6 elements), else shape/mean/std/norm."""
    a = np.asarray(arr)
    small = a.size <= 6 if show_values == "auto" else bool(show_values)
    if small and a.size <= 64:
        if a.ndim == 0:
            return _fmt_num(a.item())
        return "[" + ", ".join(_fmt_num(v) for v in a.ravel()) + "]" + (
            f" shape {tuple(a.shape)}" if a.ndim > 1 else "")
    if a.size == 0:
        return f"shape {tuple(a.shape)} (empty)"
    if a.dtype.kind in "fc" or a.dtype.kind in "iu":
        f = a.astype(np.float64) if a.dtype.kind != "c" else np.abs(a)
        return (f"shape {tuple(a.shape)} mean {f.mean():.3g} std {f.std():.3g} "
                f"norm {np.linalg.norm(f.ravel()):.3g}")
    return f"shape {tuple(a.shape)}"


def _rms(arr):
    a = np.asarray(arr)
    if a.size == 0:
        return None
    a = np.abs(a).astype(np.float64)
    return float(np.sqrt(np.mean(a * a)))


def _esc(s: str) -> str:
    return str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _dtype_name(dt) -> str:
    return getattr(dt, "name", None) or str(dt)


def _bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 ** 2:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 ** 2:.1f} MiB"


def _saved_line(node: Node) -> str:
    if node.ins is FREED:
        return "saved: freed by backward"
    saved = node.saved
    if not saved:
        return "saved: nothing"
    parts = [f"{k} {tuple(getattr(v, 'shape', ()))} {_bytes(int(getattr(v, 'nbytes', 0)))}"
             for k, v in saved.items()]
    return "saved: " + ", ".join(parts)


def _retained_grad(node: Node):
    extra = node.extra
    if extra is None or extra.retained is None:
        return None
    t = extra.retained()
    g = None if t is None else t.grad
    return None if g is None else g.numpy() if hasattr(g, "numpy") else np.asarray(g)


def _leaf_names(params, model) -> dict:
    names = {}
    if model is not None:
        for n, p in model.named_parameters():
            names.setdefault(id(p), n)
    if params is not None:
        items = params.items() if hasattr(params, "items") else params
        for n, p in items:
            names[id(p)] = n
    return names


# --- module tracing (for collapse="module") -------------------------------------------------
class _ModuleTrace:
    """What :func:`trace_modules` recorded: per module call, the seq range of its nodes."""

    def __init__(self):
        self.calls = []  # (start, end, name)

    def module_of(self, seq: int):
        """Innermost (narrowest) recorded module call whose range holds ``seq``."""
        best = None
        for start, end, name in self.calls:
            if start < seq < end and (best is None or end - start < best[1] - best[0]):
                best = (start, end, name)
        return best


@contextmanager
def trace_modules(model):
    """Record which graph nodes each submodule of ``model`` creates, for
    ``to_dot(out, model=model, collapse="module")``.

    Use as ``with gg.viz.trace_modules(model): out = model(x)``. It registers forward
    pre/post hooks on every submodule (not the root: ops the root's own ``forward`` makes
    stay visible one by one) for the block's duration and remembers, per call, the range
    of node creation numbers (``Node.seq``) it spans; a node belongs to the innermost
    call. The record is kept on the model (``model._glassgrad_viz_trace``) until the
    next trace. No torch equivalent (torchviz has no module folding).
    """
    trace = _ModuleTrace()
    handles, opened = [], {}
    for name, mod in model.named_modules():
        if mod is model:
            continue

        def pre(m, args, _name=name):
            opened.setdefault(id(m), []).append(_next_seq())

        def post(m, args, output, _name=name):
            start = opened[id(m)].pop()
            trace.calls.append((start, _next_seq(), f"{_name} ({type(m).__name__})"))

        handles.append(mod.register_forward_pre_hook(pre))
        handles.append(mod.register_forward_hook(post))
    try:
        yield trace
    finally:
        for h in handles:
            h.remove()
        model.__dict__["_glassgrad_viz_trace"] = trace


# --- the graph as plain data (shared by the DOT writer and the matplotlib layout) -------------
def build_layout_graph(output, params=None, model=None, show_values="auto", show_grads=True,
                       max_nodes=200, collapse=None):
    """The picture as plain data: ``(nodes, edges, notes)``.

    ``nodes``: dict id -> {"kind": "op"|"leaf"|"module"|"note", "label": [lines],
    "fill": hex}; ``edges``: list of (src_id, dst_id); ``notes``: lines for the legend.
    """
    if collapse not in (None, "module"):
        raise ValueError(f"to_dot: collapse must be None or 'module', not {collapse!r}")
    roots = output if isinstance(output, (list, tuple)) else [output]
    nodes_list = walk(roots)
    trace = None
    if collapse == "module":
        if model is None:
            raise ValueError("to_dot(collapse='module') needs model=: the module whose calls "
                             "made the graph, run inside `with gg.viz.trace_modules(model):`")
        trace = model.__dict__.get("_glassgrad_viz_trace")
        if trace is None:
            raise ValueError("to_dot(collapse='module'): no module record on this model; "
                             "produce the output inside `with gg.viz.trace_modules(model): "
                             "out = model(x)` first")
    hidden = 0
    if max_nodes is not None and len(nodes_list) > max_nodes:
        hidden = len(nodes_list) - max_nodes
        nodes_list = nodes_list[hidden:]
    shown = {id(n) for n in nodes_list}
    names = _leaf_names(params, model)
    out_nodes, edges, seen_edges = {}, [], set()

    def add_edge(a, b):
        if a != b and (a, b) not in seen_edges:
            seen_edges.add((a, b))
            edges.append((a, b))

    # which box each op goes into
    box_of = {}
    for node in nodes_list:
        key = f"op{node.seq}"
        if trace is not None:
            call = trace.module_of(node.seq)
            if call is not None:
                key = f"mod{call[0]}"
                if key not in out_nodes:
                    out_nodes[key] = {"kind": "module", "label": [call[2] or "(module)"],
                                      "fill": NO_GRAD, "ops": [], "ids": [id(node)]}
                out_nodes[key]["ops"].append(node.name)
                out_nodes[key]["out"] = f"{tuple(node.shape)} {_dtype_name(node.dtype)}"
        box_of[id(node)] = key

    leaf_ids, counter = {}, [0]
    for node in nodes_list:
        key = box_of[id(node)]
        g = _retained_grad(node) if show_grads else None
        if key.startswith("op"):
            label = [f"{node.name}", f"{tuple(node.shape)} {_dtype_name(node.dtype)}",
                     _saved_line(node)]
            if g is not None:
                label.append("grad " + _summary(g, show_values))
            out_nodes[key] = {"kind": "op", "label": label,
                              "fill": colour_of(_rms(g)) if g is not None else NO_GRAD}
        for p in node.parents:
            if type(p) is Node:
                if id(p) in shown:
                    add_edge(box_of[id(p)], key)
                else:
                    add_edge("hidden", key)
            elif p is not None:  # a leaf Tensor
                lk = leaf_ids.get(id(p))
                if lk is None:
                    name = names.get(id(p))
                    if name is None:
                        name = f"x{counter[0]}"
                        counter[0] += 1
                    lk = f"leaf{len(leaf_ids)}"
                    leaf_ids[id(p)] = lk
                    data = p.numpy() if hasattr(p, "numpy") else np.asarray(p)
                    label = [name, f"{tuple(p.shape)} {_dtype_name(p.dtype)}",
                             _summary(data, show_values)]
                    grad = p.grad if show_grads else None
                    fill = NO_GRAD
                    if grad is not None:
                        ga = grad.numpy() if hasattr(grad, "numpy") else np.asarray(grad)
                        label.append("grad " + _summary(ga, show_values))
                        fill = colour_of(_rms(ga))
                    out_nodes[lk] = {"kind": "leaf", "label": label, "fill": fill}
                add_edge(lk, key)
    for n in out_nodes.values():
        if n["kind"] == "module":
            ops = n.pop("ops")
            n.pop("ids", None)
            counts = {}
            for o in ops:
                counts[o] = counts.get(o, 0) + 1
            n["label"].append(", ".join(f"{o}" + (f" x{c}" if c > 1 else "")
                                        for o, c in counts.items()))
            n["label"].append(f"{len(ops)} op{'s' if len(ops) != 1 else ''} -> "
                              f"{n.pop('out')}")
    if hidden:
        out_nodes["hidden"] = {"kind": "note", "label": [f"{hidden} more ops not shown"],
                               "fill": "#ffffff"}
    else:
        edges = [e for e in edges if e[0] != "hidden"]
    return out_nodes, edges


def to_dot(output, params=None, model=None, show_values="auto", show_grads=True,
           max_nodes=200, collapse=None) -> str:
    """Graphviz DOT text of the graph that produced ``output`` (a Tensor, or a list).

    One box per op (its name, output shape and dtype, and what it saved for backward with
    the bytes), one ellipse per leaf tensor (named from ``params``, a dict name -> tensor
    such as ``dict(model.named_parameters())``, or from ``model.named_parameters()``;
    otherwise ``x0``, ``x1``... in the order the graph meets them), edges from inputs to
    ops. Values are printed for tensors of at most 6 elements (``show_values="auto"``;
    True/False force it), else shape, mean, std and norm. With ``show_grads`` a leaf's
    ``.grad`` (and an op output's retained grad, see ``Tensor.retain_grad``) is shown
    the same way and sets its fill colour: RMS of the gradient on a log-scale blue ->
    red ramp explained by a legend node. ``max_nodes`` keeps the ops closest to the
    output and adds a note "N more ops not shown". ``collapse="module"`` (with
    ``model=``) folds each submodule call into one box; the output must have been made
    inside ``with gg.viz.trace_modules(model):``.

    torchviz's ``make_dot`` is the nearest PyTorch tool (it draws no gradients).
    """
    nodes, edges = build_layout_graph(output, params, model, show_values, show_grads,
                                      max_nodes, collapse)
    lines = ["digraph glassgrad {", '  rankdir=LR;',
             '  node [fontname="Helvetica", fontsize=10, style=filled];',
             '  edge [color="#555555"];']
    for key, n in nodes.items():
        shape = {"op": "box", "leaf": "ellipse", "module": "box3d", "note": "note"}[n["kind"]]
        label = "\\n".join(_esc(s) for s in n["label"])
        lines.append(f'  {key} [shape={shape}, label="{label}", fillcolor="{n["fill"]}", '
                     f'fontcolor="{_text_colour(n["fill"])}"];')
    for a, b in edges:
        lines.append(f"  {a} -> {b};")
    # legend: a record-like table of the ramp
    cells = "".join(f'<td bgcolor="{c}" width="14"> </td>' for c in RAMP)
    lines.append('  legend [shape=plaintext, style="", label=<<table border="0" '
                 'cellborder="0" cellspacing="0"><tr><td colspan="8">gradient RMS (log '
                 'scale)</td></tr><tr>' + cells + '</tr><tr><td colspan="4" align="left">'
                 '1e-8</td><td colspan="4" align="right">1e+2</td></tr><tr><td '
                 'colspan="8">grey: unknown, black: zero</td></tr></table>>];')
    lines.append("}")
    return "\n".join(lines) + "\n"
