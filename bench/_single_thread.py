"""Imported first by every benchmark script, before NumPy or torch.

Pins the BLAS thread pools to one thread (they read these variables when they load)
and puts this checkout's glassgrad first on the path, installed or not.
"""

import os
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
