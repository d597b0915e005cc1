"""The ``glassgrad`` command (also ``python -m glassgrad``).

Commands so far:

- ``glassgrad demo [args]`` — the lessons of ``make demo`` (see ``glassgrad.demo``);
- ``glassgrad compile FILE:NAME [--out PATH]`` — print (or save) the NumPy source that
  ``gg.compile`` wrote for the compiled step ``NAME`` defined in ``FILE``: a
  ``gg.compile(fn, *example_args)`` object, which traced when it was made.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

from . import demo
from .compile import Compiled

__all__ = ["main"]


def _load(spec: str):
    """``FILE:NAME`` -> the object ``NAME`` of the module ``FILE`` (run as a script)."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise SystemExit(f"glassgrad: expected FILE:NAME (e.g. train.py:step), got {spec!r}")
    if not Path(path).is_file():
        raise SystemExit(f"glassgrad: no such file: {path}")
    sys.path.insert(0, str(Path(path).resolve().parent))
    try:
        namespace = runpy.run_path(path, run_name="__glassgrad__")
    finally:
        sys.path.pop(0)
    if name not in namespace:
        raise SystemExit(f"glassgrad: {path} defines no {name!r}")
    return namespace[name]


def _compile(args) -> int:
    obj = _load(args.target)
    if not isinstance(obj, Compiled):
        raise SystemExit(f"glassgrad compile: {args.target} is a {type(obj).__name__}, not a "
                         "compiled step; define it as `step = gg.compile(loss_fn, x, y)` "
                         "(example arguments trace it)")
    if obj._last is None:
        raise SystemExit(f"glassgrad compile: {args.target} has not been traced; give "
                         "gg.compile example arguments: gg.compile(loss_fn, x, y)")
    if args.out:
        print(f"wrote {obj.save(args.out)}")
    else:
        print(obj.source, end="")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="glassgrad", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("compile", help="print the NumPy source of a gg.compile step")
    p.add_argument("target", help="FILE:NAME, NAME a gg.compile(...) step defined in FILE")
    p.add_argument("--out", help="write a standalone module (NumPy only) instead")
    p.set_defaults(run=_compile)
    d = sub.add_parser("demo", help="the lessons of `make demo`", add_help=False)
    d.add_argument("rest", nargs=argparse.REMAINDER)
    d.set_defaults(run=lambda a: demo.main(a.rest) or 0)
    args = parser.parse_args(argv)
    return args.run(args)
