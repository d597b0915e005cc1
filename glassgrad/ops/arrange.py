"""Arrangement: stacking, splitting, flipping, rolling, tiling, repeating, diagonals and triangles, sort."""

from __future__ import annotations

import numpy as np  # noqa: F401

from ..primitive import LINEAR, SAME, OpError, apply, op, primitive  # noqa: F401
from ..tensor import Tensor  # noqa: F401

__all__: list[str] = []
