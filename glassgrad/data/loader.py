"""``DataLoader``: iterate over a dataset in (shuffled) mini-batches, as in PyTorch.

One epoch is one pass of ``for batch in loader``. The loader splits ``range(len(ds))``
(or, with ``shuffle=True``, a fresh random permutation of it) into consecutive chunks of
``batch_size`` indices, fetches those samples and *collates* them: the samples' fields
are stacked along a new first axis into Tensors, so a dataset of ``(x, y)`` pairs yields
``(X_batch, y_batch)`` pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from .. import creation
from ..ops import stack as _gg_stack
from ..tensor import Tensor, tensor
from .dataset import TensorDataset

__all__ = ["DataLoader", "default_collate"]


def default_collate(samples: list):
    """Stack a list of samples into one batch.

    Tensors are stacked with :func:`glassgrad.stack` (differentiably, if any of them
    requires grad); NumPy arrays and NumPy scalars with ``np.stack`` (their dtype is
    kept); Python numbers as :func:`glassgrad.tensor` would (floats become the default
    float dtype). Tuples and lists are collated field by field (a tuple comes back), and
    dicts key by key.

    Examples
    --------
    >>> import numpy as np
    >>> xb, yb = default_collate([(np.ones(3, np.float32), 0), (np.zeros(3, np.float32), 1)])
    >>> xb.shape, yb
    ((2, 3), tensor([0, 1]))
    """
    first = samples[0]
    if isinstance(first, Tensor):
        if any(s.requires_grad for s in samples):
            return _gg_stack(samples)
        return tensor(np.stack([s.data for s in samples]))
    if isinstance(first, (np.ndarray, np.generic)):
        return tensor(np.stack([np.asarray(s) for s in samples]))
    if isinstance(first, (bool, int, float)):
        return tensor(samples)
    if isinstance(first, (tuple, list)):
        width = len(first)
        if any(len(s) != width for s in samples):
            raise ValueError(
                "DataLoader: samples in one batch have different numbers of fields "
                f"({sorted({len(s) for s in samples})}); every sample must look alike"
            )
        return tuple(default_collate([s[k] for s in samples]) for k in range(width))
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    raise TypeError(
        f"DataLoader: cannot batch samples of type {type(first).__name__}; return Tensors, "
        "arrays, numbers, or tuples/dicts of them, or pass collate_fn="
    )


class DataLoader:
    """Mini-batches over a dataset, optionally shuffled with a seeded generator.

    Parameters
    ----------
    dataset : Dataset
        Anything with ``__len__`` and ``__getitem__`` (see :class:`Dataset`).
    batch_size : int, default 1
        Samples per batch.
    shuffle : bool, default False
        Visit the samples in a new random order every epoch (every ``iter(loader)``).
    drop_last : bool, default False
        Drop the last batch if it is smaller than ``batch_size`` (so every batch has the
        same size); otherwise the last batch holds the remaining samples.
    generator : gg.Generator, numpy.random.Generator or int, optional
        Where the shuffling comes from. By default glassgrad's own generator,
        :func:`glassgrad.creation.default_generator`, looked up when each epoch starts,
        so ``gg.manual_seed(n)`` before the loop makes the whole run reproducible. A
        :class:`glassgrad.Generator` (as torch's ``generator=``) or a NumPy ``Generator``
        is used instead (and advanced) when given; an int seeds a private one, so the
        loader's order no longer depends on other random draws.
    collate_fn : callable, optional
        Turns a list of samples into a batch; :func:`default_collate` by default.
    sampler : iterable of int, optional
        The sample indices of an epoch, in order (e.g. a :class:`DistributedSampler`,
        whose shard differs per rank); cannot be combined with ``shuffle=True``.
    num_workers, pin_memory, persistent_workers, prefetch_factor, timeout, \
    worker_init_fn, multiprocessing_context, pin_memory_device
        Accepted so PyTorch code runs unchanged, and checked as torch checks them
        (``num_workers >= 0``; ``prefetch_factor`` and ``persistent_workers=True`` only
        with ``num_workers > 0``), but loading always stays in this process: there are
        no worker processes and no pinned memory (glassgrad runs on the CPU), so the
        batches are exactly those of ``num_workers=0``. ``worker_init_fn`` is never
        called.

    Notes
    -----
    ``len(loader)`` is the number of batches per epoch: ``ceil(N / batch_size)``, or
    ``N // batch_size`` with ``drop_last=True``. For a :class:`TensorDataset` with the
    default ``collate_fn`` the loader indexes the stored arrays with the whole batch of
    indices at once instead of stacking samples one by one: the batches are identical,
    only faster. Tuple samples come back as tuples (PyTorch gives lists); both unpack the
    same way.

    Examples
    --------
    >>> import numpy as np
    >>> import glassgrad as gg
    >>> ds = TensorDataset(np.arange(10, dtype=np.float32).reshape(5, 2), np.arange(5))
    >>> gg.manual_seed(0)
    >>> loader = DataLoader(ds, batch_size=2, shuffle=True)
    >>> len(loader), [yb.shape for _, yb in loader]
    (3, [(2,), (2,), (1,)])
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: np.random.Generator | int | None = None,
        collate_fn: Callable | None = None,
        num_workers: int = 0,
        pin_memory: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable | None = None,
        multiprocessing_context=None,
        *,
        sampler=None,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
    ) -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) \
                or num_workers < 0:
            raise ValueError(
                f"DataLoader: num_workers must be an int >= 0, got {num_workers!r} (loading "
                "is in-process in glassgrad whatever the value)"
            )
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "DataLoader: prefetch_factor can only be given with num_workers > 0 (as in "
                "torch); leave it at None"
            )
        if num_workers == 0 and persistent_workers:
            raise ValueError(
                "DataLoader: persistent_workers=True needs num_workers > 0 (as in torch)"
            )
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be >= 0, got {timeout!r}")
        self.num_workers = int(num_workers)
        self.pin_memory = bool(pin_memory)
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = bool(persistent_workers)
        self.pin_memory_device = pin_memory_device
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if generator is not None and not isinstance(generator, (np.random.Generator,
                                                                creation.Generator)):
            if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
                generator = np.random.default_rng(int(generator))
            else:
                raise TypeError(
                    "DataLoader: generator must be a gg.Generator, a numpy.random.Generator "
                    "(e.g. np.random.default_rng(0)) or an int seed, got "
                    f"{type(generator).__name__}"
                )
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are exclusive (as in "
                             "torch); let the sampler shuffle (DistributedSampler does)")
        self.sampler = sampler
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)  # ceil(n / batch_size)

    def _order(self) -> np.ndarray:
        """The sample indices of one epoch (a fresh permutation when shuffling)."""
        if self.sampler is not None:
            return np.fromiter(iter(self.sampler), dtype=np.int64)
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        # Looked up now, not in __init__: gg.manual_seed replaces the default generator.
        # (A gg.Generator is read through too: its manual_seed replaces its NumPy stream.)
        return creation._rng_of(self.generator, "DataLoader").permutation(n)

    def __iter__(self) -> Iterator:
        order = self._order()
        fast = self.collate_fn is None and isinstance(self.dataset, TensorDataset)
        collate = self.collate_fn or default_collate
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start:start + self.batch_size]
            if fast:
                # One fancy-indexing op per field instead of len(idx) samples to stack.
                yield tuple(t[idx] for t in self.dataset.tensors)
            else:
                yield collate([self.dataset[int(i)] for i in idx])
