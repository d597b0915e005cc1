"""Data-parallel training over MPI: steps per second on 1 and 2 ranks, and how much of
the gradient all-reduce DistributedDataParallel hides behind the backward pass.

Workload: the 784-256-256-10 ReLU MLP of bench_core.py (b), float32, softmax
cross-entropy, plain SGD, a fixed random global batch of 256 split evenly over the ranks
(so 1 rank does the work of the whole batch, 2 ranks half each), BLAS on one thread per
rank. Per configuration, the median over repeats of:

- **ddp step**: ``opt.zero_grad(); loss(ddp(x)).backward(); opt.step()``, the all-reduce
  overlapped with backward (DDP's buckets);
- **compute only** (2 ranks): the same step on the model without DDP (no communication);
- **all-reduce only** (2 ranks): one blocking all-reduce of every gradient, bucket by
  bucket, nothing else.

Exposed communication = ddp step - compute only; hidden share = 1 - exposed / all-reduce.

    .venv/bin/python bench/bench_distributed.py           # runs itself with 1 and 2 ranks
    .venv/bin/python bench/bench_distributed.py --quick   # smoke run
    mpiexec -n 2 .venv/bin/python bench/bench_distributed.py --rank-run  # one config
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import _single_thread  # noqa: F401  (before NumPy: one BLAS thread)
import numpy as np

import glassgrad as gg
from glassgrad import distributed as dist

GLOBAL_BATCH = 256


def _model(seed=0):
    gg.manual_seed(seed)
    nn = gg.nn
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def _median(fn, steps: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        dist.barrier()
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        times.append((time.perf_counter() - start) / steps)
    return float(np.median(times))


def rank_run(steps: int, repeats: int, bucket_mb: float) -> dict:
    """One configuration, inside mpiexec: returns rank 0's medians (seconds)."""
    rank, world = dist.init()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((GLOBAL_BATCH, 784)).astype(np.float32)
    y = rng.integers(0, 10, GLOBAL_BATCH)
    per = GLOBAL_BATCH // world
    xb, yb = gg.tensor(X[rank * per:(rank + 1) * per]), gg.tensor(y[rank * per:(rank + 1) * per])
    F = gg.nn.functional

    model = _model()
    ddp = gg.nn.parallel.DistributedDataParallel(model, bucket_mb=bucket_mb)
    opt = gg.optim.SGD(model.parameters(), lr=0.01)

    def ddp_step():
        opt.zero_grad()
        F.cross_entropy(ddp(xb), yb).backward()
        opt.step()

    plain = _model()
    plain_opt = gg.optim.SGD(plain.parameters(), lr=0.01)

    def compute_step():
        plain_opt.zero_grad()
        F.cross_entropy(plain(xb), yb).backward()
        plain_opt.step()

    grads = [np.ascontiguousarray(np.concatenate([p._data.ravel() for p in b.params]))
             for b in ddp._buckets]

    def allreduce_only():
        for g in grads:
            dist.all_reduce(g)

    for fn in (ddp_step, compute_step, allreduce_only):  # warm-up
        fn()
    out = {"world": world, "buckets": len(ddp._buckets),
           "grad_mb": sum(g.nbytes for g in grads) / 2**20}
    out["ddp_step"] = _median(ddp_step, steps, repeats)
    out["compute_only"] = _median(compute_step, steps, repeats)
    out["allreduce_only"] = _median(allreduce_only, steps, repeats) if world > 1 else 0.0
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few steps, one repeat")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--bucket-mb", type=float, default=0.25)
    parser.add_argument("--rank-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 3, 1
    if args.rank_run:
        result = rank_run(args.steps, args.repeats, args.bucket_mb)
        if dist.rank() == 0:
            print("RESULT " + json.dumps(result), flush=True)
        return 0
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) \
        or shutil.which("mpiexec")
    if mpiexec is None:
        print("bench_distributed: mpiexec not found (pip install -e '.[mpi]')",
              file=sys.stderr)
        return 2
    results = {}
    for n in (1, 2):
        cmd = [mpiexec, "-n", str(n), sys.executable, __file__, "--rank-run",
               "--steps", str(args.steps), "--repeats", str(args.repeats),
               "--bucket-mb", str(args.bucket_mb)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            print(done.stdout + done.stderr, file=sys.stderr)
            return 1
        line = next(s for s in done.stdout.splitlines() if s.startswith("RESULT "))
        results[n] = json.loads(line[7:])
    one, two = results[1], results[2]
    exposed = max(two["ddp_step"] - two["compute_only"], 0.0)
    hidden = 1 - exposed / two["allreduce_only"] if two["allreduce_only"] > 0 else 0.0
    print(f"784-256-256-10 MLP, float32, global batch {GLOBAL_BATCH}, "
          f"{two['grad_mb']:.2f} MiB of gradients in {two['buckets']} buckets "
          f"(bucket_mb={args.bucket_mb}), median of {args.repeats} x {args.steps} steps")
    print(f"{'ranks':>5} {'ms/step':>9} {'steps/s':>9} {'speed-up':>9}")
    for n, r in results.items():
        print(f"{n:5d} {r['ddp_step'] * 1e3:9.2f} {1 / r['ddp_step']:9.1f} "
              f"{one['ddp_step'] / r['ddp_step']:8.2f}x")
    print(f"2 ranks: compute only {two['compute_only'] * 1e3:.2f} ms, all-reduce only "
          f"{two['allreduce_only'] * 1e3:.2f} ms, exposed communication "
          f"{exposed * 1e3:.2f} ms: {100 * max(hidden, 0):.0f}% of the all-reduce hidden "
          "behind backward")
    return 0


if __name__ == "__main__":
    sys.exit(main())
