"""DOT text for a recorded graph: ops as boxes, leaves as ellipses, gradients as colour.

Reads the graph only through :func:`glassgrad.graph.walk` (nodes in creation order) and
each node's ``parents``/``out``/``ins``; nothing here runs an op or touches ``.grad``.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np

from ..graph import FREED, Node, _next_seq, walk
from ._record import Snapshot, recorded

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


def _data_names(params) -> list:
    """(array, name) of each tensor in ``params``: constants (inputs needing no gradient)
    reach the graph as arrays, so this is how ``x`` in ``params`` names the data box."""
    if params is None:
        return []
    items = params.items() if hasattr(params, "items") else params
    return [(p._data, n) for n, p in items if hasattr(p, "_data")]


def _data_name(snap, data_names):
    if snap is None:
        return None
    return next((n for a, n in data_names if snap.came_from(a)), None)


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
# A symbol after the op's name where a person would write one (the seed's "x -> *3 -> +5").
SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "matmul": "@", "pow": "**",
           "neg": "-x", "maximum": "max", "minimum": "min"}


def _op_value(node, roots):
    """A Snapshot of the op's output: recorded, the output tensor itself, or saved ``out``."""
    rec = recorded(node)
    if rec is not None and rec.value is not None:
        return rec.value
    if id(node) in roots:
        return Snapshot(roots[id(node)])
    out = node.out
    if out is not None and type(out) is not tuple:
        return Snapshot(out)
    return None


def _op_grad(node, show_grads):
    if not show_grads:
        return None
    rec = recorded(node)
    if rec is not None and rec.grad is not None:
        return rec.grad
    g = _retained_grad(node)
    return None if g is None else Snapshot(g)


def _constant(node, i):
    """A Snapshot of the op's input ``i`` that needs no gradient: recorded, or saved."""
    rec = recorded(node)
    if rec is not None and i in rec.constants:
        return rec.constants[i]
    ins = node.ins
    if ins is not None and ins is not FREED and i < len(ins) and ins[i] is not None:
        return Snapshot(ins[i])
    return None


