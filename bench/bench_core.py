"""Core benchmark: glassgrad against a hand-written NumPy floor and PyTorch eager.

Three workloads, each written three times with the same math and the same start:

  (a) XOR: a 2-4-1 sigmoid MLP trained with binary cross-entropy and plain SGD
      (lr 0.7, full batch of the 4 points, 6000 epochs): many tiny ops, pure overhead.
  (b) MLP: 100 SGD steps of a 784-256-256-10 ReLU MLP, softmax cross-entropy,
      batch 128, float32, one fixed random batch: BLAS-bound, overhead should vanish.
  (c) Chain: 2001 elementwise ops on a (16,) float32 vector (667 times
      ``x * 1.01; + 0.1; tanh``), then backward from ``x.sum()``: graph bookkeeping.

The NumPy column is the floor: the same forward and a hand-derived backward with no
graph at all. Before timing, every implementation is run once (also the warm-up) and
its results are checked against the floor, so the script cannot time wrong code.

    .venv/bin/python bench/bench_core.py             # full run (about 1-2 minutes)
    .venv/bin/python bench/bench_core.py --quick     # smoke run, a few seconds
    .venv/bin/python bench/bench_core.py --profile a # cProfile of glassgrad on (a)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

import _single_thread  # noqa: F401  (first: one BLAS thread, this checkout's glassgrad)
import numpy as np  # noqa: E402
from _timing import environment_lines, load_torch, measure, median_ms, profile  # noqa: E402

import glassgrad as gg  # noqa: E402

torch = load_torch()  # None without torch (a dev dependency): no torch column then

Arrays = dict[str, np.ndarray]


# --------------------------------------------------------------------------------------
# (a) XOR: 2-4-1 sigmoid MLP, binary cross-entropy (mean), full batch, plain SGD
# --------------------------------------------------------------------------------------

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])
XOR_LR = 0.7
XOR_NAMES = ("W1", "b1", "W2", "b2")


def xor_init(seed: int = 0) -> Arrays:
    """float64 start, as the seed's NumPy script: normal weights, zero biases."""
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.standard_normal((2, 4)),
        "b1": np.zeros(4),
        "W2": rng.standard_normal((4, 1)),
        "b2": np.zeros(1),
    }


def xor_numpy(init: Arrays, epochs: int) -> Arrays:
    """The seed's manual backprop (the loss is computed too: the other two need it)."""
    W1, b1, W2, b2 = (init[k].copy() for k in XOR_NAMES)
    x, y, m = XOR_X, XOR_Y, XOR_X.shape[0]
    for _ in range(epochs):
        a1 = 1.0 / (1.0 + np.exp(-(x @ W1 + b1)))
        a2 = 1.0 / (1.0 + np.exp(-(a1 @ W2 + b2)))
        loss = -np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2))
        dz2 = a2 - y
        dW2 = a1.T @ dz2 / m
        db2 = dz2.sum(0) / m
        da1 = dz2 @ W2.T
        dz1 = da1 * a1 * (1 - a1)
        dW1 = x.T @ dz1 / m
        db1 = dz1.sum(0) / m
        W1 -= XOR_LR * dW1
        b1 -= XOR_LR * db1
        W2 -= XOR_LR * dW2
        b2 -= XOR_LR * db2
    return {"loss": np.asarray(loss), "W1": W1, "b1": b1, "W2": W2, "b2": b2}


def xor_glassgrad(init: Arrays, epochs: int) -> Arrays:
    params = [gg.tensor(init[k].copy(), requires_grad=True) for k in XOR_NAMES]
    W1, b1, W2, b2 = params
    x, y = gg.tensor(XOR_X), gg.tensor(XOR_Y)
    for _ in range(epochs):
        a1 = gg.sigmoid(x @ W1 + b1)
        a2 = gg.sigmoid(a1 @ W2 + b2)
        loss = -(y * gg.log(a2) + (1 - y) * gg.log(1 - a2)).mean()
        loss.backward()
        with gg.no_grad():
            for p in params:
                p -= XOR_LR * p.grad
                p.grad = None
    return {"loss": loss.numpy().copy(), **_finals_gg(XOR_NAMES, params)}


