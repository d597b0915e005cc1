"""A reversible residual stack (RevNet): backward rebuilds the activations, so forward keeps none.

An additive coupling block splits its input in two halves and computes

    y1 = x1 + F(x2)
    y2 = x2 + G(y1)

with F and G any functions (here small MLPs of ``gg.nn`` layers). The block can be run
backwards exactly, from its outputs alone:

    x2 = y2 - G(y1)
    x1 = y1 - F(x2)

so a stack of such blocks never needs to keep what went *into* a block: backward can
recompute it from what came *out*. Here the whole stack is one ``gg.autograd.Function``
(:class:`ReversibleStack`) whose forward runs the blocks without recording a graph and
keeps only the final outputs. Its backward walks the blocks from last to first; for each
block it

1. reconstructs the block's inputs from its outputs (no graph needed: plain arithmetic),
2. re-runs G on ``y1`` and F on ``x2`` *with* recording, and asks ``gg.autograd.grad``
   for the vector-Jacobian products it needs. With ``gy1, gy2`` the cotangents of the
   block's outputs, the chain rule through the two assignments above gives

       gy1_total = gy1 + (dG/dy1)^T gy2        (y1 feeds y2 through G)
       gx1       = gy1_total                   (y1 = x1 + ...)
       gx2       = gy2 + (dF/dx2)^T gy1_total  (x2 feeds y1 through F, and y2 directly)
       dθ_G      = (dG/dθ_G)^T gy2,   dθ_F = (dF/dθ_F)^T gy1_total

3. passes ``gx1, gx2`` on to the block before it (they are that block's ``gy1, gy2``).

The parameters of every F and G are arguments of the Function, so the engine accumulates
the returned parameter gradients into their ``.grad`` as for any op (and
``gg.autograd.grad`` can ask for them too). The memory for activations is then that of
one block's recomputation, whatever the depth, where a plain stack keeps every block's
hidden activations until backward reaches it; the price is one extra forward of F and G
per block. Reconstruction is exact up to rounding (a subtraction undoing an addition), so
in float64 the gradients equal the plain stack's to ~1e-12.

Run: ``python examples/reversible_block.py`` (a 32-block stack) or with ``--fast`` /
``--quick`` (a small stack, for CI). It prints the largest gradient difference against the
plain stack and the peak memory (tracemalloc) of forward + backward both ways.
"""

from __future__ import annotations

import argparse
import tracemalloc

import numpy as np

import glassgrad as gg


def mlp(dim: int, hidden: int) -> gg.nn.Module:
    """The residual function of one half: Linear -> Tanh -> Linear."""
    return gg.nn.Sequential(gg.nn.Linear(dim, hidden), gg.nn.Tanh(), gg.nn.Linear(hidden, dim))


def make_blocks(n_blocks: int, dim: int, hidden: int, seed: int = 0) -> list:
    """``n_blocks`` pairs (F, G) of float64 MLPs acting on halves of width ``dim``."""
    gg.manual_seed(seed)
    return [(mlp(dim, hidden).double(), mlp(dim, hidden).double()) for _ in range(n_blocks)]


def block_parameters(blocks) -> list:
    """All parameters in the order :class:`ReversibleStack` takes them: F's, then G's,
    block after block."""
    return [p for f, g in blocks for m in (f, g) for p in m.parameters()]


def plain_stack(x1, x2, blocks):
    """The same computation, recorded op by op: every hidden activation is kept."""
    for f, g in blocks:
        x1 = x1 + f(x2)
        x2 = x2 + g(x1)
    return x1, x2


