"""Datasets: anything with ``__len__`` and ``__getitem__``, as in PyTorch.

A :class:`Dataset` maps an index ``i`` in ``range(len(ds))`` to one sample; the
:class:`~glassgrad.data.DataLoader` turns samples into batches. :class:`TensorDataset`
is the everyday one: a few arrays of equal length, indexed together along their first
axis, and :class:`Subset` is a view of a dataset through a list of indices.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..tensor import Tensor, tensor

__all__ = ["Dataset", "TensorDataset", "Subset"]


class Dataset:
    """The base class of map-style datasets: subclass it and define two methods.

    ``__getitem__(i)`` returns sample ``i`` (a Tensor, an array, a number, or a tuple of
    those, e.g. ``(x, y)``) and ``__len__()`` the number of samples.

    Examples
    --------
    >>> import numpy as np
    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 5
    ...     def __getitem__(self, i):
    ...         return np.float32(i), np.float32(i * i)
    >>> len(Squares()), Squares()[3]
    (5, (np.float32(3.0), np.float32(9.0)))
    """

    def __getitem__(self, index):
        raise NotImplementedError(
            f"{type(self).__name__} must define __getitem__(self, index) returning one sample"
        )

    def __len__(self) -> int:
        raise NotImplementedError(
            f"{type(self).__name__} must define __len__(self) returning the number of samples"
        )


def _as_tensor(x) -> Tensor:
    """Tensors stay as they are; arrays become Tensors with their dtype kept (nested lists
    follow :func:`glassgrad.tensor`: Python floats become the default float dtype)."""
    if isinstance(x, Tensor):
        return x
    return tensor(x)


class TensorDataset(Dataset):
    """Samples are rows of several arrays: ``ds[i] == (t0[i], t1[i], ...)``.

    Parameters
    ----------
    *tensors : Tensor or array_like
        Any number of tensors (NumPy arrays are turned into Tensors, keeping their dtype)
        that all have the same length along their first axis.

    Raises
    ------
    ValueError
        If no tensor is given or their first dimensions differ.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.zeros((6, 2), np.float32), np.arange(6)
    >>> ds = TensorDataset(X, y)
    >>> len(ds), ds[4][1]
    (6, tensor(4))
    """

    def __init__(self, *tensors) -> None:
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor, e.g. TensorDataset(X, y)")
        self.tensors = tuple(_as_tensor(t) for t in tensors)
        lengths = [t.shape[0] if t.ndim else None for t in self.tensors]
        if None in lengths or len(set(lengths)) != 1:
            shapes = ", ".join(str(t.shape) for t in self.tensors)
            raise ValueError(
                "TensorDataset: every tensor needs the same length along axis 0 (one row "
                f"per sample), got shapes {shapes}"
            )

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    Examples
    --------
    >>> import numpy as np
    >>> ds = Subset(TensorDataset(np.arange(10)), [7, 2])
    >>> len(ds), ds[0]
    (2, (tensor(7),))
    """

    def __init__(self, dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)
