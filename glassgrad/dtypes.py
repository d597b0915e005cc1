"""The default floating dtype and the dtype rules shared by the whole package."""

from __future__ import annotations

import numpy as np

__all__ = [
    "set_default_dtype", "get_default_dtype", "is_floating", "float16", "float32", "float64",
    "int8", "int16", "int32", "int64", "uint8", "bool_", "complex64", "complex128",
    "TORCH_ALIASES",
]

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


# --- dtype names, as torch spells them (NumPy dtypes: usable wherever dtype= is taken) ---
float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
complex64 = np.dtype(np.complex64)
complex128 = np.dtype(np.complex128)

# torch's short names. They would shadow Python builtins here, so they live in this dict
# and become attributes of the ``glassgrad`` namespace only (``gg.float``, ``gg.int``,
# ``gg.bool``...): ``gg.float`` is float32 and ``gg.int`` int32, as in torch.
TORCH_ALIASES = {
    "bool": bool_,
    "half": float16,
    "float": float32,
    "double": float64,
    "short": int16,
    "int": int32,
    "long": int64,
    "cfloat": complex64,
    "cdouble": complex128,
}

DTYPE_NAMES = [
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
    "complex64", "complex128",
]
