"""CNN benchmark: glassgrad against a hand-written NumPy im2col floor and PyTorch eager.

One small CNN, float32, written three times with the same math and the same start::

    x (n, 1, H, W) -> conv 3x3, 8 filters -> ReLU -> 2x2 max-pool -> flatten
      -> linear to 10 -> softmax cross-entropy (mean) ; plain SGD lr 0.1

trained on two workloads:

* issue 4's: 20 SGD steps on one fixed random batch of 32 images of 28x28 (the
  flattened features are 8*13*13 = 1352): the arithmetic is big enough to matter;
* one epoch on the 8x8 digits: the training split of
  ``train_test_split(*load_digits(), test_size=0.25, seed=0, stratify=y)`` (1347 images,
  pixels in [0, 1], shape (N, 1, 8, 8)) in batches of 32 in their stored order, the last
  partial batch (3 images) kept: 43 steps on tiny arrays (8*3*3 = 72 features), so the
  per-op cost of the engine shows.

The implementations:

* glassgrad: the PyTorch way, ``gg.nn`` modules, ``F.cross_entropy``, ``gg.optim.SGD``;
  the epoch iterates a ``gg.data.DataLoader`` over a ``TensorDataset`` (no shuffle);
* PyTorch eager: the same modules (one thread); the epoch slices the batches from the
  whole tensors (``torch.utils.data.DataLoader`` collates sample by sample, about 4 ms
  an epoch here, which would time the loader rather than the training);
* NumPy: the floor. im2col through ``sliding_window_view`` and one matmul per image,
  then the whole backward derived by hand, no graph at all; the epoch slices the arrays.

The models are built once per workload, outside the timed runs; each run loads the start
state into them, as the NumPy run copies it. Before timing, every implementation runs
once (also the warm-up) and its final parameters and loss (of the last batch) are
checked against the floor, so the script cannot time wrong code.

The allocator matters as much as the code. glibc's malloc serves blocks above a
threshold (128 KiB at start) with fresh ``mmap``s and returns free memory at the top of
its heap to the OS; it raises both thresholds only after a *larger* block is freed. The
28x28 network's arrays are at most 0.8 MB, so in a fresh process the thresholds stay low
and memory a step frees goes back to the OS, to be page-faulted in again next step. The
floor frees its arrays gradually (each is replaced by the next step's), glassgrad frees
a whole step's saved activations at once when backward releases the graph, so it pays
far more of this. (The 8x8 arrays are at most about 40 KB, below any threshold.)
Each workload gets two rows, timed in this order:

* ``default malloc``: NumPy and glassgrad in the fresh process (torch not yet run),
  what a user's process without big arrays gets (each workload is built just before
  this row; the 8x8 one runs after the 28x28 one, which its small arrays do not mind);
* ``warmed malloc``: after one 16 MiB block is allocated and freed (as any large array,
  or running torch, does), all three: the compute itself. (glibc caps the adaptive
  threshold at 32 MiB; a block of 32 MiB or more would not raise it.)

    .venv/bin/python bench/bench_cnn.py             # full run (about a minute)
    .venv/bin/python bench/bench_cnn.py --quick     # smoke run, a few seconds
    .venv/bin/python bench/bench_cnn.py --profile   # cProfile of the glassgrad runs
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import _single_thread  # noqa: F401  (first: one BLAS thread, this checkout's glassgrad)
import numpy as np  # noqa: E402
from _timing import environment_lines, load_torch, measure, median_ms, profile  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

import glassgrad as gg  # noqa: E402
import glassgrad.nn.functional as F  # noqa: E402

torch = load_torch()  # None without torch (a dev dependency): no torch column then

Arrays = dict[str, np.ndarray]
Batches = Iterable[tuple]  # (images, labels) pairs, as each implementation takes them
NAMES = ("conv.weight", "conv.bias", "fc.weight", "fc.bias")
C_OUT, K, LR, BATCH = 8, 3, 0.1, 32
OFFSETS = [(i, j) for i in range(2) for j in range(2)]  # the 2x2 pooling window
TARGET = 1.2  # the ceiling for glassgrad / numpy (on its 28x28 workload)
TORCH_REFERENCE = 0.6  # the measured torch / numpy (oneDNN)


def features(hw: int) -> int:
    """Inputs of the linear layer for H = W = hw: valid 3x3 conv, then 2x2 pool (floor)."""
    return C_OUT * ((hw - K + 1) // 2) ** 2


def init_params(hw: int, rng: np.random.Generator) -> Arrays:
    """Initial float32 parameters, drawn within PyTorch's default uniform bounds."""
    b_conv, b_fc = 1 / np.sqrt(K * K), 1 / np.sqrt(features(hw))
    start = {
        "conv.weight": rng.uniform(-b_conv, b_conv, (C_OUT, 1, K, K)),
        "conv.bias": rng.uniform(-b_conv, b_conv, C_OUT),
        "fc.weight": rng.uniform(-b_fc, b_fc, (10, features(hw))),
        "fc.bias": rng.uniform(-b_fc, b_fc, 10),
    }
    return {k: v.astype(np.float32) for k, v in start.items()}


