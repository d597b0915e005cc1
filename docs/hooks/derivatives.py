"""MkDocs hook: the derivative reference, generated from the op registry at build time.

Every primitive (``glassgrad.primitive.PRIMITIVES``) gets an entry: its formula (the
first lines of its card's docstring), its VJP and JVP lines, where it is defined, and the
card's source folded underneath. Generated, never written by hand, so the table cannot
drift from the code; ``tests/test_docs.py`` checks that it lists every registered
primitive. ``render()`` is importable on its own (the test uses it).
"""

from __future__ import annotations

import ast
import html
import inspect
import re
import sys
from collections import defaultdict
from pathlib import Path

PAGE = "reference/derivatives.md"
ROOT = Path(__file__).resolve().parents[2]

_SECTIONS = {  # module -> heading, in reading order
    "glassgrad.ops.elementwise": "Elementwise arithmetic",
    "glassgrad.ops.exp_log": "Exponentials, logarithms, powers",
    "glassgrad.ops.trig": "Trigonometric and hyperbolic",
    "glassgrad.ops.compare": "Comparisons, rounding, selection",
    "glassgrad.ops.reduction": "Reductions",
    "glassgrad.ops.scan": "Cumulative sums and products",
    "glassgrad.ops.norms": "Norms",
    "glassgrad.ops.shape": "Shapes, broadcasting, joining",
    "glassgrad.ops.arrange": "Rearranging: flips, rolls, repeats",
    "glassgrad.ops.indexing": "Indexing, gathering, sorting",
    "glassgrad.ops.products": "Products",
    "glassgrad.ops.linalg": "Linear algebra",
    "glassgrad.ops.decomp": "Matrix decompositions",
}


def _card_source(prim) -> tuple[str, int, str]:
    """(path relative to the repository, first line, source) of the ``@primitive`` class
    (the card) that defines ``prim``, decorator included."""
    card = prim.card
    module = sys.modules[card.__module__]
    path = Path(inspect.getsourcefile(module)).resolve()
    text = path.read_text()
    rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef) and node.name == card.__name__:
            start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            lines = text.splitlines()[start - 1:node.end_lineno]
            return rel, start, "\n".join(lines)
    raise LookupError(f"no class {card.__name__} in {rel}")


def _parts(doc: str) -> tuple[str, str, str]:
    """(formula, VJP, JVP) lines of a card's docstring."""
    formula, vjp, jvp = [], "", ""
    for raw in doc.strip().splitlines():
        line = raw.strip()
        if line.startswith("VJP:"):
            head, _, tail = line.partition("JVP:")
            vjp = head[4:].strip()
            jvp = tail.strip() or jvp
        elif line.startswith("JVP:"):
            jvp = line[4:].strip()
        elif not vjp and not jvp:
            formula.append(line)
    text = " ".join(s for s in formula if s)
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text).replace("``", "`")  # Sphinx roles
    return text, vjp, jvp


def entries() -> list[dict]:
    """One dict per registered primitive: name, module, formula, vjp, jvp, file, line,
    source."""
    import glassgrad  # noqa: F401  (imports every card: they register themselves)
    from glassgrad.primitive import PRIMITIVES

    out = []
    for name, prim in PRIMITIVES.items():
        formula, vjp, jvp = _parts(prim.__doc__ or "")
        rel, line, source = _card_source(prim)
        module = prim.card.__module__
        out.append({"name": name, "module": module, "formula": formula, "vjp": vjp,
                    "jvp": jvp, "file": rel, "line": line, "source": source})
    return out


def _heading(module: str) -> str:
    if module in _SECTIONS:
        return _SECTIONS[module]
    if module.startswith("glassgrad.nn"):
        return "Neural-network ops (gg.nn.functional)"
    return module or "Other"


def render() -> str:
    """The page's Markdown."""
    items = entries()
    groups = defaultdict(list)
    for e in items:
        groups[_heading(e["module"])].append(e)
    order = list(dict.fromkeys(list(_SECTIONS.values()) + sorted(groups)))
    lines = [
        "# Derivatives of every primitive",
        "",
        f"The {len(items)} primitives of glassgrad, generated from the op registry when "
        "this site was built: each op's forward formula, its **VJP** (reverse mode: the "
        "cotangent `g` of the output becomes `gx`, `gy`, ... of the inputs) and its "
        "**JVP** (forward mode: the tangents `tx`, ... become `t_out`), and the card that "
        "defines it. Composite functions (`gg.softmax`, `gg.nn.functional.mse_loss`, "
        "...) are made of these and differentiate through them.",
        "",
        "Notation: `out` is the op's output, `g` the incoming cotangent, `sum_to` sums a "
        "cotangent back over broadcast axes (one place for every broadcasting op).",
        "",
    ]
    for heading in order:
        if heading not in groups:
            continue
        lines += [f"## {heading}", ""]
        for e in sorted(groups[heading], key=lambda e: e["name"]):
            lines += [f"### `{e['name']}`", ""]
            if e["formula"]:
                lines += [html.escape(e["formula"], quote=False), ""]
            lines += ["| rule | |", "|---|---|",
                      f"| VJP | `{e['vjp'] or '(none: not differentiable)'}` |",
                      f"| JVP | `{e['jvp'] or '(none)'}` |", ""]
            if e["file"]:
                where = f"`{e['file']}`, line {e['line']}"
                lines += [f'??? note "Source: {where}"', "", "    ```python"]
                lines += ["    " + s if s else "" for s in e["source"].splitlines()]
                lines += ["    ```", ""]
    return "\n".join(lines) + "\n"


def on_files(files, config):
    """MkDocs event: add the generated page to the site."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, PAGE, content=render()))
    return files
