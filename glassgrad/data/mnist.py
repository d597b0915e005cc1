"""MNIST from the IDX files you already have: glassgrad never downloads anything.

The IDX format (used by MNIST and Fashion-MNIST) is a tiny header followed by raw
big-endian numbers:

- 2 zero bytes, then one byte naming the element type (``0x08`` unsigned byte,
  ``0x09`` signed byte, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32,
  ``0x0E`` float64), then one byte with the number of dimensions ``d``;
- ``d`` big-endian uint32 sizes;
- the elements in C order.

MNIST's four files are ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each possibly gzipped
(``.gz``); some mirrors write ``train-images.idx3-ubyte`` with a dot, which is found too.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

__all__ = ["load_mnist", "read_idx"]

_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path) -> np.ndarray:
    """Read one IDX file (gzipped if its name ends in ``.gz``) into an array.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    ndarray
        The stored shape, in native byte order (the file's element type otherwise).

    Raises
    ------
    ValueError
        If the header is not IDX or the file is shorter or longer than its header says.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "tiny-idx1-ubyte")
    >>> _ = open(p, "wb").write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    >>> read_idx(p).tolist()
    [7, 8, 9]
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(
            f"read_idx: {path} is not an IDX file (its first 4 bytes are {raw[:4].hex()}; "
            "expected 00 00, a type code such as 08, and the number of dimensions)"
        )
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path} is truncated inside its header")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"read_idx: {path} holds {len(raw) - header} bytes of data but its header "
            f"announces shape {shape} of {dtype.name} ({expected} bytes); the file is "
            "damaged or incomplete"
        )
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a writable, native-order copy


def _find(folder: Path, stem: str, kind_idx: str) -> Path:
    """The first existing spelling of one MNIST file, or a FileNotFoundError."""
    names = [f"{stem}-{kind_idx}-ubyte", f"{stem}.{kind_idx}-ubyte"]
    for name in names:
        for candidate in (folder / name, folder / (name + ".gz")):
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(
        f"load_mnist: missing {names[0]} (or {names[0]}.gz) in {folder}. glassgrad does not "
        "download data: put the four MNIST IDX files (train-images-idx3-ubyte, "
        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, gzipped "
        "or not) in that folder"
    )


def load_mnist(path, kind: str = "train", flatten: bool = False, raw: bool = False):
    """Load MNIST (or any data set in MNIST's IDX layout) from a local folder.

    Parameters
    ----------
    path : str or Path
        The folder holding the IDX files (see the module docstring for their names).
    kind : {"train", "test"}, default "train"
        ``"train"`` reads ``train-*`` (60000 images), ``"test"`` (or ``"t10k"``) reads
        ``t10k-*`` (10000 images).
    flatten : bool, default False
        Return images as rows of ``H*W`` pixels instead of ``H x W`` arrays.
    raw : bool, default False
        Return the stored uint8 pixels (0..255) instead of float32 ``pixel / 255``.

    Returns
    -------
    X : ndarray, shape (N, 28, 28) or (N, 784); float32 in [0, 1], or uint8 if ``raw``
    y : ndarray, shape (N,), int64

    Raises
    ------
    FileNotFoundError
        Naming the missing file and the folder searched.
    ValueError
        If a file is not valid IDX, or images and labels disagree in number.

    Examples
    --------
    >>> X, y = load_mnist("~/data/mnist", kind="test")      # doctest: +SKIP
    >>> X.shape, y.shape                                    # doctest: +SKIP
    ((10000, 28, 28), (10000,))
    """
    prefix = {"train": "train", "test": "t10k", "t10k": "t10k"}.get(kind)
    if prefix is None:
        raise ValueError(f"load_mnist: kind must be 'train' or 'test', got {kind!r}")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"load_mnist: {folder} is not a folder; pass the folder that holds the MNIST IDX "
            "files (glassgrad does not download them)"
        )
    images_file = _find(folder, f"{prefix}-images", "idx3")
    labels_file = _find(folder, f"{prefix}-labels", "idx1")
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"load_mnist: expected images of shape (N, H, W) and labels of shape (N,), got "
            f"{images.shape} from {images_file.name} and {labels.shape} from {labels_file.name}"
        )
    X = images if raw else images.astype(np.float32) / np.float32(255.0)
    if flatten:
        X = X.reshape(len(X), -1)
    return X, labels.astype(np.int64)
