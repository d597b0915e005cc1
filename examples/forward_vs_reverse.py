"""Forward vs reverse mode: when does each win?

The Jacobian of f: R^n -> R^m costs n forward-mode passes (``jacfwd``: push one tangent
per input direction) or m reverse-mode passes (``jacrev``: pull one cotangent per output).
This script runs the demo's lesson on it (``glassgrad.lessons.modes``): it times both for
a small network f(x) = W2 tanh(W1 x) as n grows and as m grows, prints the two ends of
the sweep and what they show, and draws the curves into ``--out``.

    python examples/forward_vs_reverse.py --out pictures     # pictures/figures/*.png
    python examples/forward_vs_reverse.py --fast             # a quick sweep
"""

from __future__ import annotations

import argparse

from glassgrad.lessons import Context
from glassgrad.lessons.modes import modes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="a short sweep, one repeat")
    parser.add_argument("--out", default="forward-vs-reverse",
                        help="folder for the picture (default ./forward-vs-reverse)")
    args = parser.parse_args(argv)
    section = modes(Context(args.out, fast=args.fast))
    for kind, *content in section.blocks:
        if kind == "table":
            header, rows, _ = content
            print("  ".join(f"{h:>22}" for h in header))
            for row in rows:
                print("  ".join(f"{c:>22}" for c in row))
    for claim in section.claims:
        print(("ok   " if claim.ok else "FAIL ") + claim.text)
    print(f"picture: {args.out}/figures/{section.figures()[0]}")
    assert section.passed, "a claim of the lesson did not hold"
    return section


if __name__ == "__main__":
    main()
