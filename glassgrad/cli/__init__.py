"""The ``glassgrad`` command (also ``python -m glassgrad``).

- ``glassgrad demo [--out DIR] [--fast] [--open]`` — every lesson of the seed page, run
  on the engine, as a terminal summary and an HTML report (see :mod:`glassgrad.demo`);
- ``glassgrad train --data NAME --model {mlp,cnn} ...`` and ``glassgrad eval FILE`` —
  train a small model with a progress bar, per-epoch metrics, ``--monitor`` and
  ``--compile``; ``--save`` a file that ``eval`` reloads (:mod:`._train`);
- ``glassgrad gradcheck FILE:NAME`` — check a Function, Module or function's backward,
  and name the op that is wrong (:mod:`._gradcheck`);
- ``glassgrad graph "EXPR" --set x=2 ...`` — draw an expression's graph with values and
  gradients (:mod:`._graph`);
- ``glassgrad compile FILE:NAME [--out PATH]`` — print (or save) the NumPy source that
  ``gg.compile`` wrote for the compiled step ``NAME`` defined in ``FILE``.

Bad input ends with one line on stderr naming the command and what to do, exit status 2.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

from .. import demo
from ..compile import Compiled
from ._gradcheck import add_command as _add_gradcheck
from ._gradcheck import gradcheck_target
from ._graph import ExpressionError
from ._graph import add_command as _add_graph
from ._train import UsageError
from ._train import add_commands as _add_train

__all__ = ["main"]


def _load(spec: str):
    """``FILE:NAME`` -> the object ``NAME`` of the module ``FILE`` (run as a script)."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise UsageError(f"expected FILE:NAME (e.g. train.py:step), got {spec!r}")
    if not Path(path).is_file():
        raise UsageError(f"no such file: {path}")
    sys.path.insert(0, str(Path(path).resolve().parent))
    try:
        namespace = runpy.run_path(path, run_name="__glassgrad__")
    finally:
        sys.path.pop(0)
    if name not in namespace:
        raise UsageError(f"{path} defines no {name!r}")
    return namespace[name]


def _compile(args) -> int:
    obj = _load(args.target)
    if not isinstance(obj, Compiled):
        raise UsageError(f"{args.target} is a {type(obj).__name__}, not a compiled step; "
                         "define it as `step = gg.compile(loss_fn, x, y)` (example "
                         "arguments trace it)")
    if obj._last is None:
        raise UsageError(f"{args.target} has not been traced; give gg.compile example "
                         "arguments: gg.compile(loss_fn, x, y)")
    if args.out:
        print(f"wrote {obj.save(args.out)}")
    else:
        print(obj.source, end="")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="glassgrad", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    d = sub.add_parser("demo", help="every lesson of the seed page, as a report",
                       add_help=False)
    d.add_argument("rest", nargs=argparse.REMAINDER)
    d.set_defaults(run=lambda a: demo.main(a.rest))
    _add_train(sub)
    _add_gradcheck(sub, lambda a: gradcheck_target(a, _load))
    _add_graph(sub)
    p = sub.add_parser("compile", help="print the NumPy source of a gg.compile step")
    p.add_argument("target", help="FILE:NAME, NAME a gg.compile(...) step defined in FILE")
    p.add_argument("--out", help="write a standalone module (NumPy only) instead")
    p.set_defaults(run=_compile)
    return top


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["demo"]:  # the demo parses its own options (and its own --help)
        return demo.main(argv[1:])
    args = parser().parse_args(argv)
    args.argv = argv  # `train --nproc N` reruns itself under mpiexec
    try:
        return args.run(args)
    except (UsageError, ExpressionError, ValueError) as err:
        print(f"glassgrad {args.command}: {err}", file=sys.stderr)
        return 2
