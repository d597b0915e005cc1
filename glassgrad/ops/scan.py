"""Scans along an axis: cumsum, cumprod, diff."""

from __future__ import annotations

import numpy as np  # noqa: F401

from ..primitive import LINEAR, SAME, OpError, apply, op, primitive  # noqa: F401
from ..tensor import Tensor  # noqa: F401

__all__: list[str] = []