# --------------------------------------------------------------------------------------
# The floor: hand-written NumPy, forward and backward
# --------------------------------------------------------------------------------------

def cnn_numpy(start: Arrays, batches: Batches) -> Arrays:
    """One SGD step per (x, labels) batch, x of shape (n, 1, H, W) with any n and H = W."""
    wc, bc, wf, bf = (start[k].copy() for k in NAMES)
    for x, labels in batches:
        n, ho = x.shape[0], x.shape[2] - K + 1
        hp = ho // 2  # pooled size: an odd last row/column is dropped, as by MaxPool2d(2)
        rows = np.arange(n)
        # forward. im2col every step, as a real loop over batches must: (N, C*K*K, Ho*Wo)
        win = sliding_window_view(x, (K, K), axis=(2, 3))  # (N, C, Ho, Wo, K, K), a view
        cols = np.ascontiguousarray(win.transpose(0, 1, 4, 5, 2, 3)).reshape(n, -1, ho * ho)
        z = np.matmul(wc.reshape(C_OUT, -1), cols)  # (N, 8, Ho*Wo)
        z += bc[:, None]
        z = z.reshape(n, C_OUT, ho, ho)
        a = np.maximum(z, 0)
        p = a[:, :, 0:2 * hp:2, 0:2 * hp:2].copy()  # 2x2 max-pool: max of the four
        for i, j in OFFSETS[1:]:  # strided slices
            np.maximum(p, a[:, :, i:2 * hp:2, j:2 * hp:2], out=p)
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
        # pool: the gradient goes where the max was; among tied maxima (common on the
        # digits: an all-zero window gives z = bias) to the first in row-major window
        # order, as PyTorch does. A dropped odd edge gets none.
        da = np.empty_like(a) if ho % 2 == 0 else np.zeros_like(a)
        free = np.ones(p.shape, dtype=bool)  # windows whose max is not placed yet
        for i, j in OFFSETS:
            hit = a[:, :, i:2 * hp:2, j:2 * hp:2] == p
            hit &= free
            free ^= hit  # hit is within free
            np.multiply(hit, dp, out=da[:, :, i:2 * hp:2, j:2 * hp:2])
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

def gg_model(hw: int):
    nn = gg.nn
    return nn.Sequential(nn.Conv2d(1, C_OUT, K), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(features(hw), 10))


def cnn_glassgrad(model, start: Arrays, batches: Batches) -> Arrays:
    model.load_state_dict(_gg_state(start))
    opt = gg.optim.SGD(model.parameters(), lr=LR)
    for xb, target in batches:
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


