"""Memory benchmark: activation checkpointing on a deep MLP.

A 32-layer MLP (``Linear(256, 256)`` + ReLU per layer), batch 64, float32, a
``(h ** 2).mean()`` loss. One forward + backward is run twice on the same weights and
data:

* plain: every layer's saved values live until backward;
* checkpointed: ``gg.autograd.checkpoint`` around every block of 4 layers, so only the
  8 block inputs are kept and each block's activations are recomputed in backward.

Peak memory is measured with ``tracemalloc`` (NumPy reports its array buffers to it),
from just before the forward to the end of the backward, relative to what was allocated
before (weights, data). Both runs start with ``.grad`` cleared, so both pay for the
gradients (8.0 MiB for 32 x 256 x 256 float32 weights). Also printed: what the live
graph keeps for backward (``saved_tensors_summary``) just before ``backward()``, and
the check that the gradients of the two runs are identical (bit for bit).

Run: ``.venv/bin/python bench/bench_memory.py`` (``--layers``, ``--width``, ``--batch``,
``--every`` change the sizes).
"""

import argparse
import gc
import time
import tracemalloc

import _single_thread  # noqa: F401  (first: one BLAS thread, this checkout's glassgrad)
import numpy as np  # noqa: E402

import glassgrad as gg  # noqa: E402
from glassgrad.autograd.checkpoint import checkpoint, saved_tensors_summary  # noqa: E402


def build(layers, width, seed=0):
    gg.manual_seed(seed)
    mods = []
    for _ in range(layers):
        mods += [gg.nn.Linear(width, width), gg.nn.ReLU()]
    return gg.nn.Sequential(*mods)


def step(model, x, every):
    """One forward + backward: (held after forward, peak, saved summary, seconds); the
    memory figures are bytes above what was allocated at the start."""
    for p in model.parameters():
        p.grad = None
    gc.collect()
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    if every:
        n = len(model) // (2 * every)
        blocks = [model[2 * every * i: 2 * every * (i + 1)] for i in range(n)]
        h = x
        for block in blocks:
            h = checkpoint(block, h)
    else:
        h = model(x)
    loss = (h ** 2).mean()
    held = tracemalloc.get_traced_memory()[0] - start
    saved = saved_tensors_summary(loss)
    loss.backward()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] - start
    del h, loss
    return held, peak, saved, seconds


def mib(n):
    return f"{n / 2**20:7.2f} MiB"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--every", type=int, default=4, help="layers per checkpointed block")
    args = ap.parse_args()
    if args.layers % args.every:
        ap.error("--layers must be a multiple of --every")

    model = build(args.layers, args.width)
    x = gg.tensor(np.random.default_rng(1).normal(size=(args.batch, args.width))
                  .astype(np.float32))
    act = args.batch * args.width * 4
    print(f"MLP: {args.layers} x (Linear({args.width}, {args.width}) + ReLU), batch "
          f"{args.batch}, float32; one activation is {mib(act)}, the weights "
          f"{mib(sum(p.numpy().nbytes for p in model.parameters()))}")

    tracemalloc.start()
    try:
        step(model, x, 0)  # warm-up (first-call allocations of the library)
        plain_held, plain_peak, plain_saved, plain_s = step(model, x, 0)
        plain_grads = [p.grad.numpy().copy() for p in model.parameters()]
        ck_held, ck_peak, ck_saved, ck_s = step(model, x, args.every)
        ck_grads = [p.grad.numpy().copy() for p in model.parameters()]
    finally:
        tracemalloc.stop()

    for i, (a, b) in enumerate(zip(plain_grads, ck_grads)):
        np.testing.assert_array_equal(a, b, err_msg=f"gradient of parameter {i}")
    print(f"gradients: identical bit for bit ({len(plain_grads)} parameters)")
    print()
    print(f"{'':>22}  {'after forward':>14}  {'peak fwd+bwd':>14}  "
          f"{'saved (own)':>12}  {'nodes':>6}  {'time':>8}")
    rows = (("plain", plain_held, plain_peak, plain_saved, plain_s),
            (f"checkpoint every {args.every}", ck_held, ck_peak, ck_saved, ck_s))
    for name, held, peak, saved, s in rows:
        own = saved.total_bytes - saved.leaf_bytes
        print(f"{name:>22}  {mib(held):>14}  {mib(peak):>14}  {mib(own):>12}  "
              f"{saved.nodes:>6}  {s * 1e3:6.1f} ms")
    print()
    print(f"plain / checkpointed: after forward {plain_held / ck_held:.2f}x, "
          f"peak {plain_peak / ck_peak:.2f}x")
    print("(after forward: what the step holds when backward starts, the graph's saved "
          "values and the loss; peak: the most at any moment of forward + backward, "
          "including the new .grad arrays; saved (own): saved_tensors_summary's total less "
          "the parameters' arrays and their views)")
    print()
    print("what the plain graph keeps:")
    print(plain_saved)
    print()
    print("what the checkpointed graph keeps:")
    print(ck_saved)


if __name__ == "__main__":
    main()
