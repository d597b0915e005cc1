"""Rendering: Graphviz's ``dot`` where installed, else a layered layout drawn with matplotlib."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

from ._dot import RAMP, _text_colour, build_layout_graph, to_dot

__all__ = ["draw", "graph", "Graph", "render"]

_FORMATS = {".svg": "svg", ".png": "png"}
_BACKENDS = (None, "auto", "graphviz", "matplotlib")
_DOT_KW = ("params", "model", "show_values", "show_grads", "max_nodes", "collapse",
           "rankdir")


def _split(kw: dict):
    bad = set(kw) - set(_DOT_KW)
    if bad:
        raise TypeError(f"gg.viz: unexpected keyword(s) {sorted(bad)}; "
                        f"known: {list(_DOT_KW) + ['backend']}")
    return kw


def _choose(backend):
    if backend not in _BACKENDS:
        raise ValueError(f"gg.viz: backend must be 'graphviz', 'matplotlib' or None (auto), "
                         f"not {backend!r}")
    dot = shutil.which("dot")
    if backend == "graphviz":
        if dot is None:
            raise RuntimeError("gg.viz: backend='graphviz' but Graphviz's `dot` program is "
                               "not on PATH (install Graphviz, e.g. `apt-get install "
                               "graphviz`, or use backend='matplotlib')")
        return "graphviz"
    if backend == "matplotlib":
        if not _have_matplotlib():
            raise RuntimeError("gg.viz: backend='matplotlib' but matplotlib is not "
                               "installed (`pip install matplotlib`, or install Graphviz)")
        return "matplotlib"
    if dot is not None:
        return "graphviz"
    if _have_matplotlib():
        return "matplotlib"
    raise RuntimeError("gg.viz cannot draw: neither Graphviz's `dot` program (install "
                       "Graphviz, e.g. `apt-get install graphviz`) nor matplotlib (`pip "
                       "install matplotlib`) is available. gg.viz.to_dot(...) still gives "
                       "the DOT text.")


def _have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401  (optional dependency)
    except ImportError:
        return False
    return True


def render(output, fmt: str = "svg", backend=None, **kw) -> bytes:
    """The picture of ``output``'s graph as bytes in ``fmt`` ('svg' or 'png')."""
    if fmt not in ("svg", "png"):
        raise ValueError(f"gg.viz: format must be 'svg' or 'png', not {fmt!r}")
    kw = _split(kw)
    which = _choose(backend)
    if which == "graphviz":
        return _render_graphviz(to_dot(output, **kw), fmt)
    kw.pop("rankdir", None)  # the matplotlib layout runs left to right only
    return _render_matplotlib(*build_layout_graph(output, **kw), fmt=fmt)


def _render_graphviz(dot_text: str, fmt: str) -> bytes:
    proc = subprocess.run([shutil.which("dot"), f"-T{fmt}"], input=dot_text.encode(),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"gg.viz: Graphviz `dot -T{fmt}` failed: "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def draw(output, path, backend=None, **kw) -> Path:
    """Write a picture of the graph that produced ``output`` to ``path`` (SVG or PNG, by
    the suffix). Uses Graphviz's ``dot`` when installed, else a layout of glassgrad's own
    drawn with matplotlib (``backend="graphviz"``/``"matplotlib"`` forces one); raises
    when neither is there. Other keywords as :func:`to_dot`. Returns the path.
    torchviz's ``make_dot(...).render(...)`` is the nearest PyTorch equivalent.
    """
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"gg.viz.draw: cannot tell the format from {str(path)!r}: use a "
                         "path ending in .svg or .png")
    path.write_bytes(render(output, fmt, backend=backend, **kw))
    return path


class Graph:
    """A graph picture for Jupyter (``_repr_svg_``) and for files (``.save(path)``);
    ``.dot`` is its Graphviz DOT text. Made by :func:`graph`."""

    def __init__(self, output, backend=None, **kw):
        self._output = output
        self._backend = backend
        self._kw = _split(kw)
        self.dot = to_dot(output, **self._kw)

    def _repr_svg_(self) -> str:
        return render(self._output, "svg", backend=self._backend, **self._kw).decode()

    def save(self, path) -> Path:
        """Write the picture (SVG or PNG, by the suffix); as :func:`draw`."""
        return draw(self._output, path, backend=self._backend, **self._kw)

    def __repr__(self) -> str:
        n_ops = self.dot.count("shape=box")
        n_leaves = self.dot.count("shape=ellipse")
        return (f"<glassgrad graph: {n_ops} op boxes, {n_leaves} leaves; .dot for the "
                f"DOT text, .save('g.svg') to write it, shown inline in Jupyter>")


def graph(output, **kw) -> Graph:
    """A displayable picture of ``output``'s graph: Jupyter shows it inline (SVG);
    ``.dot`` and ``.save(path)`` as :func:`to_dot` and :func:`draw`. Keywords as
    :func:`draw`."""
    return Graph(output, **kw)


