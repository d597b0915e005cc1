"""Smoke test of the core benchmark: ``bench/bench_core.py --quick`` runs and exits 0.

The script asserts that glassgrad, the hand-written NumPy floor and PyTorch agree
before it times anything, so this test also checks the three implementations agree.
Timings are printed, never asserted (performance lives in ``bench/``, not in tests).
"""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_core.py"


def test_bench_core_quick_runs_and_agrees():
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "gg/np" in proc.stdout  # the results table was printed