def xor_torch(init: Arrays, epochs: int) -> Arrays:
    params = [torch.tensor(init[k], requires_grad=True) for k in XOR_NAMES]
    W1, b1, W2, b2 = params
    x, y = torch.tensor(XOR_X), torch.tensor(XOR_Y)
    for _ in range(epochs):
        a1 = torch.sigmoid(x @ W1 + b1)
        a2 = torch.sigmoid(a1 @ W2 + b2)
        loss = -(y * torch.log(a2) + (1 - y) * torch.log(1 - a2)).mean()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= XOR_LR * p.grad
                p.grad = None
    return {"loss": loss.detach().numpy().copy(), **_finals_torch(XOR_NAMES, params)}


# --------------------------------------------------------------------------------------
# (b) MLP: 784-256-256-10 ReLU, softmax cross-entropy (mean), batch 128, float32, SGD
# --------------------------------------------------------------------------------------

MLP_SIZES = (784, 256, 256, 10)
MLP_BATCH = 128
MLP_LR = 0.05
MLP_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def mlp_init(seed: int = 0) -> tuple[Arrays, np.ndarray, np.ndarray]:
    """He-normal weights, small random biases, one fixed random batch (x, labels)."""
    rng = np.random.default_rng(seed)
    init = {}
    for i, (fan_in, fan_out) in enumerate(zip(MLP_SIZES[:-1], MLP_SIZES[1:]), start=1):
        init[f"W{i}"] = (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in)).astype(
            np.float32
        )
        init[f"b{i}"] = (0.01 * rng.standard_normal(fan_out)).astype(np.float32)
    x = rng.standard_normal((MLP_BATCH, MLP_SIZES[0])).astype(np.float32)
    labels = rng.integers(0, MLP_SIZES[-1], size=MLP_BATCH)
    return init, x, labels


