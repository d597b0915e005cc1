"""``glassgrad train`` and ``glassgrad eval``: train a small model from the command line.

Data sets: the four 2-D lessons (``xor``, ``moons``, ``circles``, ``spirals``, generated
by :mod:`glassgrad.data`), the 8x8 ``digits`` shipped with the package, and ``mnist PATH``
(a folder of MNIST's IDX files). Models: an MLP (``--hidden`` sizes, ReLU) or, for
images, a small CNN. The saved file (``--save``) holds the state dict *and* what built
the model, so ``glassgrad eval FILE`` rebuilds it without being told.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import glassgrad as gg
from glassgrad import data as ggdata
from glassgrad import distributed as dist
from glassgrad.diagnostics import Monitor

__all__ = ["DATASETS", "OPTIMIZERS", "load_data", "build_model", "train", "evaluate"]

DATASETS = ("xor", "moons", "circles", "spirals", "digits", "mnist")
OPTIMIZERS = {"sgd": gg.optim.SGD, "adam": gg.optim.Adam, "adamw": gg.optim.AdamW,
              "rmsprop": gg.optim.RMSprop}
DEFAULT_LR = {"sgd": 0.1, "adam": 0.01, "adamw": 0.01, "rmsprop": 0.005}


class UsageError(ValueError):
    """Bad command-line input: printed as one line, exit status 2."""


def load_data(spec, seed: int = 0, limit: int | None = None):
    """``spec`` = ``[name]`` or ``["mnist", PATH]`` -> (X_train, y_train, X_test, y_test,
    image) with float32 inputs (images as (N, 1, H, W)), int64 labels."""
    name, *rest = spec
    if name not in DATASETS:
        raise UsageError(f"--data: unknown data set {name!r}; choose from "
                         f"{', '.join(DATASETS)}")
    if (name == "mnist") != bool(rest) or len(rest) > 1:
        raise UsageError("--data mnist needs the folder of its IDX files (--data mnist PATH)"
                         if name == "mnist" else f"--data {name} takes no path")
    image = name in ("digits", "mnist")
    if name == "xor":
        X, y = ggdata.xor()
        X_tr, y_tr, X_te, y_te = X, y, X, y  # four points: train and test are the same
    elif name == "mnist":
        try:
            X_tr, y_tr = ggdata.load_mnist(rest[0], kind="train")
            X_te, y_te = ggdata.load_mnist(rest[0], kind="test")
        except (FileNotFoundError, ValueError) as err:
            raise UsageError(f"--data mnist {rest[0]}: {err}") from None
        X_tr, X_te = X_tr[:, None] / np.float32(255), X_te[:, None] / np.float32(255)
    else:
        if name == "digits":
            X, y = ggdata.load_digits()
        else:
            make = {"moons": ggdata.two_moons, "circles": ggdata.circles,
                    "spirals": ggdata.spirals}[name]
            X, y = make(600, seed=seed)
        X_tr, X_te, y_tr, y_te = ggdata.train_test_split(X, y, test_size=0.25, seed=seed,
                                                         stratify=y)
        if name == "digits":
            mean, spread = X_tr.mean(axis=0), X_tr.std(axis=0) + 0.1
            X_tr, X_te = (X_tr - mean) / spread, (X_te - mean) / spread
            X_tr, X_te = X_tr.reshape(-1, 1, 8, 8), X_te.reshape(-1, 1, 8, 8)
    if limit is not None:
        X_tr, y_tr, X_te, y_te = X_tr[:limit], y_tr[:limit], X_te[:limit], y_te[:limit]
    f32, labels = np.float32, np.int64
    return (np.asarray(X_tr, f32), np.asarray(y_tr, labels).ravel(), np.asarray(X_te, f32),
            np.asarray(y_te, labels).ravel(), image)


def build_model(kind: str, in_shape, n_classes: int, hidden=(32, 32)) -> gg.nn.Module:
    """An MLP (ReLU between ``hidden`` layers) or, for (C, H, W) images, a small CNN."""
    nn = gg.nn
    if kind == "mlp":
        sizes = [int(np.prod(in_shape)), *hidden]
        layers = [nn.Flatten()] if len(in_shape) > 1 else []
        for a, b in zip(sizes, sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        return nn.Sequential(*layers, nn.Linear(sizes[-1], n_classes))
    if kind == "cnn":
        if len(in_shape) != 3:
            raise UsageError("--model cnn needs images (--data digits or mnist); use "
                             "--model mlp for 2-D points")
        c, h, w = in_shape
        return nn.Sequential(
            nn.Conv2d(c, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(16 * (h // 4) * (w // 4), n_classes))
    raise UsageError(f"--model: unknown model {kind!r}; choose mlp or cnn")


def _accuracy(model, X, y, batch: int = 512) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``model`` on ``X, y``, in eval mode."""
    model.eval()
    losses, hits = [], 0
    with gg.no_grad():
        for i in range(0, len(X), batch):
            z = model(gg.tensor(X[i:i + batch]))
            yb = gg.tensor(y[i:i + batch])
            losses.append(float(gg.nn.functional.cross_entropy(z, yb, reduction="sum")))
            hits += int(np.sum(z.numpy().argmax(axis=1) == y[i:i + batch]))
    model.train()
    return sum(losses) / len(X), hits / len(X)


