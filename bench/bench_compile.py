"""gg.compile benchmark: the compiled training step against eager glassgrad, hand NumPy, torch.

Three workloads, timed per training step (median over repeats of many steps):

  (a) XOR, the seed's network: 2-4-1 sigmoid MLP, ``F.binary_cross_entropy`` (mean),
      full batch of the 4 points, float64, SGD lr 0.7: every array has at most 8
      elements, so the time is per-call overhead;
  (b) MLP: 784-256-256-10 ReLU, ``F.cross_entropy``, batch 128 (one fixed random batch),
      float32, SGD lr 0.05: BLAS-bound;
  (c) CNN: ``build_model()`` of ``examples/cnn_digits.py`` (two conv + batch norm + ReLU,
      max-pool, dropout 0.3, linear) in *train* mode, on a batch of 64 real digits
      (``prepare_data``, i.e. ``gg.data.load_digits``), ``F.cross_entropy``, Adam lr 3e-3.

The implementations (not all on every workload):

  hand      the floor: the seed's manual backprop written in NumPy (for (a) and (b) the
            ones of ``bench_core.py``), loss computed too, in-place update;
  eager     glassgrad as a user writes it: ``loss_fn(*args).backward()`` + ``gg.optim``;
  compiled  ``step = gg.compile(loss_fn, *args)``; ``step(*args)`` + the same optimizer;
  program   the compiled program alone: ``step._latest().py``, the function that takes
            arrays in ``step.input_names`` order and returns ``(loss, grads)``, called on
            raw arrays, then a NumPy in-place SGD update (no Tensor, no ``.grad``);
  numba     the same two with ``backend="numba"``;
  torch     PyTorch eager, one thread (``bench_core``'s for (a), (b): update in
            ``no_grad``; ``torch.optim.Adam`` for (c)).

Correctness before timing: every implementation first trains a few steps from the same
start (also the warm-up, and Numba's compilation) and its parameters (as updates from the
start), batch-norm buffers and last loss are compared with eager glassgrad's; if one
disagrees, an ``AssertionError`` names the workload. Times are medians of repeats (the
implementations take turns, a full ``gc.collect()`` before each, the collector on).

(c) is timed twice, as in ``bench_cnn.py``: glassgrad first in the malloc state the
process is in ("default malloc"), then, after ``warm_malloc()`` has freed one 16 MiB
block, again with PyTorch ("warmed malloc"). PyTorch draws other dropout masks, so it is
checked against eager glassgrad with dropout off (``check_cnn_torch``). Numba runs on (a)
only: it cannot type (b)'s ``max(axis=1)`` and would fall back to the NumPy source. The
program-alone rows update with plain SGD, so (c) (Adam) has none.

    .venv/bin/python bench/bench_compile.py             # full run (about a minute)
    .venv/bin/python bench/bench_compile.py --quick     # smoke run (tiny sizes, 1 repeat)
    .venv/bin/python bench/bench_compile.py --profile a # where the compiled step's time goes
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import _single_thread  # noqa: F401  (first: one BLAS thread, this checkout's glassgrad)
import numpy as np  # noqa: E402
from _timing import environment_lines, load_torch, measure, median_ms  # noqa: E402
from bench_cnn import warm_malloc  # noqa: E402
from bench_core import (  # noqa: E402
    MLP_LR,
    MLP_NAMES,
    XOR_LR,
    XOR_NAMES,
    XOR_X,
    XOR_Y,
    mlp_init,
    mlp_numpy,
    mlp_torch,
    xor_init,
    xor_numpy,
    xor_torch,
)

import glassgrad as gg  # noqa: E402
import glassgrad.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from cnn_digits import build_model, prepare_data  # noqa: E402

torch = load_torch()  # None without torch (a dev dependency): no torch row then
try:
    import numba
except ImportError:  # an optional extra: no numba rows then
    numba = None

Arrays = dict[str, np.ndarray]
Trainer = Callable[[int], Arrays]  # train this many steps, return loss and parameters

CNN_BATCH, CNN_LR, CNN_DROPOUT = 64, 3e-3, 0.3
# The conv biases feed batch norm, which subtracts the batch mean: their exact gradient
# is zero, the computed one is rounding noise (~1e-9), and Adam scales noise up to steps
# of about lr. Two correct implementations may differ there by O(lr), and from the second
# step on so do the running means (which include the bias; nothing else does). The
# comparison with PyTorch leaves those out (eager and compiled glassgrad must still agree
# on them, and do, bit for bit).
CNN_NOISE_ONLY = ("0.bias", "3.bias")
CNN_BIAS_FED = ("1.running_mean", "4.running_mean")

LABELS = {
    "hand": "hand NumPy (floor)",
    "eager": "eager glassgrad + {opt}",
    "compiled": "gg.compile step + {opt}",
    "program": "program alone + NumPy SGD",
    "numba": "numba step + {opt}",
    "numba program": "numba program + NumPy SGD",
    "fused": "gg.compile(optimizer=) whole step",
    "numba fused": "numba, gg.compile(optimizer=)",
    "torch": "PyTorch eager",
}


# --------------------------------------------------------------------------------------
# glassgrad set-ups: what to differentiate, and how each way of running it trains
# --------------------------------------------------------------------------------------


@dataclass
class Setup:
    """One fresh glassgrad model: ``loss_fn(*args)`` is the loss, ``params`` what the
    optimizer updates, ``report`` every array the comparison looks at, by name."""

    loss_fn: Callable
    args: tuple
    params: list
    report: dict
    make_opt: Callable[[list], object]


def _finals(loss, report: dict) -> Arrays:
    return {"loss": np.array(loss.numpy()), **{k: np.array(t.numpy()) for k, t in report.items()}}


def gg_trainer(setup: Setup, mode: str, backend: str = "numpy") -> Trainer:
    """Eager (``mode="eager"``) or compiled training with the setup's optimizer."""
    opt = setup.make_opt(setup.params)
    loss_fn, args = setup.loss_fn, setup.args
    if mode == "fused":  # the optimizer's update traced into the program as well
        whole = gg.compile(loss_fn, *args, backend=backend, optimizer=opt)

        def run_fused(steps: int) -> Arrays:
            for _ in range(steps):
                loss = whole(*args)
            return _finals(loss, setup.report)

        return run_fused
    step = gg.compile(loss_fn, *args, backend=backend) if mode == "compiled" else None

    def run(steps: int) -> Arrays:
        for _ in range(steps):
            opt.zero_grad()
            if step is None:
                loss = loss_fn(*args)
                loss.backward()
            else:
                loss = step(*args)
            opt.step()
        return _finals(loss, setup.report)

    return run