class ReversibleStack(gg.autograd.Function):
    """Additive coupling blocks whose backward reconstructs inputs instead of storing them.

    ``ReversibleStack.apply(x1, x2, blocks, *params)``: ``blocks`` a list of ``(F, G)``
    modules, ``params`` their parameters in :func:`block_parameters` order (passed so
    that the engine routes their gradients). Returns ``(y1, y2)``.
    """

    @staticmethod
    def forward(ctx, x1, x2, blocks, *params):
        # Runs without recording (Function.forward always does): nothing is kept but
        # the outputs, saved below.
        for f, g in blocks:
            x1 = x1 + f(x2)
            x2 = x2 + g(x1)
        ctx.blocks = blocks
        ctx.save_for_backward(x1, x2)
        return x1, x2

    @staticmethod
    def backward(ctx, gy1, gy2):
        y1, y2 = ctx.saved_tensors
        y1, y2 = y1.detach(), y2.detach()
        param_grads = []
        for f, g in reversed(ctx.blocks):
            g_params, f_params = list(g.parameters()), list(f.parameters())
            with gg.enable_grad():
                # G's step: y2 = x2 + G(y1)
                y1r = y1.detach().requires_grad_()
                g_out = g(y1r)
                dy1, *dg = gg.autograd.grad(g_out, [y1r, *g_params], grad_outputs=gy2)
                x2 = (y2 - g_out).detach()   # reconstructed input half 2
                gy1 = gy1 + dy1
                # F's step: y1 = x1 + F(x2)
                x2r = x2.requires_grad_()
                f_out = f(x2r)
                dx2, *df = gg.autograd.grad(f_out, [x2r, *f_params], grad_outputs=gy1)
                x1 = (y1 - f_out).detach()   # reconstructed input half 1
            gy2 = gy2 + dx2
            param_grads.append(df + dg)
            y1, y2 = x1, x2
        flat = [p for block in reversed(param_grads) for p in block]
        return (gy1, gy2, None, *flat)


def reversible_stack(x1, x2, blocks):
    """``(y1, y2)`` of the stack, through :class:`ReversibleStack`."""
    return ReversibleStack.apply(x1, x2, blocks, *block_parameters(blocks))


def _loss(y1, y2):
    return (y1 * y1).sum() + (y2 * y2.tanh()).sum()


def gradient_difference(n_blocks: int = 4, dim: int = 6, hidden: int = 12, batch: int = 5,
                        seed: int = 0) -> float:
    """Largest |difference| between the reversible and the plain stack's gradients (inputs
    and every parameter), float64, on the same weights and data."""
    blocks = make_blocks(n_blocks, dim, hidden, seed)
    params = block_parameters(blocks)
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((batch, dim)), rng.standard_normal((batch, dim))
    results = []
    for run in (plain_stack, reversible_stack):
        x1, x2 = gg.tensor(a, requires_grad=True), gg.tensor(b, requires_grad=True)
        for p in params:
            p.grad = None
        _loss(*run(x1, x2, blocks)).backward()
        results.append([x1.grad.numpy(), x2.grad.numpy()] + [p.grad.numpy() for p in params])
    return max(float(np.max(np.abs(u - v))) for u, v in zip(*results))


def peak_memory(run, n_blocks: int, dim: int, hidden: int, batch: int, seed: int = 0) -> int:
    """Peak bytes traced by tracemalloc during one forward + backward of ``run``."""
    blocks = make_blocks(n_blocks, dim, hidden, seed)
    rng = np.random.default_rng(seed)
    x1 = gg.tensor(rng.standard_normal((batch, dim)), requires_grad=True)
    x2 = gg.tensor(rng.standard_normal((batch, dim)), requires_grad=True)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        _loss(*run(x1, x2, blocks)).backward()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=32)
    parser.add_argument("--dim", type=int, default=32, help="width of each half")
    parser.add_argument("--hidden", type=int, default=256, help="width inside F and G")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fast", "--quick", action="store_true", dest="fast",
                        help="a small stack, for CI")
    args = parser.parse_args(argv)
    if args.fast:
        args.blocks, args.dim, args.hidden, args.batch = 8, 16, 128, 64

    diff = gradient_difference(seed=args.seed)
    print(f"reversible vs plain stack gradients (float64): max |diff| = {diff:.1e}")
    sizes = (args.blocks, args.dim, args.hidden, args.batch, args.seed)
    plain = peak_memory(plain_stack, *sizes)
    rev = peak_memory(reversible_stack, *sizes)
    print(f"peak memory, forward + backward of {args.blocks} blocks "
          f"(halves {args.dim}, hidden {args.hidden}, batch {args.batch}):")
    print(f"  plain      {plain / 2**20:8.2f} MiB")
    print(f"  reversible {rev / 2**20:8.2f} MiB  ({rev / plain:.0%} of plain)")
    assert diff < 1e-10, f"reversible gradients differ from the plain ones by {diff:.1e}"
    return {"max_grad_diff": diff, "plain_peak": plain, "reversible_peak": rev}


if __name__ == "__main__":
    main()
