"""CNN benchmark: glassgrad against a hand-written NumPy im2col floor and PyTorch eager.

The workload (issue 4): a small CNN trained for 20 plain-SGD steps on one fixed batch,
float32, written three times with the same math and the same start::

    x (32, 1, 28, 28) -> conv 3x3, 8 filters -> ReLU -> 2x2 max-pool -> flatten (1352)
      -> linear to 10 -> softmax cross-entropy (mean) ; SGD lr 0.1

* glassgrad: the PyTorch way, ``gg.nn`` modules, ``F.cross_entropy``, ``gg.optim.SGD``;
  the models are built once, each timed run loads the start state into them;
* PyTorch eager: the same modules (one thread);
* NumPy: the floor. im2col through ``sliding_window_view`` and one matmul per image,
  then the whole backward derived by hand, no graph at all.

Before timing, every implementation runs once (also the warm-up) and its final
parameters and loss are checked against the floor, so the script cannot time wrong code.

The allocator matters as much as the code. glibc's malloc serves blocks above a
threshold (128 KiB at start) with fresh ``mmap``s and returns free memory at the top of
its heap to the OS; it raises both thresholds only after a *larger* block is freed. This
network's arrays are at most 0.8 MB, so in a fresh process the thresholds stay low and
memory a step frees goes back to the OS, to be page-faulted in again next step. The
floor frees its arrays gradually (each is replaced by the next step's), glassgrad frees
a whole step's saved activations at once when backward releases the graph, so it pays
far more of this. Two rows are timed, in this order:

* ``default malloc``: NumPy and glassgrad in the fresh process (torch not yet run),
  what a user's process without big arrays gets;
* ``warmed malloc``: after one 16 MiB block is allocated and freed (as any large array,
  or running torch, does), all three: the compute itself. (glibc caps the adaptive
  threshold at 32 MiB; a block of 32 MiB or more would not raise it.)

    .venv/bin/python bench/bench_cnn.py             # full run (about a minute)
    .venv/bin/python bench/bench_cnn.py --quick     # smoke run, a few seconds
    .venv/bin/python bench/bench_cnn.py --profile   # cProfile of the glassgrad run
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# One BLAS thread, set before NumPy or torch is imported (the pools read these at load).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
# Benchmark this checkout's glassgrad whether or not it is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from _timing import environment_lines, measure, median_ms, profile  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

import glassgrad as gg  # noqa: E402
import glassgrad.nn.functional as F  # noqa: E402

try:
    import torch
except ImportError:  # torch is a dev dependency; without it the torch column is skipped
    torch = None
else:
    torch.set_num_threads(1)

Arrays = dict[str, np.ndarray]
NAMES = ("conv.weight", "conv.bias", "fc.weight", "fc.bias")
N, C_OUT, K, HW = 32, 8, 3, 28
LR = 0.1
TARGET = 1.2  # the ceiling for glassgrad / numpy
TORCH_REFERENCE = 0.6  # the measured torch / numpy (oneDNN)


def make_start(seed: int = 0) -> tuple[Arrays, np.ndarray, np.ndarray]:
    """Initial parameters (PyTorch's default uniform bounds), one batch and its labels."""
    rng = np.random.default_rng(seed)
    ho = HW - K + 1
    feat = C_OUT * (ho // 2) ** 2
    b_conv, b_fc = 1 / np.sqrt(K * K), 1 / np.sqrt(feat)
    start = {
        "conv.weight": rng.uniform(-b_conv, b_conv, (C_OUT, 1, K, K)),
        "conv.bias": rng.uniform(-b_conv, b_conv, C_OUT),
        "fc.weight": rng.uniform(-b_fc, b_fc, (10, feat)),
        "fc.bias": rng.uniform(-b_fc, b_fc, 10),
    }
    start = {k: v.astype(np.float32) for k, v in start.items()}
    x = rng.standard_normal((N, 1, HW, HW)).astype(np.float32)
    labels = rng.integers(0, 10, N)
    return start, x, labels


# --------------------------------------------------------------------------------------
# The floor: hand-written NumPy, forward and backward
# --------------------------------------------------------------------------------------

def cnn_numpy(start: Arrays, x: np.ndarray, labels: np.ndarray, steps: int) -> Arrays:
    wc, bc, wf, bf = (start[k].copy() for k in NAMES)
    n = x.shape[0]
    ho = x.shape[2] - K + 1
    rows = np.arange(n)
    offsets = [(i, j) for i in range(2) for j in range(2)]
    for _ in range(steps):
        # forward. im2col every step, as a real loop over batches must: (N, C*K*K, Ho*Wo)
        win = sliding_window_view(x, (K, K), axis=(2, 3))  # (N, C, Ho, Wo, K, K), a view
        cols = np.ascontiguousarray(win.transpose(0, 1, 4, 5, 2, 3)).reshape(n, -1, ho * ho)
        z = np.matmul(wc.reshape(C_OUT, -1), cols)  # (N, 8, Ho*Wo)
        z += bc[:, None]
        z = z.reshape(n, C_OUT, ho, ho)
        a = np.maximum(z, 0)
        p = a[:, :, 0::2, 0::2].copy()  # 2x2 max-pool: max of the four strided slices
        for i, j in offsets[1:]:
            np.maximum(p, a[:, :, i::2, j::2], out=p)
        flat = p.reshape(n, -1)
        logits = flat @ wf.T + bf
        m = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - m)
        s = e.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) + m[:, 0] - logits[rows, labels])
        # backward: softmax - onehot, then each layer by hand
        dlogits = e / s
        dlogits[rows, labels] -= 1
        dlogits /= n
        gwf = dlogits.T @ flat
        gbf = dlogits.sum(axis=0)
        dp = (dlogits @ wf).reshape(p.shape)
        da = np.empty_like(a)  # pool: the gradient goes where the max was (ties: all,
        for i, j in offsets:  # which only happens at 0 here, where ReLU blocks it)
            np.multiply(a[:, :, i::2, j::2] == p, dp, out=da[:, :, i::2, j::2])
        dz = (da * (z > 0)).reshape(n, C_OUT, -1)
        gwc = np.matmul(dz, cols.transpose(0, 2, 1)).sum(axis=0).reshape(wc.shape)
        gbc = dz.sum(axis=(0, 2))
        for param, grad in ((wc, gwc), (bc, gbc), (wf, gwf), (bf, gbf)):
            param -= LR * grad
    return {"loss": np.asarray(loss, dtype=np.float32), "conv.weight": wc, "conv.bias": bc,
            "fc.weight": wf, "fc.bias": bf}