def program_trainer(setup: Setup, lr: float, backend: str = "numpy") -> Trainer:
    """The compiled program on raw arrays (copies, in ``input_names`` order), with an
    in-place NumPy SGD update: no Tensor, no ``.grad``, no optimizer object."""
    step = gg.compile(setup.loss_fn, *setup.args, backend=backend)
    variant = step._latest()
    assert not variant.rngs, "program_trainer: a program with random draws needs rng arguments"
    program = variant.py  # value_and_grad(*arrays) -> (loss, grads of variant.grad_tensors)
    arrays = [np.array(t.numpy()) if isinstance(t, gg.Tensor) else np.array(t)
              for t in step.inputs]
    position = {id(t): i for i, t in enumerate(step.inputs)}
    targets = [arrays[position[id(t)]] for t in variant.grad_tensors]
    name_of = {id(t): k for k, t in setup.report.items()}
    names = [name_of[id(t)] for t in variant.grad_tensors]

    def run(steps: int) -> Arrays:
        for _ in range(steps):
            value, grads = program(*arrays)
            for p, g in zip(targets, grads):
                p -= lr * g
        return {"loss": np.array(value), **{k: p.copy() for k, p in zip(names, targets)}}

    return run


def glassgrad_trainers(make_setup: Callable[[], Setup], lr: float | None,
                       with_numba: bool = False) -> dict[str, Callable]:
    """Builders of the glassgrad trainers; ``lr=None``: no program-alone rows (the NumPy
    update there is plain SGD). Numba only where asked: it cannot compile (b)'s program
    (``max(axis=...)`` in ``F.cross_entropy``) and would fall back to the NumPy source."""
    makers = {
        "eager": lambda: gg_trainer(make_setup(), "eager"),
        "compiled": lambda: gg_trainer(make_setup(), "compiled"),
    }
    if lr is not None:
        makers["program"] = lambda: program_trainer(make_setup(), lr)
        makers["fused"] = lambda: gg_trainer(make_setup(), "fused")
    if numba is not None and with_numba and lr is not None:
        makers["numba"] = lambda: gg_trainer(make_setup(), "compiled", "numba")
        makers["numba program"] = lambda: program_trainer(make_setup(), lr, "numba")
        makers["numba fused"] = lambda: gg_trainer(make_setup(), "fused", "numba")
    return makers