def torch_model(hw: int):
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, C_OUT, K), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(features(hw), 10))


def cnn_torch(model, start: Arrays, batches: Batches) -> Arrays:
    model.load_state_dict({_gg_key(k): torch.tensor(v) for k, v in start.items()})
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    for xb, target in batches:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xb), target)
        loss.backward()
        opt.step()
    state = model.state_dict()
    return {"loss": loss.detach().numpy().copy(),
            **{k: state[_gg_key(k)].numpy().copy() for k in NAMES}}


# --------------------------------------------------------------------------------------
# Workloads: a start and, per implementation, how to produce its batches
# --------------------------------------------------------------------------------------

@dataclass
class Workload:
    """A training run for all three. ``batches[name]()`` is called *inside* each timed
    run of implementation ``name``, so whatever it converts or slices is timed too."""
    title: str
    hw: int  # image height = width
    start: Arrays
    batches: dict[str, Callable[[], Batches]] = field(default_factory=dict)
    target: float | None = None  # ceiling on gg/np, where the issue set one


def in_order(x, labels, size: int = BATCH) -> Batches:
    """Consecutive batches of ``size`` (the last one partial) of arrays or torch tensors."""
    return ((x[i:i + size], labels[i:i + size]) for i in range(0, len(labels), size))


def one_batch_workload(steps: int, n: int = 32, hw: int = 28) -> Workload:
    """Issue 4's: ``steps`` SGD steps on one random batch."""
    rng = np.random.default_rng(0)
    start = init_params(hw, rng)
    x = rng.standard_normal((n, 1, hw, hw)).astype(np.float32)
    labels = rng.integers(0, 10, n)
    w = Workload(f"{hw}x{hw} batch of {n}, {steps} SGD steps", hw, start, target=TARGET)
    w.batches["numpy"] = lambda: [(x, labels)] * steps
    w.batches["glassgrad"] = lambda: [(gg.tensor(x), gg.tensor(labels))] * steps
    if torch is not None:
        w.batches["torch"] = lambda: [(torch.from_numpy(x), torch.from_numpy(labels))] * steps
    return w