# --------------------------------------------------------------------------------------
# glassgrad and PyTorch: the same modules
# --------------------------------------------------------------------------------------

def gg_model():
    nn = gg.nn
    return nn.Sequential(nn.Conv2d(1, C_OUT, K), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(C_OUT * ((HW - K + 1) // 2) ** 2, 10))


def cnn_glassgrad(model, start: Arrays, x: np.ndarray, labels: np.ndarray,
                  steps: int) -> Arrays:
    model.load_state_dict(_gg_state(start))
    opt = gg.optim.SGD(model.parameters(), lr=LR)
    xb, target = gg.tensor(x), gg.tensor(labels)
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), target)
        loss.backward()
        opt.step()
    state = model.state_dict()
    return {"loss": loss.numpy().copy(), **{k: _gg_array(state[_gg_key(k)]) for k in NAMES}}


def _gg_key(name: str) -> str:
    return name.replace("conv", "0").replace("fc", "4")


def _gg_state(start: Arrays) -> dict:
    return {_gg_key(k): gg.tensor(v.copy()) for k, v in start.items()}


def _gg_array(t) -> np.ndarray:
    return np.array(getattr(t, "_data", t))


def torch_model():
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, C_OUT, K), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(C_OUT * ((HW - K + 1) // 2) ** 2, 10))


def cnn_torch(model, start: Arrays, x: np.ndarray, labels: np.ndarray, steps: int) -> Arrays:
    model.load_state_dict({_gg_key(k): torch.tensor(v) for k, v in start.items()})
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    xb, target = torch.from_numpy(x), torch.from_numpy(labels)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xb), target)
        loss.backward()
        opt.step()
    state = model.state_dict()
    return {"loss": loss.detach().numpy().copy(),
            **{k: state[_gg_key(k)].numpy().copy() for k in NAMES}}


