"""The package's import graph is layered: no circle, every import at the top of its file.

Read from the source with ``ast`` (nothing is imported), so the test names the exact
module and line that breaks the layering.
"""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "glassgrad"

# Imports a function may make on purpose: optional, heavy, off the op path.
OPTIONAL = {"matplotlib", "matplotlib.pyplot", "matplotlib.image", "numba", "tqdm.auto", "mpi4py",
            "torch"}  # torch: only the styles lesson, beside its own gradients, when installed


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(current: str, is_package: bool, node: ast.ImportFrom, known: set) -> list[str]:
    """Absolute glassgrad module names an ``ImportFrom`` refers to."""
    if node.level:
        base = current.split(".")
        if not is_package:
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    if not prefix.startswith("glassgrad"):
        return []
    # ``from . import ops`` imports the module ``ops``; ``from .ops import add`` imports
    # a name from the package ``ops`` (its __init__)
    targets = []
    for alias in node.names:
        sub = f"{prefix}.{alias.name}"
        targets.append(sub if sub in known else prefix)
    return targets


def _modules():
    return {_module_name(p): p for p in PKG.rglob("*.py")}


def _imports(name: str, path: Path, known: set):
    """(top-level imports, nested imports with line numbers) of one module."""
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    top, nested = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            targets = [t for t in _resolve(name, is_package, node, known) if t in known]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        if node.col_offset == 0:
            top.update(t for t in targets if t in known)
        elif not all(t in OPTIONAL for t in targets):
            nested.append((node.lineno, targets))
    return top, nested


def test_no_import_inside_functions():
    known = set(_modules())
    offenders = []
    for name, path in sorted(_modules().items()):
        _, nested = _imports(name, path, known)
        offenders += [f"{name}:{line} imports {targets}" for line, targets in nested]
    assert not offenders, "per-call imports (move them to the top):\n" + "\n".join(offenders)


def test_import_graph_has_no_circle():
    modules = _modules()
    known = set(modules)
    graph = {}
    for name, path in modules.items():
        top, _ = _imports(name, path, known)
        # a package's own submodules imported by its __init__ are its content, not a
        # back edge; a submodule importing its parent package is the edge that counts
        graph[name] = {t for t in top if t != name}
    # the package __init__ files re-export: an edge into a package means "its __init__"
    state, stack, cycles = {}, [], []

    def visit(start):
        # iterative DFS (no recursion), reporting the first circle found from ``start``
        todo = [(start, iter(sorted(graph[start])))]
        state[start] = "open"
        stack.append(start)
        while todo:
            node, children = todo[-1]
            child = next(children, None)
            if child is None:
                todo.pop()
                stack.pop()
                state[node] = "done"
                continue
            if state.get(child) == "open":
                cycles.append(stack[stack.index(child):] + [child])
            elif child not in state:
                state[child] = "open"
                stack.append(child)
                todo.append((child, iter(sorted(graph[child]))))

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)