# --------------------------------------------------------------------------------------
# (a) XOR and (b) MLP: the floor and PyTorch are bench_core's (they restart from the start)
# --------------------------------------------------------------------------------------


def xor_setup(init: Arrays) -> Setup:
    params = {k: gg.tensor(init[k].copy(), requires_grad=True) for k in XOR_NAMES}
    W1, b1, W2, b2 = params.values()

    def loss_fn(x, y):
        a1 = gg.sigmoid(x @ W1 + b1)
        a2 = gg.sigmoid(a1 @ W2 + b2)
        return F.binary_cross_entropy(a2, y)

    return Setup(loss_fn, (gg.tensor(XOR_X), gg.tensor(XOR_Y)), list(params.values()), params,
                 lambda ps: gg.optim.SGD(ps, lr=XOR_LR))


def mlp_setup(init: Arrays, x: np.ndarray, labels: np.ndarray) -> Setup:
    params = {k: gg.tensor(init[k].copy(), requires_grad=True) for k in MLP_NAMES}
    W1, b1, W2, b2, W3, b3 = params.values()

    def loss_fn(x, t):
        h1 = gg.relu(x @ W1 + b1)
        h2 = gg.relu(h1 @ W2 + b2)
        return F.cross_entropy(h2 @ W3 + b3, t)

    return Setup(loss_fn, (gg.tensor(x), gg.tensor(labels)), list(params.values()), params,
                 lambda ps: gg.optim.SGD(ps, lr=MLP_LR))


# --------------------------------------------------------------------------------------
# (c) CNN of examples/cnn_digits.py, train mode, Adam
# --------------------------------------------------------------------------------------


def cnn_data() -> tuple[np.ndarray, np.ndarray, Arrays]:
    """The first 64 standardised training digits, their labels, and a start state."""
    X_train, _, y_train, _ = prepare_data()
    gg.manual_seed(0)
    start = {k: np.array(v.numpy()) for k, v in build_model().state_dict().items()}
    return X_train[:CNN_BATCH], y_train[:CNN_BATCH], start


def cnn_setup(x, labels, start: Arrays, dropout: float = CNN_DROPOUT) -> Setup:
    model = build_model(dropout)
    model.load_state_dict({k: gg.tensor(v.copy()) for k, v in start.items()})
    model.train()  # batch statistics and running-stat updates, dropout on

    def loss_fn(x, t):
        return F.cross_entropy(model(x), t)

    return Setup(loss_fn, (gg.tensor(x), gg.tensor(labels)), list(model.parameters()),
                 model.state_dict(), lambda ps: gg.optim.Adam(ps, lr=CNN_LR))


def cnn_torch_trainer(x, labels, start: Arrays, dropout: float = CNN_DROPOUT) -> Trainer:
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(dropout), nn.Linear(32 * 4 * 4, 10),
    )
    model.load_state_dict({k: torch.tensor(v) for k, v in start.items()})
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=CNN_LR)
    xb, target = torch.from_numpy(x), torch.from_numpy(labels)

    def run(steps: int) -> Arrays:
        for _ in range(steps):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), target)
            loss.backward()
            opt.step()
        return {"loss": loss.detach().numpy().copy(),
                **{k: v.numpy().copy() for k, v in model.state_dict().items()}}

    return run


# --------------------------------------------------------------------------------------
# Workloads, checks, timing
# --------------------------------------------------------------------------------------