def digits_epoch_workload() -> Workload:
    """One epoch over the digits' training split, batches of 32 in order."""
    X, y = gg.data.load_digits()
    X_train, _, y_train, _ = gg.data.train_test_split(X, y, test_size=0.25, seed=0,
                                                      stratify=y)
    X_train = X_train[:, None]  # (N, 1, 8, 8)
    hw = X_train.shape[-1]
    steps = -(-len(y_train) // BATCH)
    w = Workload(f"{hw}x{hw} digits, 1 epoch = {steps} SGD steps", hw,
                 init_params(hw, np.random.default_rng(0)))
    dataset = gg.data.TensorDataset(X_train, y_train)
    w.batches["numpy"] = lambda: in_order(X_train, y_train)
    w.batches["glassgrad"] = lambda: gg.data.DataLoader(dataset, batch_size=BATCH)
    if torch is not None:
        x_t, y_t = torch.from_numpy(X_train), torch.from_numpy(y_train)
        w.batches["torch"] = lambda: in_order(x_t, y_t)
    return w


def make_run(w: Workload, name: str) -> Callable[[], Arrays]:
    """The timed call of implementation ``name`` on ``w``; its model is built here, once."""
    if name == "numpy":
        return lambda: cnn_numpy(w.start, w.batches["numpy"]())
    build, train = {"glassgrad": (gg_model, cnn_glassgrad), "torch": (torch_model, cnn_torch)}[name]
    net = build(w.hw)
    return lambda: train(net, w.start, w.batches[name]())


# --------------------------------------------------------------------------------------
# Harness
# --------------------------------------------------------------------------------------

def check_agreement(title: str, results: dict[str, Arrays], start: Arrays,
                    rtol: float = 2e-3) -> None:
    """Every implementation's loss and trained updates must match the NumPy floor."""
    floor = results["numpy"]
    for name, got in results.items():
        for key, want in floor.items():
            have = got[key]
            assert have.shape == want.shape, f"{name} {key}: shape {have.shape} vs {want.shape}"
            if key in start:  # compare what training did, not the shared start
                have, want = have - start[key], want - start[key]
            err = np.max(np.abs(have - want)) / max(np.max(np.abs(want)), 1e-30)
            assert err <= rtol, (f"{title}: {name} disagrees with numpy on {key!r}: "
                                 f"relative error {err:.2e} > {rtol:.0e}")


def warm_malloc() -> None:
    """Allocate and free one 16 MiB block: glibc then keeps freed memory in the process
    (its adaptive mmap and trim thresholds rise to that size), see the module docstring."""
    block = np.ones(16 * 2**20 // 8)
    del block


def print_table(rows: list[tuple[str, float | None, dict[str, float]]], repeats: int,
                quick: bool) -> None:
    width = max(len(title) for title, _, _ in rows) + 2
    header = (f"{'workload (float32)':<{width}}{'numpy ms':>10}{'glassgrad ms':>14}"
              f"{'torch ms':>10}{'gg/np':>8}{'torch/np':>10}{'target':>9}")
    print(header)
    print("-" * len(header))
    for title, target, ms in rows:
        floor = ms["numpy"]
        torch_ms = f"{ms['torch']:10.1f}" if "torch" in ms else f"{'-':>10}"
        torch_ratio = f"{ms['torch'] / floor:9.2f}x" if "torch" in ms else f"{'-':>10}"
        ratio = ms["glassgrad"] / floor
        if target is None:
            verdict = f"{'-':>8}"
        else:
            verdict = f"{target:8.1f}x  " + ("meets target" if ratio <= target
                                             else "above target")
        print(f"{title:<{width}}{floor:10.1f}{ms['glassgrad']:14.1f}{torch_ms}{ratio:7.2f}x"
              f"{torch_ratio}{verdict}")
    print(f"(issue's reference: torch/np {TORCH_REFERENCE}x on 28x28; medians of {repeats} "
          f"interleaved runs{'; --quick: timings meaningless' if quick else ''})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 steps on 28x28 (the digits epoch stays), 1 repeat")
    parser.add_argument("--profile", action="store_true", help="cProfile the glassgrad runs")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    steps, repeats = (2, 1) if args.quick else (20, args.repeats)
    makers = (lambda: one_batch_workload(steps), digits_epoch_workload)
    if args.profile:
        warm_malloc()
        for make in makers:
            w = make()
            run = make_run(w, "glassgrad")
            run()  # untimed warm-up
            print(f"== glassgrad, {w.title}\n{profile(run)}")
        return 0
    # Each workload is built just before its default-malloc row: loading the digits first
    # (0.5 MB arrays, freed) would already raise malloc's thresholds for the 28x28 row.
    workloads, runs, default = [], [], []
    for make in makers:
        w = make()
        run = {name: make_run(w, name) for name in ("numpy", "glassgrad")}
        check_agreement(w.title, {name: fn() for name, fn in run.items()}, w.start)
        default.append({name: median_ms(t) for name, t in measure(run, repeats).items()})
        workloads.append(w)
        runs.append(run)
    warm_malloc()  # before torch first runs: torch's own large blocks would do it too
    rows = []
    for w, run, ms in zip(workloads, runs, default):
        if torch is not None:
            run["torch"] = make_run(w, "torch")
            check_agreement(w.title, {"numpy": run["numpy"](), "torch": run["torch"]()},
                            w.start)
        warmed = {name: median_ms(t) for name, t in measure(run, repeats).items()}
        rows += [(w.title + ", default malloc", w.target, ms),
                 (w.title + ", warmed malloc", w.target, warmed)]
    for line in environment_lines(np, torch):
        print(line)
    print_table(rows, repeats, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