def _bar(iterable, total, desc):
    if dist.rank() != 0:  # only rank 0 shows progress
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False, mininterval=0.5,
                disable=None)


def _say(text: str) -> None:
    if dist.rank() != 0:
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        print(text, flush=True)
        return
    tqdm.write(text)


def _relaunch(args) -> int:
    """``--nproc N`` outside mpiexec: run this same command as N ranks under mpiexec."""
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) \
        or shutil.which("mpiexec")
    if mpiexec is None or importlib.util.find_spec("mpi4py") is None:
        raise UsageError("--nproc needs MPI: pip install -e '.[mpi]' (the mpich and mpi4py "
                         "wheels), or start it yourself with mpiexec -n N")
    argv = list(args.argv)
    i = argv.index("--nproc")
    del argv[i:i + 2]
    cmd = [mpiexec, "-n", str(args.nproc), sys.executable, "-m", "glassgrad", *argv]
    return subprocess.run(cmd, check=False).returncode


def train(args) -> int:
    """The ``train`` command: returns the exit status."""
    if args.epochs < 1 or args.batch_size < 1:
        raise UsageError("--epochs and --batch-size must be positive")
    if args.nproc is not None:
        if args.nproc < 1:
            raise UsageError("--nproc must be positive")
        if args.nproc > 1 and not dist._under_mpiexec():
            return _relaunch(args)
    rank, world = dist.init()
    gg.manual_seed(args.seed)
    X_tr, y_tr, X_te, y_te, image = load_data(args.data, seed=args.seed, limit=args.limit)
    n_classes = int(max(y_tr.max(), y_te.max())) + 1
    hidden = tuple(args.hidden)
    model = build_model(args.model, X_tr.shape[1:], n_classes, hidden)
    net = model if world == 1 else gg.nn.parallel.DistributedDataParallel(model)
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    opt = OPTIMIZERS[args.optimizer](model.parameters(), lr=lr)
    monitor = Monitor(model, opt) if args.monitor else None
    loss_fn = gg.nn.functional.cross_entropy

    def step(xb, yb):
        return loss_fn(net(xb), yb)

    run_step = gg.compile(step) if args.compile else None
    if args.compile and args.monitor:
        _say("note: with --compile the monitor sees gradients and updates, not activations "
             "(the compiled step runs no module hooks): dead/saturated units show as -")
    dataset = ggdata.TensorDataset(X_tr, y_tr)
    if world == 1:
        loader = ggdata.DataLoader(dataset, batch_size=args.batch_size, shuffle=True,
                                   generator=np.random.default_rng(args.seed))
    else:  # each rank its shard; the batch size is per rank, as in PyTorch
        sampler = ggdata.DistributedSampler(dataset, seed=args.seed)
        loader = ggdata.DataLoader(dataset, batch_size=args.batch_size, sampler=sampler)
    n_params = sum(p.numel() for p in model.parameters())
    _say(f"training a {args.model} ({n_params} parameters) on {args.data[0]}: "
         f"{len(X_tr)} train / {len(X_te)} test, {args.optimizer} lr {lr:g}, "
         f"{args.epochs} epochs{', compiled step' if args.compile else ''}"
         + (f", {world} ranks (DistributedDataParallel)" if world > 1 else ""))
    start = time.perf_counter()
    history = []
    for epoch in range(1, args.epochs + 1):
        if world > 1:
            sampler.set_epoch(epoch)
        total, seen = 0.0, 0
        for xb, yb in _bar(loader, len(loader), f"epoch {epoch}"):
            opt.zero_grad()
            if run_step is not None:
                loss = run_step(xb, yb)
            else:
                loss = step(xb, yb)
                loss.backward()
            if monitor is not None:
                monitor.step()
            opt.step()
            total += float(loss) * len(yb)
            seen += len(yb)
        if world > 1:  # the epoch's mean training loss over every rank's shard
            sums = np.array([total, float(seen)])
            dist.all_reduce(sums)
            total, seen = sums[0], sums[1]
        test_loss, test_acc = _accuracy(model, X_te, y_te)
        history.append((total / seen, test_loss, test_acc))
        _say(f"epoch {epoch:3d}  train loss {total / seen:.4f}  test loss {test_loss:.4f}  "
             f"test accuracy {test_acc:.3f}")
    _say(f"done in {time.perf_counter() - start:.2f} s")
    if not np.isfinite(history[-1][0]):
        print("glassgrad train: the training loss is not finite; try a smaller --lr or "
              "--monitor to see where gradients blow up", file=sys.stderr)
        return 1
    if rank != 0:
        return 0
    if monitor is not None:
        print(monitor.report())
        for finding in monitor.diagnose():
            print(f"  {finding}")
        if args.monitor_plot:
            monitor.plot(args.monitor_plot)
            print(f"gradient norms per layer: {args.monitor_plot}")
        monitor.remove()
    if args.save:
        config = {"data": list(args.data), "model": args.model, "hidden": list(hidden),
                  "in_shape": list(X_tr.shape[1:]), "n_classes": n_classes,
                  "seed": args.seed, "limit": args.limit}
        gg.save({"config": config, "state_dict": model.state_dict(),
                 "history": [list(h) for h in history]}, args.save)
        print(f"saved: {args.save} (glassgrad eval {args.save})")
    return 0