@dataclass
class Workload:
    key: str
    title: str
    opt: str  # the optimizer's name, for the row labels
    makers: dict[str, Callable[[], Trainer]]  # implementation -> build its trainer
    start: Arrays  # shared start: trained arrays are compared as updates from it
    rtol: float  # allowed max|a - b| / max|b| against eager glassgrad, per array
    check_steps: int
    steps: int  # timed steps per repeat
    repeats: int
    targets: list = field(default_factory=list)  # (implementation, the ceiling on /hand)
    unchecked: tuple = ()  # implementations checked by ``extra_check`` instead
    extra_check: Callable[[], None] | None = None  # another comparison, untimed
    cold: tuple = ()  # also timed before the malloc warm-up (see ``run_workload``)


def build_workloads(quick: bool) -> dict[str, Workload]:
    xor0 = xor_init()
    mlp0, x, labels = mlp_init()
    cx, cy, cnn0 = cnn_data()
    a_steps, b_steps, c_steps = (20, 2, 2) if quick else (2000, 50, 30)
    workloads = [
        Workload(
            "a", "(a) XOR 2-4-1, float64", "SGD",
            {"hand": lambda: lambda n: xor_numpy(xor0, n),
             **glassgrad_trainers(lambda: xor_setup(xor0), XOR_LR, with_numba=True),
             "torch": lambda: lambda n: xor_torch(xor0, n)},
            start=xor0, rtol=1e-6, check_steps=5 if quick else 50, steps=a_steps, repeats=7,
            targets=[("compiled", 1.0, ""), ("fused", 1.0, ""), ("numba", 0.54, " (JAX jit)"),
                     ("numba program", 0.54, " (JAX jit)"),
                     ("numba fused", 0.54, " (JAX jit)")],
        ),
        Workload(
            "b", "(b) MLP 784-256-256-10, f32, b128", "SGD",
            {"hand": lambda: lambda n: mlp_numpy(mlp0, x, labels, n),
             **glassgrad_trainers(lambda: mlp_setup(mlp0, x, labels), MLP_LR),
             "torch": lambda: lambda n: mlp_torch(mlp0, x, labels, n)},
            start=mlp0, rtol=2e-3, check_steps=2 if quick else 5, steps=b_steps, repeats=7,
            targets=[("compiled", 1.0, ""), ("fused", 1.0, "")],
        ),
        Workload(
            "c", "(c) digits CNN, train mode, b64", "Adam",
            {**glassgrad_trainers(lambda: cnn_setup(cx, cy, cnn0), None),
             "torch": lambda: cnn_torch_trainer(cx, cy, cnn0)},
            start=cnn0, rtol=1e-5, check_steps=2 if quick else 5, steps=c_steps, repeats=7,
            # dropout masks differ between the libraries: PyTorch is checked without dropout
            unchecked=("torch",),
            extra_check=lambda: check_cnn_torch(cx, cy, cnn0, 2 if quick else 5),
            cold=("eager", "compiled"),
        ),
    ]
    for w in workloads:
        if torch is None:
            w.makers.pop("torch", None)
            w.extra_check = None
        if quick:
            w.repeats = 1
    return {w.key: w for w in workloads}


def compare(title: str, results: dict[str, Arrays], start: Arrays, rtol: float,
            skip: tuple = ()) -> None:
    """Assert every result matches ``results["eager"]``: same arrays, trained arrays as
    updates from ``start``, within ``rtol`` relative to the largest entry of eager's."""
    ref = results["eager"]
    for name, got in results.items():
        for key, want in ref.items():
            if key in skip:
                continue
            assert key in got, f"{title}: {name} returned no {key!r}"
            have = got[key]
            assert have.shape == want.shape, (
                f"{title}: {name} {key} has shape {have.shape}, eager {want.shape}")
            if key in start:  # compare what training did, not the shared start
                have, want = have - start[key], want - start[key]
            if want.dtype.kind in "iu":  # num_batches_tracked
                assert np.array_equal(have, want), f"{title}: {name} disagrees on {key!r}"
                continue
            err = np.max(np.abs(have - want)) / max(np.max(np.abs(want)), 1e-30)
            assert err <= rtol, (f"{title}: {name} disagrees with eager glassgrad on {key!r}: "
                                 f"relative error {err:.2e} > {rtol:.0e}")