def mlp_numpy(init: Arrays, x: np.ndarray, labels: np.ndarray, steps: int) -> Arrays:
    """Hand-written forward and backward; dlogits = (softmax - onehot) / batch."""
    W1, b1, W2, b2, W3, b3 = (init[k].copy() for k in MLP_NAMES)
    m = x.shape[0]
    rows = np.arange(m)
    for _ in range(steps):
        z1 = x @ W1 + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ W2 + b2
        h2 = np.maximum(z2, 0)
        z3 = h2 @ W3 + b3
        shifted = z3 - z3.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) - shifted[rows, labels])
        dz3 = e / s
        dz3[rows, labels] -= 1
        dz3 /= m
        dW3 = h2.T @ dz3
        db3 = dz3.sum(0)
        dz2 = (dz3 @ W3.T) * (z2 > 0)
        dW2 = h1.T @ dz2
        db2 = dz2.sum(0)
        dz1 = (dz2 @ W2.T) * (z1 > 0)
        dW1 = x.T @ dz1
        db1 = dz1.sum(0)
        for p, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2), (W3, dW3), (b3, db3)):
            p -= MLP_LR * g
    return {"loss": np.asarray(loss), "W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}


def mlp_glassgrad(init: Arrays, x: np.ndarray, labels: np.ndarray, steps: int) -> Arrays:
    params = [gg.tensor(init[k].copy(), requires_grad=True) for k in MLP_NAMES]
    W1, b1, W2, b2, W3, b3 = params
    xb = gg.tensor(x)
    rows = np.arange(x.shape[0])
    for _ in range(steps):
        h1 = gg.relu(xb @ W1 + b1)
        h2 = gg.relu(h1 @ W2 + b2)
        z = h2 @ W3 + b3
        loss = (gg.logsumexp(z, axis=1) - z[rows, labels]).mean()
        loss.backward()
        with gg.no_grad():
            for p in params:
                p -= MLP_LR * p.grad
                p.grad = None
    return {"loss": loss.numpy().copy(), **_finals_gg(MLP_NAMES, params)}


def mlp_torch(init: Arrays, x: np.ndarray, labels: np.ndarray, steps: int) -> Arrays:
    """Idiomatic eager PyTorch: the same layers by hand, ``F.cross_entropy`` for the loss."""
    params = [torch.tensor(init[k], requires_grad=True) for k in MLP_NAMES]
    W1, b1, W2, b2, W3, b3 = params
    xb, target = torch.from_numpy(x), torch.from_numpy(labels)
    for _ in range(steps):
        h1 = torch.relu(xb @ W1 + b1)
        h2 = torch.relu(h1 @ W2 + b2)
        z = h2 @ W3 + b3
        loss = torch.nn.functional.cross_entropy(z, target)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= MLP_LR * p.grad
                p.grad = None
    return {"loss": loss.detach().numpy().copy(), **_finals_torch(MLP_NAMES, params)}


# --------------------------------------------------------------------------------------
# (c) Chain: repeat (x * 1.01, + 0.1, tanh) on a (16,) float32 vector, backward from sum
# --------------------------------------------------------------------------------------


def chain_init(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(16).astype(np.float32)


def chain_numpy(x0: np.ndarray, triples: int) -> Arrays:
    """Forward keeping each tanh output, then the reverse loop by hand."""
    x = x0
    saved = []
    for _ in range(triples):
        x = x * 1.01
        x = x + 0.1
        x = np.tanh(x)
        saved.append(x)
    out = x.sum()
    g = np.ones_like(x0)
    for y in reversed(saved):
        g = g * (1 - y * y)  # tanh' = 1 - tanh^2
        g = g * 1.01  # the + 0.1 passes g through unchanged
    return {"out": np.asarray(out), "grad": g}


def chain_glassgrad(x0: np.ndarray, triples: int) -> Arrays:
    leaf = gg.tensor(x0, requires_grad=True)
    x = leaf
    for _ in range(triples):
        x = x * 1.01
        x = x + 0.1
        x = gg.tanh(x)
    out = x.sum()
    out.backward()
    return {"out": out.numpy().copy(), "grad": leaf.grad.numpy().copy()}


def chain_torch(x0: np.ndarray, triples: int) -> Arrays:
    leaf = torch.tensor(x0, requires_grad=True)
    x = leaf
    for _ in range(triples):
        x = x * 1.01
        x = x + 0.1
        x = torch.tanh(x)
    out = x.sum()
    out.backward()
    return {"out": out.detach().numpy().copy(), "grad": leaf.grad.numpy().copy()}


# --------------------------------------------------------------------------------------
# Harness
# --------------------------------------------------------------------------------------


def _finals_gg(names, params) -> Arrays:
    return {k: p.numpy().copy() for k, p in zip(names, params)}


def _finals_torch(names, params) -> Arrays:
    return {k: p.detach().numpy().copy() for k, p in zip(names, params)}


@dataclass
class Workload:
    key: str
    title: str
    runs: dict[str, Callable[[], Arrays]]  # implementation name -> one full run
    start: Arrays  # initial parameters: trained results are compared as updates from it
    rtol: float  # allowed max|a - b| / max|b| against the NumPy floor, per array
    repeats: int
    target: float  # the ceiling for glassgrad / numpy
    torch_reference: float  # the measured torch / numpy
    extra_check: dict[str, Callable[[], Arrays]] | None = None  # also checked, not timed


def build_workloads(quick: bool) -> dict[str, Workload]:
    epochs, steps, triples = (300, 3, 60) if quick else (6000, 100, 667)
    xor0 = xor_init()
    mlp0, x, labels = mlp_init()
    chain0 = chain_init()
    workloads = [
        Workload(
            "a",
            f"(a) XOR 2-4-1 sigmoid, {epochs} epochs",
            {
                "numpy": lambda: xor_numpy(xor0, epochs),
                "glassgrad": lambda: xor_glassgrad(xor0, epochs),
                "torch": lambda: xor_torch(xor0, epochs),
            },
            start=xor0,
            rtol=1e-6,
            repeats=7,
            target=3.0,
            torch_reference=5.7,
        ),
        Workload(
            "b",
            f"(b) MLP 784-256-256-10, {steps} steps",
            {
                "numpy": lambda: mlp_numpy(mlp0, x, labels, steps),
                "glassgrad": lambda: mlp_glassgrad(mlp0, x, labels, steps),
                "torch": lambda: mlp_torch(mlp0, x, labels, steps),
            },
            start=mlp0,
            rtol=2e-3,
            repeats=7,
            target=1.15,
            torch_reference=1.2,
        ),
        Workload(
            "c",
            f"(c) chain of {3 * triples} ops on (16,)",
            {
                "numpy": lambda: chain_numpy(chain0, triples),
                "glassgrad": lambda: chain_glassgrad(chain0, triples),
                "torch": lambda: chain_torch(chain0, triples),
            },
            start={},
            rtol=1e-3,
            repeats=25,
            target=3.0,
            torch_reference=4.6,
            # The long chain's gradient underflows to 0 (each triple scales it by about
            # 0.65), so the gradient is checked again on a chain short enough to be nonzero.
            extra_check={
                "numpy": lambda: chain_numpy(chain0, 5),
                "glassgrad": lambda: chain_glassgrad(chain0, 5),
                "torch": lambda: chain_torch(chain0, 5),
            },
        ),
    ]
    if torch is None:
        for w in workloads:
            for runs in (w.runs, w.extra_check or {}):
                del runs["torch"]
    if quick:
        for w in workloads:
            w.repeats = 1
    return {w.key: w for w in workloads}


def check_agreement(w: Workload, results: dict[str, Arrays]) -> None:
    """Assert every implementation matches the NumPy floor (parameters as updates)."""
    floor = results["numpy"]
    assert any(np.any(a != 0) for a in floor.values()), f"{w.title}: nothing to compare"
    for name, got in results.items():
        if name == "numpy":
            continue
        assert got.keys() == floor.keys(), f"{w.title}: {name} returned {sorted(got)}"
        for key, want in floor.items():
            have = got[key]
            assert have.shape == want.shape, (
                f"{w.title}: {name} {key} has shape {have.shape}, numpy {want.shape}"
            )
            if key in w.start:  # compare what training did, not the shared start
                have, want = have - w.start[key], want - w.start[key]
            err = np.max(np.abs(have - want)) / max(np.max(np.abs(want)), 1e-30)
            assert err <= w.rtol, (
                f"{w.title}: {name} disagrees with numpy on {key!r}: "
                f"relative error {err:.2e} > {w.rtol:.0e}"
            )


def run_workload(w: Workload) -> dict[str, float]:
    """Check (one untimed run each, also the warm-up), then time; return median ms."""
    results = {name: run() for name, run in w.runs.items()}
    check_agreement(w, results)
    if w.extra_check:
        check_agreement(w, {name: run() for name, run in w.extra_check.items()})
    return {name: median_ms(times) for name, times in measure(w.runs, w.repeats).items()}


def format_table(rows: list[tuple[Workload, dict[str, float]]], quick: bool) -> str:
    header = (
        f"{'workload':<38}{'numpy ms':>10}{'glassgrad ms':>14}{'torch ms':>10}"
        f"{'gg/np':>8}{'torch/np':>10}{'target':>9}  verdict"
    )
    lines = [header, "-" * len(header)]
    for w, ms in rows:
        floor = ms["numpy"]
        ratio = ms["glassgrad"] / floor
        torch_ms = f"{ms['torch']:10.1f}" if "torch" in ms else f"{'-':>10}"
        torch_ratio = f"{ms['torch'] / floor:9.2f}x" if "torch" in ms else f"{'-':>10}"
        if quick:
            verdict = "(quick run: not comparable)"
        else:
            verdict = "met" if ratio <= w.target else "MISSED"
        lines.append(
            f"{w.title:<38}{floor:10.1f}{ms['glassgrad']:14.1f}{torch_ms}"
            f"{ratio:7.2f}x{torch_ratio}{'<=' + format(w.target, '.2f') + 'x':>9}  {verdict}"
        )
    lines.append(
        "issue's torch/np figures: " + ", ".join(f"({w.key}) {w.torch_reference}x" for w, _ in rows)
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, one repeat: a smoke run of seconds"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list("abc"),
        metavar="W",
        help="run only these workloads (a b c)",
    )
    parser.add_argument("--repeats", type=int, help="timed repeats per implementation")
    parser.add_argument(
        "--profile",
        choices=list("abc"),
        metavar="W",
        help="run glassgrad's variant of workload W under cProfile, print the top 25",
    )
    args = parser.parse_args(argv)

    workloads = build_workloads(args.quick)
    if args.profile:
        w = workloads[args.profile]
        w.runs["glassgrad"]()  # warm-up outside the profile
        print(f"cProfile of glassgrad, {w.title} (sorted by own time)")
        print(profile(w.runs["glassgrad"], top=25))
        return 0

    print("\n".join(environment_lines(np, torch)))
    rows = []
    for key in args.only or "abc":
        w = workloads[key]
        if args.repeats:
            w.repeats = args.repeats
        print(f"running {w.title} ({w.repeats} timed repeats) ...", flush=True)
        rows.append((w, run_workload(w)))
    print()
    print(format_table(rows, args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
