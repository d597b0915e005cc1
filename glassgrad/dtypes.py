"""The default floating dtype and the dtype rules shared by the whole package."""

from __future__ import annotations

import numpy as np

__all__ = ["set_default_dtype", "get_default_dtype", "is_floating"]

# float32, as PyTorch: Python floats and lists of them become this dtype.
default_dtype = np.dtype(np.float32)


def set_default_dtype(dtype) -> None:
    """Set the dtype that Python floats (and float lists) become: float32 or float64."""
    global default_dtype
    dtype = np.dtype(dtype)
    if dtype not in (np.float16, np.float32, np.float64):
        raise TypeError(
            f"set_default_dtype: only floating dtypes can be the default, got {dtype}"
        )
    default_dtype = dtype


def get_default_dtype() -> np.dtype:
    """Return the current default floating dtype (float32 unless changed)."""
    return default_dtype


def is_floating(dtype) -> bool:
    """True for the float dtypes, the only ones that can carry gradients."""
    return np.dtype(dtype).kind == "f"