def check_cnn_torch(x, labels, start: Arrays, steps: int) -> None:
    """PyTorch's CNN against eager glassgrad's, both without dropout (the libraries draw
    different masks): after one step everything but the conv biases, after ``steps``
    also but the running means (see ``CNN_NOISE_ONLY``); float32, 2e-3 as bench_core."""
    title = "(c) digits CNN, without dropout"
    eager = gg_trainer(cnn_setup(x, labels, start, 0.0), "eager")
    ref = cnn_torch_trainer(x, labels, start, 0.0)
    compare(title, {"eager": eager(1), "torch": ref(1)}, start, 2e-3, CNN_NOISE_ONLY)
    compare(title, {"eager": eager(steps - 1), "torch": ref(steps - 1)}, start, 2e-3,
            CNN_NOISE_ONLY + CNN_BIAS_FED)


def check_trainers(w: Workload, names: list[str], eager: Arrays | None):
    """Build the named trainers, train each ``check_steps`` from the start and compare
    with eager glassgrad (``eager``, or the "eager" among ``names``). Returns the trainers
    (to be timed on from where they are) and eager's result."""
    trainers, results = {}, {}
    for name in names:
        gg.manual_seed(1)  # the same dropout masks for eager and compiled
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trainers[name] = w.makers[name]()
            results[name] = trainers[name](w.check_steps)
        fallback = [str(c.message) for c in caught if "Numba cannot" in str(c.message)]
        assert not fallback, f"{w.title}: {name} fell back to NumPy: {fallback[0]}"
    eager = results.get("eager", eager)
    compare(w.title, {"eager": eager, **{k: v for k, v in results.items()
                                         if k not in w.unchecked}}, w.start, w.rtol)
    return trainers, eager


def time_trainers(w: Workload, trainers: dict[str, Trainer]) -> dict[str, float]:
    """Median microseconds per step of each trainer, ``w.repeats`` turns of ``w.steps``."""
    fns = {name: (lambda t=t: t(w.steps)) for name, t in trainers.items()}
    return {name: 1e3 * median_ms(times) / w.steps
            for name, times in measure(fns, w.repeats).items()}


def run_workload(w: Workload) -> dict[str, float]:
    """Check, then time; return the median microseconds per step of each implementation.

    glassgrad and the floor first; with ``w.cold``, those are also timed in the malloc
    state the process is in (before the first 16 MiB block is freed, see ``bench_cnn``)
    as ``"<name> cold"``; then ``warm_malloc()``, PyTorch is built and checked (it frees
    large blocks of its own), and everything is timed together.
    """
    trainers, eager = check_trainers(w, [n for n in w.makers if n != "torch"], None)
    cold = {}
    if w.cold:
        cold = time_trainers(w, {n: trainers[n] for n in w.cold})
        warm_malloc()
        for trainer in trainers.values():
            trainer(w.check_steps)  # untimed: the heap grows into its new size here
    if "torch" in w.makers:
        trainers.update(check_trainers(w, ["torch"], eager)[0])
    if w.extra_check:
        w.extra_check()
    timed = time_trainers(w, trainers)
    return {**{f"{n} cold": t for n, t in cold.items()}, **timed}


def format_table(rows: list[tuple[Workload, dict[str, float]]], quick: bool) -> str:
    width = 46
    header = (f"{'workload':<36}{'implementation':<{width}}{'us/step':>10}{'/hand':>8}"
              f"{'/eager':>8}")
    lines = [header, "-" * len(header)]
    for w, us in rows:
        hand = us.get("hand")
        for i, (name, t) in enumerate(us.items()):
            base, cold = name.removesuffix(" cold"), name.endswith(" cold")
            eager = us["eager cold" if cold else "eager"]
            ratio = f"{t / hand:7.2f}x" if hand else f"{'-':>8}"
            label = LABELS[base].format(opt=f"gg.optim.{w.opt}")
            if w.cold and base != "torch":
                label += ", default malloc" if cold else ", warmed malloc"
            lines.append(f"{w.title if i == 0 else '':<36}{label:<{width}}{t:10.1f}{ratio}"
                         f"{t / eager:7.2f}x")
    lines.append("")
    lines.append("the issue's targets, ceilings on time / hand NumPy"
                 + (" (quick run: not comparable)" if quick else "") + ":")
    for w, us in rows:
        for name, ceiling, note in w.targets:
            if name in us and "hand" in us:
                ratio = us[name] / us["hand"]
                verdict = "met" if ratio <= ceiling else "MISSED"
                lines.append(f"  ({w.key}) {LABELS[name].format(opt=w.opt):<26} <= "
                             f"{ceiling:.2f}x{note}: {ratio:.2f}x  {verdict}")
    if any(w.key == "c" for w, _ in rows):
        lines.append("  (c) no hand-written floor for the CNN (batch norm, dropout, im2col "
                     "backward by hand): ratios to eager only")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# --profile: where the compiled step's time goes
