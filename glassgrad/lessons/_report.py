"""The report the lessons write: sections of text, figures, tables, code and checked claims.

A lesson is a function ``run(ctx) -> Section``. It computes on the engine, adds what a
reader should see (:meth:`Section.text`, :meth:`Section.figure`, :meth:`Section.table`,
:meth:`Section.code`) and states what it showed as *claims* (:meth:`Section.claim`):
sentences with the fact that makes them true, checked while the lesson runs. The demo
prints the claims as the terminal summary, writes every section into one HTML page
(:func:`write_html`) and fails when a claim does not hold, so a demo that silently stopped
teaching the truth cannot pass its tests.

The page is one self-contained ``index.html`` beside a ``figures/`` folder: inline CSS,
no script, no web font, nothing fetched from a network; a single column that reads on a
laptop and on a phone (images and tables scale or scroll within the column).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Context", "Section", "Claim", "write_html", "TUTORIALS"]

# The docs tutorial each section links to (docs/tutorials/<name>.py, executed into the
# docs site: the learner's next step after the report).
TUTORIALS = {
    "chain-rule": "01-chain-rule",
    "graphs": "01-chain-rule",
    "modes": "02-forward-vs-reverse",
    "mlp": "03-mlp-backward",
    "xor": "04-xor",
    "gradcheck": "05-gradient-checking",
    "vanishing": "06-vanishing-exploding",
    "debugging": "08-debugging",
    "styles": "03-mlp-backward",
    "flow": "09-modifying-gradient-flow",
    "compile": "10-backward-as-source",
}

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs" / "tutorials"


@dataclass
class Context:
    """What every lesson gets: where figures go, whether to run small (``fast``, for CI),
    the seed, and a progress callback for long loops."""

    out: Path
    fast: bool = False
    seed: int = 0
    progress: object = None  # callable(iterable, desc=...) -> iterable, or None

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        (self.out / "figures").mkdir(parents=True, exist_ok=True)

    def steps(self, iterable, desc: str):
        """``iterable``, shown as a progress bar when the demo has one."""
        return iterable if self.progress is None else self.progress(iterable, desc=desc)


@dataclass
class Claim:
    """A sentence the lesson shows, and whether the computation made it true."""

    text: str
    ok: bool


@dataclass
class Section:
    """One lesson's part of the report, in reading order."""

    key: str
    title: str
    ctx: Context
    blocks: list = field(default_factory=list)
    claims: list = field(default_factory=list)
    facts: dict = field(default_factory=dict)  # numbers the tests read back

    # -- content ---------------------------------------------------------------------------
    def text(self, markdown: str) -> None:
        """A paragraph; ``code`` in backticks, **bold**, and blank lines between
        paragraphs are understood (nothing else of Markdown)."""
        for para in re.split(r"\n\s*\n", markdown.strip()):
            self.blocks.append(("p", " ".join(para.split())))

    def figure(self, fig, name: str, caption: str) -> Path:
        """Save a matplotlib figure as ``figures/<name>.png`` (closed afterwards)."""
        import matplotlib.pyplot as plt

        path = self.ctx.out / "figures" / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        self.blocks.append(("figure", path.name, caption))
        return path

    def image(self, path: Path, caption: str) -> None:
        """An image file already written into ``figures/`` (a graph picture, an SVG)."""
        path = Path(path)
        if path.parent != self.ctx.out / "figures":
            raise ValueError(f"{path} is not in the report's figures folder")
        self.blocks.append(("figure", path.name, caption))

    def table(self, header, rows, caption: str = "") -> None:
        """A table; cells are converted with ``str`` (format numbers before)."""
        self.blocks.append(("table", [str(h) for h in header],
                            [[str(c) for c in r] for r in rows], caption))

    def code(self, source: str, caption: str = "") -> None:
        self.blocks.append(("code", source.rstrip("\n"), caption))

    def side_by_side(self, left: tuple, right: tuple) -> None:
        """Two code listings, ``(title, source)`` each, beside each other on a wide
        screen and one above the other on a narrow one."""
        self.blocks.append(("pair", left, right))

    def claim(self, text: str, ok) -> bool:
        """State what the lesson showed; ``ok`` is the check that makes it true."""
        ok = bool(ok)
        self.claims.append(Claim(text, ok))
        return ok

    # -- reading back ----------------------------------------------------------------------
    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.claims)

    def figures(self) -> list:
        return [b[1] for b in self.blocks if b[0] == "figure"]

    def tutorial(self) -> str:
        return TUTORIALS.get(self.key, "")


# -- HTML ------------------------------------------------------------------------------------
_CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --bg: #ffffff; --panel: #f4f6fa; --line: #d9dee8;
        --ok: #137333; --bad: #b3261e; --accent: #2456b3; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e9ef; --muted: #a3abbb; --bg: #15181e; --panel: #1f232b; --line: #333a46;
          --ok: #6fcf8a; --bad: #ff8a80; --accent: #8ab4f8; }
  figure img { background: #ffffff; border-radius: 4px; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
       font: 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem 1rem 4rem; }
h1 { font-size: 1.9rem; line-height: 1.2; margin: 0.5rem 0 0.25rem; }
h2 { font-size: 1.35rem; line-height: 1.3; margin: 2.75rem 0 0.5rem; padding-top: 1rem;
     border-top: 1px solid var(--line); }