def evaluate(args) -> int:
    """The ``eval`` command: load what ``train --save`` wrote and report test metrics."""
    try:
        saved = gg.load(args.path)
    except FileNotFoundError:
        raise UsageError(f"no such file: {args.path}") from None
    except gg.CheckpointError as err:
        raise UsageError(str(err)) from None
    if not isinstance(saved, dict) or "config" not in saved or "state_dict" not in saved:
        raise UsageError(f"{args.path} was not written by `glassgrad train --save`")
    cfg = saved["config"]
    spec = args.data or cfg["data"]
    _, _, X_te, y_te, _ = load_data(spec, seed=cfg["seed"], limit=cfg.get("limit"))
    model = build_model(cfg["model"], tuple(cfg["in_shape"]), cfg["n_classes"],
                        tuple(cfg["hidden"]))
    model.load_state_dict(saved["state_dict"])
    loss, acc = _accuracy(model, X_te, y_te)
    print(f"{cfg['model']} on {spec[0]} ({len(X_te)} test examples): loss {loss:.4f}, "
          f"accuracy {acc:.3f}")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("train", help="train an MLP or a CNN on a small data set",
                       description=__doc__)
    p.add_argument("--data", nargs="+", required=True, metavar="NAME",
                   help=f"one of {', '.join(DATASETS)} (mnist PATH: the IDX files' folder)")
    p.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    p.add_argument("--hidden", type=int, nargs="+", default=[32, 32],
                   help="hidden layer sizes of the MLP (default 32 32)")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: sgd 0.1, adam/adamw 0.01, rmsprop 0.005)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--monitor", action="store_true",
                   help="record gradient health per layer and print the monitor's report")
    p.add_argument("--monitor-plot", metavar="PNG",
                   help="with --monitor: also plot gradient norms per layer to this file")
    p.add_argument("--compile", action="store_true",
                   help="train with the gg.compile step (no graph built per step)")
    p.add_argument("--save", metavar="PATH", help="save the state dict (for glassgrad eval)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None,
                   help="use at most this many training and test examples")
    p.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="data-parallel over N processes: reruns itself under mpiexec "
                        "(the mpi extra); --batch-size is then per process")
    p.set_defaults(run=train)
    e = sub.add_parser("eval", help="evaluate a model saved by `glassgrad train --save`")
    e.add_argument("path", help="the file written by train --save")
    e.add_argument("--data", nargs="+", metavar="NAME",
                   help="another data set of the same shape (default: the training one)")
    e.set_defaults(run=evaluate)