# --------------------------------------------------------------------------------------


def profile_compiled(w: Workload, make_setup: Callable[[], Setup], repeats: int) -> str:
    """Time the compiled step's parts separately, then cProfile the whole step."""
    s = make_setup()
    opt = s.make_opt(s.params)
    step = gg.compile(s.loss_fn, *s.args)
    variant = step._latest()
    arrays = [np.array(t.numpy()) if isinstance(t, gg.Tensor) else t for t in step.inputs]
    arrays += [np.random.default_rng(0) for _ in variant.rngs]
    args, program = s.args, variant.py

    def full():
        opt.zero_grad()
        step(*args)
        opt.step()

    def no_opt():
        opt.zero_grad()
        step(*args)

    for _ in range(3):
        full()  # warm-up; leaves gradients in .grad for opt.step alone
    n = max(w.steps, 1)
    parts = {"full": full, "no_opt": no_opt, "program": lambda: program(*arrays),
             "opt": opt.step}
    times = measure({k: (lambda f=f: [f() for _ in range(n)]) for k, f in parts.items()},
                    repeats)
    t_full, t_step, t_prog, t_opt = (1e3 * median_ms(times[k]) / n for k in parts)
    lines = [f"{w.title}: compiled step, {n} steps x {repeats} interleaved repeats, "
             "median us/step (after warm_malloc())",
             f"  full step (zero_grad, step(*args), opt.step)   {t_full:9.1f}  100%",
             f"  program alone (value_and_grad on arrays)        {t_prog:9.1f}  "
             f"{100 * t_prog / t_full:3.0f}%",
             f"  wrapper (step + zero_grad - program)            {t_step - t_prog:9.1f}  "
             f"{100 * (t_step - t_prog) / t_full:3.0f}%",
             f"  optimizer (full - step - zero_grad)             {t_full - t_step:9.1f}  "
             f"{100 * (t_full - t_step) / t_full:3.0f}%",
             f"  opt.step() alone, for comparison                {t_opt:9.1f}",
             "  (differences of separately timed loops: where a part is a few % of the step,",
             "  as on (b) and (c), it is within run-to-run noise)",
             "", "cProfile of the full step (own time; the profiler inflates small calls):"]
    gc.collect()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        full()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
    return "\n".join(lines) + "\n" + out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, one repeat: a smoke run of seconds")
    parser.add_argument("--only", nargs="+", choices=list("abc"), metavar="W",
                        help="run only these workloads (a b c)")
    parser.add_argument("--repeats", type=int, help="timed repeats per implementation")
    parser.add_argument("--profile", choices=list("abc"), metavar="W",
                        help="split workload W's compiled step into program, wrapper and "
                             "optimizer, and cProfile it")
    args = parser.parse_args(argv)

    workloads = build_workloads(args.quick)
    print("\n".join(environment_lines(np, torch)))
    print(f"numba {numba.__version__}" if numba else "numba not installed: no numba rows")
    if args.profile:
        w = workloads[args.profile]
        cx, cy, cnn0 = cnn_data()
        setups = {"a": lambda: xor_setup(w.start),
                  "b": lambda: mlp_setup(w.start, *mlp_init()[1:]),
                  "c": lambda: cnn_setup(cx, cy, cnn0)}
        warm_malloc()  # the compute, not glibc returning memory to the OS (see (c))
        print(profile_compiled(w, setups[w.key], args.repeats or w.repeats))
        return 0
    rows = []
    for key in args.only or "abc":
        w = workloads[key]
        if args.repeats:
            w.repeats = args.repeats
        print(f"running {w.title}: check {w.check_steps} steps, then {w.repeats} x "
              f"{w.steps} timed steps ...", flush=True)
        rows.append((w, run_workload(w)))
    print()
    print(format_table(rows, args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