p { margin: 0.6rem 0; max-width: 46rem; overflow-wrap: break-word; }
a { color: var(--accent); }
code, pre { font: 0.86rem/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
p code, li code { background: var(--panel); padding: 0.05rem 0.3rem; border-radius: 3px;
                  overflow-wrap: anywhere; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
      padding: 0.75rem 0.9rem; overflow-x: auto; margin: 0; }
figure { margin: 1.25rem 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption, .caption { color: var(--muted); font-size: 0.9rem; margin-top: 0.4rem; }
.scroll { overflow-x: auto; margin: 1rem 0; }
table { border-collapse: collapse; font-size: 0.92rem; min-width: 50%; }
th, td { border-bottom: 1px solid var(--line); padding: 0.35rem 0.7rem; text-align: left;
         white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: var(--panel); }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 0.75rem; margin: 1rem 0; }
.pair > div { min-width: 0; }  /* a grid item would grow to its widest code line */
.pair h3 { font-size: 0.95rem; margin: 0 0 0.3rem; }
@media (max-width: 760px) { .pair { grid-template-columns: 1fr; } }
.claims { list-style: none; padding: 0; margin: 1rem 0; }
.claims li { padding: 0.3rem 0 0.3rem 1.7rem; position: relative; }
.claims li::before { position: absolute; left: 0.2rem; font-weight: 700; }
.claims li.ok::before { content: "\\2713"; color: var(--ok); }
.claims li.bad::before { content: "\\2717"; color: var(--bad); }
.claims li.bad { color: var(--bad); }
nav ol { padding-left: 1.4rem; columns: 2 16rem; margin: 0.5rem 0 0; }
.more { font-size: 0.92rem; color: var(--muted); }
.lead { color: var(--muted); }
"""


_NUMBER = re.compile(r"[-+\u2212]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+)?\s*(%|x|ms|s|KiB|MiB|kB)?",
                     re.IGNORECASE)


def _inline(text: str) -> str:
    """Escape, then `code` and **bold**."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _block(block) -> str:
    kind = block[0]
    if kind == "p":
        return f"<p>{_inline(block[1])}</p>"
    if kind == "figure":
        _, name, caption = block
        src = f"figures/{html.escape(name)}"  # a link, so a phone can open it full size
        return (f'<figure><a href="{src}"><img src="{src}" alt="{html.escape(caption)}"></a>'
                f"<figcaption>{_inline(caption)}</figcaption></figure>")
    if kind == "table":
        _, header, rows, caption = block
        head = "".join(f"<th>{_inline(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(
            f'<td class="num">{_inline(c)}</td>' if _NUMBER.fullmatch(c.strip())
            else f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rows)
        cap = f'<div class="caption">{_inline(caption)}</div>' if caption else ""
        return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>{cap}</div>")
    if kind == "code":
        _, source, caption = block
        cap = f'<div class="caption">{_inline(caption)}</div>' if caption else ""
        return f'<div class="scroll"><pre><code>{html.escape(source)}</code></pre>{cap}</div>'
    if kind == "pair":
        _, left, right = block
        cols = "".join(f"<div><h3>{_inline(t)}</h3><pre><code>{html.escape(s.rstrip())}"
                       "</code></pre></div>" for t, s in (left, right))
        return f'<div class="pair">{cols}</div>'
    raise ValueError(f"unknown report block {kind!r}")


def _tutorial_link(sec: Section) -> str:
    """A link to the docs tutorial that goes deeper: the built page when the site has
    been built (``make docs``), else the tutorial's source in the checkout, else its name."""
    name = sec.tutorial()
    if not name:
        return ""
    label = f"docs/tutorials/{name}.py"
    built = DOCS_DIR.parents[1] / "site" / "tutorials" / name / "index.html"
    for target in (built, DOCS_DIR / f"{name}.py"):
        if target.exists():
            return (f'<p class="more">Go deeper: the tutorial <a href="{target.as_uri()}">'
                    f"{html.escape(label)}</a>.</p>")
    return f'<p class="more">Go deeper: the tutorial <code>{html.escape(label)}</code>.</p>'


def write_html(sections, out: Path, title: str = "glassgrad: backpropagation, shown",
               lead: str = "") -> Path:
    """Write ``out/index.html`` from the sections; returns its path."""
    out = Path(out)
    toc = "".join(f'<li><a href="#{s.key}">{_inline(s.title)}</a></li>' for s in sections)
    parts = []
    for i, sec in enumerate(sections, 1):
        claims = "".join(
            f'<li class="{"ok" if c.ok else "bad"}">{_inline(c.text)}</li>' for c in sec.claims)
        body = "\n".join(_block(b) for b in sec.blocks)
        parts.append(
            f'<section id="{sec.key}"><h2>{i}. {_inline(sec.title)}</h2>\n{body}\n'
            + (f'<ul class="claims">{claims}</ul>' if claims else "")
            + _tutorial_link(sec) + "</section>")
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>{html.escape(title)}</h1>"
        + (f'<p class="lead">{_inline(lead)}</p>' if lead else "")
        + f"<nav><ol>{toc}</ol></nav>\n" + "\n".join(parts) + "</main></body></html>\n")
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
