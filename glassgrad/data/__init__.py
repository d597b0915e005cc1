"""gg.data: datasets and mini-batches, the PyTorch way.

- :class:`Dataset`, :class:`TensorDataset`, :class:`Subset` and :class:`DataLoader`
  (batching by stacking into Tensors, shuffling from glassgrad's seeded generator or
  one you pass, ``drop_last``), as ``torch.utils.data``.
- Generated 2-D classification sets: :func:`xor`, :func:`two_moons`, :func:`circles`,
  :func:`spirals`, each returning ``(X, y)`` NumPy arrays.
- A real image set shipped with the package: :func:`load_digits` (the 1797 8x8 UCI
  handwritten digits, CC BY 4.0, see :mod:`glassgrad.data.digits`) and
  :func:`train_test_split`.
- MNIST from local IDX files: :func:`load_mnist`, :func:`read_idx` (no downloads).

>>> import glassgrad as gg
>>> X, y = gg.data.two_moons(64, noise=0.1, seed=0)
>>> loader = gg.data.DataLoader(gg.data.TensorDataset(X, y), batch_size=16, shuffle=True)
>>> xb, yb = next(iter(loader))
>>> xb.shape, yb.shape
((16, 2), (16,))
"""

from .dataset import Dataset, Subset, TensorDataset
from .digits import load_digits, train_test_split
from .loader import DataLoader, default_collate
from .mnist import load_mnist, read_idx
from .sampler import DistributedSampler
from .synthetic import circles, spirals, two_moons, xor

__all__ = [
    "DistributedSampler",
    "Dataset", "TensorDataset", "Subset", "DataLoader", "default_collate",
    "xor", "two_moons", "circles", "spirals",
    "load_digits", "train_test_split", "load_mnist", "read_idx",
]
