"""Timing, profiling and environment-report helpers for the scripts in ``bench/``.

Kept free of NumPy and torch imports so that a benchmark script can pin the BLAS thread
count in ``os.environ`` before either library is loaded.
"""

from __future__ import annotations

import cProfile
import gc
import io
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable

# Environment variables worth recording next to the figures: the thread pins the
# benchmark sets itself, and the OpenBLAS tuning knobs a machine may have set (the
# benchmark does not change those; they change which kernels OpenBLAS uses).
REPORTED_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
)


def measure(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Time ``repeats`` calls of each function; return the wall-clock seconds per name.

    The functions take turns (one call of each per round), so a burst of background load
    slows all of them rather than skewing one ratio. Each call starts after a full
    garbage collection, so garbage left by one run is not billed to the next. The
    collector stays *enabled* during the call: an engine whose graph holds reference
    cycles pays for collecting them, as it would in a user's loop.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def median_ms(times: list[float]) -> float:
    """Median of a list of durations in seconds, in milliseconds."""
    return 1e3 * statistics.median(times)


def profile(fn: Callable[[], object], top: int = 25) -> str:
    """Run ``fn()`` once under cProfile; return the ``top`` functions by own time.

    A full collection first, as in :func:`measure`: otherwise a pending collection of
    the whole heap (torch's included) can land inside one op and dominate the profile.
    """
    gc.collect()
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def environment_lines(np_module, torch_module=None) -> list[str]:
    """Describe the interpreter, library versions, thread settings and BLAS in use."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs ({sys.platform}), load average {load}",
        f"numpy {np_module.__version__}",
    ]
    if torch_module is not None:
        lines.append(f"torch {torch_module.__version__} ({torch_module.get_num_threads()} thread)")
    else:
        lines.append("torch not installed: the PyTorch column is skipped")
    env = ", ".join(f"{k}={os.environ[k]}" for k in REPORTED_ENV if k in os.environ)
    lines.append(f"env: {env}")
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        lines.append("BLAS at run time: threadpoolctl not installed, skipped")
    else:
        for pool in threadpool_info():
            lines.append(
                f"BLAS at run time: {pool.get('internal_api')} {pool.get('version')} "
                f"({pool.get('num_threads')} thread(s), {pool.get('architecture', '?')})"
            )
    return lines


def load_torch():
    """torch with one intra-op thread, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch
