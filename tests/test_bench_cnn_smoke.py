"""Smoke test of the CNN benchmark: ``bench/bench_cnn.py --quick`` runs and exits 0.

The script asserts that glassgrad, the hand-written NumPy im2col floor and PyTorch
agree (loss and trained parameters) before it times anything, so this test also checks
that the three implementations of the CNN agree, on both workloads (a few steps on a
28x28 batch, and one full epoch on the 8x8 digits). Timings are printed, never asserted.
"""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_cnn.py"


def test_bench_cnn_quick_runs_and_agrees():
    proc = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "gg/np" in proc.stdout  # the results table was printed
    assert "digits, 1 epoch" in proc.stdout  # with the digits epoch's rows
