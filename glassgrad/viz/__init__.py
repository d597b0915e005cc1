"""Pictures of a recorded graph, with its gradients (``gg.viz``).

- :func:`to_dot` — Graphviz DOT text (ops, leaves, saved values, gradient colours);
- :func:`draw` — an SVG or PNG file, through Graphviz's ``dot`` or, without it, a
  layered layout drawn with matplotlib;
- :func:`graph` — an object Jupyter displays inline;
- :func:`trace_modules` — record module calls so ``collapse="module"`` can fold them;
- :class:`record` — keep constants, intermediate values and every op's gradient, which
  the graph itself forgets, so the pictures can show them.
"""

from ._dot import to_dot, trace_modules
from ._draw import Graph, draw, graph, render
from ._record import Snapshot, record

__all__ = ["to_dot", "draw", "graph", "Graph", "render", "trace_modules", "record", "Snapshot"]
