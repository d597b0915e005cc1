"""``glassgrad demo`` (``make demo``): every lesson of the seed page, run on the engine.

In order, each a section of the report: the chain rule on one number, computational
graphs, forward vs reverse mode, the 2-layer sigmoid MLP by hand and by the engine, XOR
solved, gradient checking, vanishing and exploding gradients, debugging, the PyTorch and
TensorFlow styles, and modifying gradient flow. Every statement the report makes is a
*claim* checked by the computation (see :mod:`glassgrad.lessons`); the terminal shows
them, ``--out`` (default ``./glassgrad-report``) gets ``index.html`` with every figure, and
the command exits non-zero if a claim failed.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import webbrowser
from pathlib import Path

from .lessons import Context, Section, write_html
from .lessons.checking import gradcheck
from .lessons.debugging import debugging
from .lessons.flow import flow
from .lessons.mlp import mlp, xor
from .lessons.modes import modes
from .lessons.scalar import chain_rule, graphs
from .lessons.styles import styles
from .lessons.vanishing import vanishing

__all__ = ["LESSONS", "run", "main"]

LESSONS = (chain_rule, graphs, modes, mlp, xor, gradcheck, vanishing, debugging, styles,
           flow)

LEAD = ("Backpropagation with the lid off: each section below ran on glassgrad when this "
        "page was written, and every sentence marked with a tick is a check the "
        "computation passed.")


def _progress_bar():
    """tqdm's bar factory, or None where tqdm is not installed (plain lines then)."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


def run(out, fast: bool = False, seed: int = 0, only=None, quiet: bool = False) -> list:
    """Run the lessons (those whose key is in ``only``, if given) and return their
    :class:`Section` s. A lesson that raises becomes a section with a failed claim and
    the traceback, so one broken lesson does not hide the others."""
    bar_factory = None if quiet else _progress_bar()
    inner = None
    if bar_factory is not None:
        def inner(iterable, desc):
            return bar_factory(iterable, desc=f"  {desc}", leave=False, mininterval=0.5)
    ctx = Context(out, fast=fast, seed=seed, progress=inner)
    chosen = [f for f in LESSONS if only is None or _key(f) in only]
    sections = []
    lessons = chosen if bar_factory is None else bar_factory(chosen, desc="lessons",
                                                              unit="lesson")
    for i, lesson in enumerate(lessons, 1):
        if bar_factory is None and not quiet:
            print(f"[{i}/{len(chosen)}] {lesson.__name__} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            sec = lesson(ctx)
        except Exception as err:  # noqa: BLE001 - reported as a failed section
            sec = Section(_key(lesson), f"{lesson.__name__} (failed)", ctx)
            sec.claim(f"the lesson ran ({type(err).__name__}: {err})", False)
            sec.code(traceback.format_exc(), "what went wrong")
        sec.facts["seconds"] = time.perf_counter() - start
        sections.append(sec)
    return sections


_KEYS = {"chain_rule": "chain-rule"}


def _key(lesson) -> str:
    return _KEYS.get(lesson.__name__, lesson.__name__)


def summary(sections) -> str:
    """The terminal summary: each section's title and its claims, ticked or crossed."""
    utf8 = (getattr(sys.stdout, "encoding", "") or "").lower().replace("-", "") == "utf8"
    yes, no = ("\u2713", "\u2717") if utf8 else ("ok", "FAIL")
    lines = []
    for i, sec in enumerate(sections, 1):
        lines.append(f"{i:2d}. {sec.title}  ({sec.facts.get('seconds', 0):.1f} s)")
        lines.extend(f"    {yes if c.ok else no} {c.text}" for c in sec.claims)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="glassgrad demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="glassgrad-report",
                        help="folder for the report (index.html and figures/)")
    parser.add_argument("--fast", action="store_true",
                        help="small sizes, for CI (the same claims are checked)")
    parser.add_argument("--open", action="store_true", help="open the report in a browser")
    parser.add_argument("--seed", type=int, default=0)
    keys = [_key(f) for f in LESSONS]
    parser.add_argument("--only", nargs="+", choices=keys, metavar="LESSON",
                        help=f"run only these lessons ({', '.join(keys)})")
    args = parser.parse_args(argv)
    out = Path(args.out)
    sections = run(out, fast=args.fast, seed=args.seed, only=args.only)
    print(summary(sections))
    page = write_html(sections, out, lead=LEAD)
    failed = [c.text for s in sections for c in s.claims if not c.ok]
    print(f"\nreport: {page.resolve()}")
    if args.open:
        webbrowser.open(page.resolve().as_uri())
    if failed:
        print(f"{len(failed)} claim(s) did not hold: see above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
