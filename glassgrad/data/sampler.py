"""``DistributedSampler``: each rank's disjoint share of a dataset, as PyTorch's.

Every epoch the indices ``0 .. N-1`` are shuffled with ``seed + epoch`` (the same order on
every rank: they all use the same seed), padded by wrapping around to a multiple of the
number of ranks (or trimmed with ``drop_last=True``), and rank ``r`` takes every
``num_replicas``-th index starting at ``r``. So the shards are disjoint, together they
cover the data (with at most ``num_replicas - 1`` repeats from the padding), and
``set_epoch(e)`` before each epoch gives a new order. Pass it to
``DataLoader(..., sampler=...)``.
"""

from __future__ import annotations

import numpy as np

from .. import distributed as dist

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """Indices of ``dataset`` for rank ``rank`` of ``num_replicas`` (see the module
    docstring); ``num_replicas``/``rank`` default to ``gg.distributed``'s world."""

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            num_replicas = dist.world_size() if num_replicas is None else num_replicas
            rank = dist.rank() if rank is None else rank
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank {rank} is not in a world of "
                             f"{num_replicas} replicas")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if drop_last:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` (call before each epoch, on every rank)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n:  # pad by wrapping around
            order = np.concatenate([order, np.resize(order, self.total_size - n)])
        return iter(order[self.rank:self.total_size:self.num_replicas].tolist())
