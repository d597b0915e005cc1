"""``gg.linalg``: NumPy's ``np.linalg`` with gradients (norms, inv, det, slogdet, solve,
cholesky, qr, svd, svdvals). The cards live in :mod:`glassgrad.ops.decomp`; their registry names
are ``linalg.<name>``."""

from __future__ import annotations

from .ops.decomp import *  # noqa: F403
from .ops.decomp import __all__  # noqa: F401
