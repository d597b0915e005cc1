"""The 8x8 handwritten digits, shipped inside glassgrad, and a deterministic split.

The data
--------
1797 grey-scale images of the digits 0-9, each 8x8 pixels whose values are counts
0..16: the writers' 32x32 binary bitmaps were cut into 4x4 blocks and the "on" pixels of
each block counted. This is the test partition (``optdigits.tes``, 13 writers) of the UCI
data set *Optical Recognition of Handwritten Digits*, the same 1797 images that
scikit-learn's ``load_digits`` returns. About 180 images per class.

Route and licence
-----------------
The images ship inside the package (``glassgrad/data/digits.npz``, 45 KB), so neither
scikit-learn nor a network connection is needed. Attribution: E. Alpaydin and
C. Kaynak (1998), *Optical Recognition of Handwritten Digits*, UCI Machine Learning
Repository, https://doi.org/10.24432/C50P49, licensed under Creative Commons Attribution
4.0 International (CC BY 4.0, https://creativecommons.org/licenses/by/4.0/), which UCI
applies to the data sets it distributes. Changes: none to the values; the file was
converted once from the CSV copy in scikit-learn 1.9.1
(``sklearn/datasets/data/digits.csv.gz``, sha256 ``09f66e6d...23aa22``, 64 pixel columns
then the label) to a compressed ``.npz`` holding ``images`` (uint8, shape (1797, 8, 8))
and ``labels`` (uint8, shape (1797,)), in the CSV's row order, by
:func:`_npz_from_csv` below.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["load_digits", "train_test_split"]

_NPZ = Path(__file__).with_name("digits.npz")


def load_digits(flatten: bool = False, raw: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The 1797 8x8 handwritten digits (see the module docstring for source and licence).

    Parameters
    ----------
    flatten : bool, default False
        Return each image as a row of 64 pixels (for an MLP) instead of an 8x8 array
        (add a channel axis with ``X[:, None]`` for a CNN).
    raw : bool, default False
        Return the stored pixel counts (uint8, 0..16) instead of float32 intensities
        ``count / 16`` in ``[0, 1]``.

    Returns
    -------
    X : ndarray, shape (1797, 8, 8) or (1797, 64); float32 in [0, 1], or uint8 if ``raw``
    y : ndarray, shape (1797,), int64, the digit 0..9 shown in each image

    Examples
    --------
    >>> X, y = load_digits()
    >>> X.shape, X.dtype, y[:5].tolist()
    ((1797, 8, 8), dtype('float32'), [0, 1, 2, 3, 4])
    """
    with np.load(_NPZ, allow_pickle=False) as f:
        images, labels = f["images"], f["labels"]
    X = images if raw else images.astype(np.float32) / np.float32(16.0)
    if flatten:
        X = X.reshape(len(X), -1)
    return X, labels.astype(np.int64)


def _test_count(n: int, test_size) -> int:
    if isinstance(test_size, float):
        if not 0.0 < test_size < 1.0:
            raise ValueError(
                f"train_test_split: a float test_size must be in (0, 1), got {test_size}"
            )
        n_test = int(np.ceil(test_size * n))
    elif isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        n_test = int(test_size)
    else:
        raise TypeError(f"train_test_split: test_size must be a float or an int, got {test_size!r}")
    if not 0 < n_test < n:
        raise ValueError(
            f"train_test_split: test_size={test_size} leaves {n_test} of {n} samples for the "
            "test set; both parts need at least one sample"
        )
    return n_test


def _stratified_test_indices(labels, n_test: int, rng) -> np.ndarray:
    """Pick ``n_test`` indices so that each class keeps its share of the data.

    Class ``c`` with ``n_c`` samples gets ``n_test * n_c / n`` test places, rounded down;
    the places left over go to the classes with the largest remainders (ties to the
    smaller class label), so the total is exactly ``n_test``.
    """
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = n_test * counts / counts.sum()
    take = np.floor(quota).astype(int)
    leftover = n_test - take.sum()
    by_remainder = np.argsort(-(quota - take), kind="stable")
    take[by_remainder[:leftover]] += 1
    picked = [rng.permutation(np.flatnonzero(inverse == c))[:take[c]] for c in range(len(classes))]
    return np.concatenate(picked)


def train_test_split(*arrays, test_size=0.25, seed: int = 0, stratify=None, shuffle: bool = True):
    """Split arrays into train and test parts, the same way every time for a given seed.

    Parameters
    ----------
    *arrays : array_like
        Arrays (or Tensors) of the same length; all are split at the same rows.
    test_size : float or int, default 0.25
        The fraction of samples to hold out (rounded up), or their number.
    seed : int, default 0
        Seeds a private ``np.random.default_rng``: the split depends on nothing else.
    stratify : array_like, optional
        Class labels; when given, each class is split in the same proportion (exactly
        ``n_test`` samples overall), so small test sets stay balanced.
    shuffle : bool, default True
        With ``shuffle=False`` the last ``n_test`` rows are the test set (no randomness;
        cannot be combined with ``stratify``).

    Returns
    -------
    list
        ``[a_train, a_test, b_train, b_test, ...]``, two entries per input, each indexed
        with the same rows (rows keep a random order within each part when shuffling).

    Examples
    --------
    >>> X, y = load_digits(flatten=True)
    >>> X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y)
    >>> X_tr.shape, X_te.shape
    ((1347, 64), (450, 64))
    """
    if not arrays:
        raise ValueError("train_test_split: give at least one array to split")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(
            "train_test_split: every array needs the same length, got "
            f"{[len(a) for a in arrays]}"
        )
    n_test = _test_count(n, test_size)
    if not shuffle:
        if stratify is not None:
            raise ValueError("train_test_split: stratify needs shuffle=True")
        test = np.arange(n - n_test, n)
        train = np.arange(n - n_test)
    else:
        rng = np.random.default_rng(seed)
        if stratify is None:
            order = rng.permutation(n)
            test, train = order[:n_test], order[n_test:]
        else:
            labels = np.asarray(stratify)
            if labels.shape != (n,):
                raise ValueError(
                    f"train_test_split: stratify must hold one label per sample, shape "
                    f"({n},), got {labels.shape}"
                )
            test = rng.permutation(_stratified_test_indices(labels, n_test, rng))
            is_test = np.zeros(n, bool)
            is_test[test] = True
            train = rng.permutation(np.flatnonzero(~is_test))
    out = []
    for a in arrays:
        a = a if hasattr(a, "shape") and hasattr(a, "__getitem__") else np.asarray(a)
        out += [a[train], a[test]]
    return out


def _npz_from_csv(csv_path, out_path=_NPZ) -> None:  # pragma: no cover - run once, by hand
    """Rebuild ``digits.npz`` from scikit-learn's ``digits.csv.gz`` (64 pixels + label)."""
    rows = np.loadtxt(csv_path, delimiter=",")
    images = rows[:, :64].astype(np.uint8).reshape(-1, 8, 8)
    labels = rows[:, 64].astype(np.uint8)
    np.savez_compressed(out_path, images=images, labels=labels)