# --------------------------------------------------------------------------------------
# Harness
# --------------------------------------------------------------------------------------

def check_agreement(results: dict[str, Arrays], start: Arrays, rtol: float = 2e-3) -> None:
    """Every implementation's loss and trained updates must match the NumPy floor."""
    floor = results["numpy"]
    for name, got in results.items():
        for key, want in floor.items():
            have = got[key]
            assert have.shape == want.shape, f"{name} {key}: shape {have.shape} vs {want.shape}"
            if key in start:  # compare what training did, not the shared start
                have, want = have - start[key], want - start[key]
            err = np.max(np.abs(have - want)) / max(np.max(np.abs(want)), 1e-30)
            assert err <= rtol, (f"{name} disagrees with numpy on {key!r}: relative error "
                                 f"{err:.2e} > {rtol:.0e}")


def warm_malloc() -> None:
    """Allocate and free one 16 MiB block: glibc then keeps freed memory in the process
    (its adaptive mmap and trim thresholds rise to that size), see the module docstring."""
    block = np.ones(16 * 2**20 // 8)
    del block


def print_table(rows: list[tuple[str, dict[str, float]]], repeats: int, quick: bool) -> None:
    header = (f"{'workload (32x1x28x28 float32)':<48}{'numpy ms':>10}{'glassgrad ms':>14}"
              f"{'torch ms':>10}{'gg/np':>8}{'torch/np':>10}{'target':>9}")
    print(header)
    print("-" * len(header))
    for title, ms in rows:
        floor = ms["numpy"]
        torch_ms = f"{ms['torch']:10.1f}" if "torch" in ms else f"{'-':>10}"
        torch_ratio = f"{ms['torch'] / floor:9.2f}x" if "torch" in ms else f"{'-':>10}"
        ratio = ms["glassgrad"] / floor
        verdict = "meets target" if ratio <= TARGET else "above target"
        print(f"{title:<48}{floor:10.1f}{ms['glassgrad']:14.1f}{torch_ms}{ratio:7.2f}x"
              f"{torch_ratio}{TARGET:8.1f}x  {verdict}")
    print(f"(issue's reference: torch/np {TORCH_REFERENCE}x; medians of {repeats} "
          f"interleaved runs{'; --quick: timings meaningless' if quick else ''})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 steps, 1 repeat")
    parser.add_argument("--profile", action="store_true", help="cProfile the glassgrad run")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    steps, repeats = (2, 1) if args.quick else (20, args.repeats)
    start, x, labels = make_start()
    # Models are built (and randomly initialised) once, outside the timed runs; each
    # run loads the start into them, as the NumPy run copies it.
    gg_net = gg_model()
    runs = {"numpy": lambda: cnn_numpy(start, x, labels, steps),
            "glassgrad": lambda: cnn_glassgrad(gg_net, start, x, labels, steps)}
    if args.profile:
        warm_malloc()
        print(profile(runs["glassgrad"]))
        return 0
    check_agreement({name: run() for name, run in runs.items()}, start)
    title = f"small CNN, {steps} SGD steps"
    rows = [(title + ", default malloc",
             {name: median_ms(t) for name, t in measure(runs, repeats).items()})]
    warm_malloc()  # before torch first runs: torch's own large blocks would do it too
    if torch is not None:
        torch_net = torch_model()
        runs["torch"] = lambda: cnn_torch(torch_net, start, x, labels, steps)
        check_agreement({"numpy": runs["numpy"](), "torch": runs["torch"]()}, start)
    rows.append((title + ", warmed malloc",
                 {name: median_ms(t) for name, t in measure(runs, repeats).items()}))
    for line in environment_lines(np, torch):
        print(line)
    print_table(rows, repeats, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
