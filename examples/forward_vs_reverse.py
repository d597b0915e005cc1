"""Forward vs reverse mode: when does each win?

The Jacobian of f: R^n -> R^m costs n forward-mode passes (``jacfwd``: push one tangent
per input direction) or m reverse-mode passes (``jacrev``: pull one cotangent per output).
This script times both for a small network f(x) = W2 tanh(W1 x) on either side of the
crossover n = m, prints the table and, with matplotlib, draws the curves.

    python examples/forward_vs_reverse.py            # table + docs/forward-vs-reverse.png
    python examples/forward_vs_reverse.py --fast     # a quick table, no picture
"""

from __future__ import annotations

import argparse

from glassgrad.demo import crossover, plot_crossover


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="small sizes, no picture")
    parser.add_argument("--plot", default="docs/forward-vs-reverse.png")
    args = parser.parse_args(argv)
    if args.fast:
        return crossover(sizes=[(2, 32), (32, 2)], repeats=1)
    rows = crossover()
    plot_crossover(args.plot)
    print(f"picture: {args.plot}")
    return rows


if __name__ == "__main__":
    main()
