"""``gg.linalg``: NumPy's ``np.linalg`` with gradients (norms, inv, det, slogdet, solve,
cholesky, qr, svd, svdvals). The cards live in :mod:`glassgrad.ops.norms` and
:mod:`glassgrad.ops.decomp`; their registry names are ``linalg.<name>``."""

from __future__ import annotations

from .ops import decomp, norms
from .ops.decomp import *  # noqa: F403
from .ops.norms import *  # noqa: F403

__all__ = norms.__all__ + decomp.__all__