def build_layout_graph(output, params=None, model=None, show_values="auto", show_grads=True,
                       max_nodes=200, collapse=None):
    """The picture as plain data: ``(nodes, edges, notes)``.

    ``nodes``: dict id -> {"kind": "op"|"leaf"|"const"|"module"|"note", "label": [lines],
    "fill": hex, "output": bool}; ``edges``: list of (src_id, dst_id); ``notes``: lines
    for the legend (what the picture cannot show, and why).
    """
    if collapse not in (None, "module"):
        raise ValueError(f"to_dot: collapse must be None or 'module', not {collapse!r}")
    outputs = output if isinstance(output, (list, tuple)) else [output]
    for t in outputs:
        if getattr(t, "_node", None) is None:
            raise ValueError(
                "gg.viz: the tensor has no recorded graph (it does not require grad, or it "
                "was made under no_grad); draw a result computed from tensors with "
                "requires_grad=True")
    roots = {id(t._node): t for t in outputs}
    nodes_list = walk(outputs)
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
    data_names = _data_names(params)
    out_nodes, edges, seen_edges = {}, [], set()

    def add_edge(a, b):
        # one arrow per use: ``a + a`` draws two (the two paths whose gradients add up);
        # a collapsed module box keeps one arrow per pair of boxes
        if a != b and (trace is None or (a, b) not in seen_edges):
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
                                      "fill": NO_GRAD, "ops": [], "output": False}
                box = out_nodes[key]
                box["ops"].append(node.name)
                box["out"] = f"{tuple(node.shape)} {_dtype_name(node.dtype)}"
                g = _op_grad(node, show_grads)  # the last op's gradient: the module's output
                box["grad"] = g
                box["output"] = box["output"] or id(node) in roots
        box_of[id(node)] = key

    op_grads_known = op_boxes = 0
    leaf_ids, counter = {}, [0]
    for node in nodes_list:
        key = box_of[id(node)]
        if key.startswith("op"):
            op_boxes += 1
            g = _op_grad(node, show_grads)
            value = _op_value(node, roots)
            symbol = SYMBOLS.get(node.name)
            title = f"{node.name} ({symbol})" if symbol else node.name
            if id(node) in roots and id(roots[id(node)]) in names:  # the output, named
                title = f"{names[id(roots[id(node)])]} = {title}"
            label = [title,
                     f"{tuple(node.shape)} {_dtype_name(node.dtype)}"]
            if value is not None:
                label.append("value " + value.text(show_values, False))
            if g is not None:
                op_grads_known += 1
                label.append("grad " + g.text(show_values, False))
            label.append(_saved_line(node))
            out_nodes[key] = {"kind": "op", "label": label, "output": id(node) in roots,
                              "fill": colour_of(g.rms) if g is not None else NO_GRAD}
        for i, p in enumerate(node.parents):
            if type(p) is Node:
                add_edge(box_of[id(p)] if id(p) in shown else "hidden", key)
            elif p is not None:  # a leaf Tensor
                lk = leaf_ids.get(id(p))
                if lk is None:
                    name = names.get(id(p))
                    if name is None:
                        name = f"x{counter[0]}"
                        counter[0] += 1
                    lk = f"leaf{len(leaf_ids)}"
                    leaf_ids[id(p)] = lk
                    label = [name, f"{tuple(p.shape)} {_dtype_name(p.dtype)}",
                             "value " + Snapshot(p).text(show_values, False)]
                    grad = p.grad if show_grads else None
                    fill = NO_GRAD
                    if grad is not None:
                        gs = Snapshot(grad)
                        label.append("grad " + gs.text(show_values, False))
                        fill = colour_of(gs.rms)
                    out_nodes[lk] = {"kind": "leaf", "label": label, "fill": fill,
                                     "output": False}
                add_edge(lk, key)
            else:  # a constant input; inside a module box only the named ones (the data)
                snap = _constant(node, i)
                data_name = _data_name(snap, data_names)
                if key.startswith("mod") and data_name is None:
                    continue
                ck = f"c{node.seq}_{i}"
                if snap is None:
                    label = ["constant"]
                elif data_name is not None:  # a tensor named in params (the data x)
                    label = [data_name, f"{snap.shape} {_dtype_name(snap.dtype)}",
                             snap.text(show_values, False)]
                elif not snap.shape:
                    label = [snap.text(True)]
                else:
                    label = [f"constant {snap.shape} {_dtype_name(snap.dtype)}",
                             snap.text(show_values, False)]
                out_nodes[ck] = {"kind": "const", "label": label, "fill": "#ffffff",
                                 "output": False}
                add_edge(ck, key)
    for n in out_nodes.values():
        if n["kind"] == "module":
            ops = n.pop("ops")
            counts = {}
            for o in ops:
                counts[o] = counts.get(o, 0) + 1
            n["label"].append(", ".join(f"{o}" + (f" x{c}" if c > 1 else "")
                                        for o, c in counts.items()))
            n["label"].append(f"{len(ops)} op{'s' if len(ops) != 1 else ''} -> "
                              f"{n.pop('out')}")
            g = n.pop("grad")
            if g is not None:
                op_grads_known += 1
                n["label"].append("grad " + g.text(show_values, False))
                n["fill"] = colour_of(g.rms)
    if hidden:
        out_nodes["hidden"] = {"kind": "note", "label": [f"{hidden} more ops not shown"],
                               "fill": "#ffffff", "output": False}
    else:
        edges = [e for e in edges if e[0] != "hidden"]
    notes = []
    if show_grads and op_boxes + len(out_nodes) and not op_grads_known:
        notes.append("op boxes grey: the graph keeps no gradient of intermediate values;")
        notes.append("run forward and backward inside `with gg.viz.record():` to colour them")
    return out_nodes, edges, notes


def to_dot(output, params=None, model=None, show_values="auto", show_grads=True,
           max_nodes=200, collapse=None, rankdir=None) -> str:
    """Graphviz DOT text of the graph that produced ``output`` (a Tensor, or a list).

    One box per op (its name, output shape and dtype, its value and gradient when known,
    and what it saved for backward with the bytes; the output's box has a double border),
    one ellipse per leaf tensor (named from ``params``, a dict name -> tensor such as
    ``dict(model.named_parameters())``, or from ``model.named_parameters()``; otherwise
    ``x0``, ``x1``... in the order the graph meets them; an output tensor named there
    titles its op's box, ``z = add (+)``), a small white box per constant
    input (the ``3`` of ``x * 3``), edges from inputs to ops. Values are printed for
    tensors of at most 6 elements (``show_values="auto"``; True/False force it), else
    shape, mean, std and norm. With ``show_grads`` a leaf's ``.grad`` is shown the same
    way and sets its fill colour: RMS of the gradient on a log-scale blue -> red ramp
    explained by a legend. The graph itself keeps no gradient of intermediate values (and
    no constant once a backward freed it): run the forward and backward inside
    ``with gg.viz.record():`` to see and colour every op box (``Tensor.retain_grad``
    shows one). ``max_nodes`` keeps the ops closest to the output and adds a note "N more
    ops not shown". ``collapse="module"`` (with ``model=``) folds each submodule call into
    one box; the output must have been made inside ``with gg.viz.trace_modules(model):``.
    ``rankdir`` is Graphviz's ("LR" left to right, "TB" top to bottom); by default LR for
    up to 4 boxes and TB above, so a real model reads down the page.

    torchviz's ``make_dot`` is the nearest PyTorch tool (it draws no gradients).
    """
    nodes, edges, notes = build_layout_graph(output, params, model, show_values, show_grads,
                                             max_nodes, collapse)
    if rankdir is None:
        boxes = sum(n["kind"] in ("op", "module") for n in nodes.values())
        rankdir = "LR" if boxes <= 4 else "TB"
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"to_dot: rankdir must be 'LR', 'TB', 'RL' or 'BT', not {rankdir!r}")
    lines = ["digraph glassgrad {", f'  rankdir={rankdir};',
             '  node [fontname="Helvetica", fontsize=10, style=filled];',
             '  edge [color="#555555"];']
    for key, n in nodes.items():
        shape = {"op": "box", "leaf": "ellipse", "module": "box3d", "note": "note",
                 "const": "box"}[n["kind"]]
        label = "\\n".join(_esc(s) for s in n["label"])
        extra = ""
        if n["kind"] == "const":
            extra = ', style="filled,rounded,dashed", fontsize=9, margin="0.05,0.02"'
        elif n["output"]:
            extra = ", peripheries=2"
        lines.append(f'  {key} [shape={shape}, label="{label}", fillcolor="{n["fill"]}", '
                     f'fontcolor="{_text_colour(n["fill"])}"{extra}];')
    for a, b in edges:
        lines.append(f"  {a} -> {b};")
    # legend: a table of the ramp, and what the picture could not show
    cells = "".join(f'<td bgcolor="{c}" width="14"> </td>' for c in RAMP)
    note_rows = "".join(f'<tr><td colspan="8">{_html(t)}</td></tr>' for t in notes)
    lines.append('  legend [shape=plaintext, style="", fontsize=9, label=<<table border="0" '
                 'cellborder="0" cellspacing="0"><tr><td colspan="8">gradient RMS (log '
                 'scale)</td></tr><tr>' + cells + '</tr><tr><td colspan="4" align="left">'
                 '1e-8</td><td colspan="4" align="right">1e+2</td></tr><tr><td '
                 'colspan="8">grey: unknown, black: zero</td></tr>' + note_rows
                 + '</table>>];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