# --- matplotlib fallback layout ------------------------------------------------------------
def _layers(nodes: dict, edges: list) -> dict:
    """Column of each node: its longest path from a source (a node without inputs)."""
    preds = {k: [] for k in nodes}
    for a, b in edges:
        preds[b].append(a)
    layer = {}
    for key in nodes:  # leaves/ops arrive in an order where inputs come first, mostly
        stack = [key]
        while stack:
            k = stack[-1]
            if k in layer:
                stack.pop()
                continue
            todo = [p for p in preds[k] if p not in layer]
            if todo:
                stack.extend(todo)
                continue
            layer[k] = 1 + max((layer[p] for p in preds[k]), default=-1)
            stack.pop()
    # then pull every node right, as late as its consumers allow (reverse topological
    # order), so a parameter and its transpose sit next to the op that uses them
    succ = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
    for k in sorted(layer, key=layer.get, reverse=True):
        if succ.get(k):
            layer[k] = max(layer[k], min(layer[s] for s in succ[k]) - 1)
    return layer


def _render_matplotlib(nodes: dict, edges: list, notes: list, fmt: str) -> bytes:
    from matplotlib.figure import Figure  # optional dependency, off the op path
    from matplotlib.patches import Ellipse, FancyBboxPatch

    layer = _layers(nodes, edges)
    cols = {}
    for k in nodes:
        cols.setdefault(layer[k], []).append(k)
    char_w, line_h = 0.075, 0.19  # inches per character / line at fontsize 8
    size = {k: (max(len(s) for s in n["label"]) * char_w + 0.3, len(n["label"]) * line_h + 0.2)
            for k, n in nodes.items()}
    gap_x, gap_y = 0.6, 0.35
    x_of, width_of_col = {}, {}
    x = 0.3
    for c in sorted(cols):
        w = max(size[k][0] for k in cols[c])
        width_of_col[c] = w
        x_of[c] = x + w / 2
        x += w + gap_x
    heights = {c: sum(size[k][1] for k in ks) + gap_y * (len(ks) - 1) for c, ks in cols.items()}
    legend_h = 1.0 + 0.18 * len(notes)
    total_h = max(heights.values(), default=1.0) + legend_h + 0.6
    total_w = max(x, 3.2)
    pos = {}
    for c, ks in cols.items():
        y = total_h - 0.3 - (total_h - legend_h - 0.6 - heights[c]) / 2
        for k in ks:
            h = size[k][1]
            pos[k] = (x_of[c], y - h / 2)
            y -= h + gap_y
    fig = Figure(figsize=(total_w, total_h), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, total_w)
    ax.set_ylim(0, total_h)
    ax.axis("off")
    uses: dict = {}
    for a, b in edges:
        (xa, ya), (xb, yb) = pos[a], pos[b]
        half_a = size[a][0] * (0.55 if nodes[a]["kind"] == "leaf" else 0.5)
        k = uses[(a, b)] = uses.get((a, b), -1) + 1
        bend = 0.0 if k == 0 else (0.3 if k % 2 else -0.3) * ((k + 1) // 2)  # a + a: two
        ax.annotate("", xy=(xb - size[b][0] / 2, yb), xytext=(xa + half_a, ya),
                    arrowprops=dict(arrowstyle="-|>", color="#555555", lw=0.8,
                                    shrinkA=0, shrinkB=1,
                                    connectionstyle=f"arc3,rad={bend}"))
    for k, n in nodes.items():
        (cx, cy), (w, h) = pos[k], size[k]
        if n["kind"] == "const":
            patch = FancyBboxPatch((cx - w / 2, cy - h / 2), w, h,
                                   boxstyle="round,pad=0.02,rounding_size=0.08",
                                   facecolor="white", edgecolor="#777777", lw=0.8,
                                   linestyle="--")
        elif n["kind"] == "leaf":
            patch = Ellipse((cx, cy), w * 1.1, h * 1.15, facecolor=n["fill"],
                            edgecolor="black", lw=0.8)
        else:
            patch = FancyBboxPatch((cx - w / 2, cy - h / 2), w, h,
                                   boxstyle="round,pad=0.02,rounding_size=0.05",
                                   facecolor=n["fill"], edgecolor="black",
                                   lw=1.6 if n["kind"] == "module" or n["output"] else 0.8,
                                   linestyle="--" if n["kind"] == "note" else "-")
        ax.add_patch(patch)
        ax.text(cx, cy, "\n".join(n["label"]), ha="center", va="center", fontsize=8,
                family="DejaVu Sans", color=_text_colour(n["fill"]), linespacing=1.3)
    # legend: the colour ramp
    cell = 0.3
    x0, y0 = 0.3, 0.25
    ax.text(x0, y0 + cell + 0.2, "\n".join(["gradient RMS (log scale); grey: unknown, "
                                             "black: zero"] + notes),
            fontsize=8, va="bottom", linespacing=1.3)
    for i, c in enumerate(RAMP):
        ax.add_patch(FancyBboxPatch((x0 + i * cell, y0), cell, cell, boxstyle="square,pad=0",
                                    facecolor=c, edgecolor="none"))
    ax.text(x0, y0 - 0.05, "1e-8", fontsize=7, va="top")
    ax.text(x0 + len(RAMP) * cell, y0 - 0.05, "1e+2", fontsize=7, va="top", ha="right")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    return buf.getvalue()
