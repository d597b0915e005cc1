"""Smoke test of the gg.compile benchmark: ``bench/bench_compile.py --quick`` exits 0.

Before it times anything the script asserts, per workload, that the compiled step (NumPy
and Numba backends), the compiled program run alone on arrays, the hand-written NumPy
floor and PyTorch all train to the same parameters as eager glassgrad; so this test also
checks that they agree, on XOR, the 784-256-256-10 MLP and the digits CNN in train mode
(dropout and batch norm). Timings are printed, never asserted. It takes 10-25 s (importing
torch, Numba compiling the XOR program, tracing the CNN), hence ``slow``.
"""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_compile.py"


@pytest.mark.slow
def test_bench_compile_quick_runs_and_agrees():
    proc = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    assert "us/step" in out and "/hand" in out  # the results table was printed
    for row in ("gg.compile step + gg.optim.SGD", "program alone + NumPy SGD",
                "(c) digits CNN", "hand NumPy (floor)"):
        assert row in out, f"no {row!r} row in:\n{out}"
