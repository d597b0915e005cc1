"""``gg.nn.parallel.DistributedDataParallel``: gradients averaged over ranks during backward.

Each rank runs the same model on its own shard of the batch. At construction rank 0's
parameters and buffers are broadcast, so every rank starts equal. The parameters are
grouped into buckets of about ``bucket_mb`` megabytes, in reverse order of registration
(the order in which backward finishes them, last layer first). Each parameter carries a
post-accumulate-grad hook (:meth:`glassgrad.Tensor.register_post_accumulate_grad_hook`):
the engine calls it as soon as that parameter's ``.grad`` is final, while the backward
pass goes on into earlier layers. When a bucket's last gradient is final, its gradients
are copied into one flat buffer and a non-blocking all-reduce (``Iallreduce``) starts, so
communication overlaps the rest of the backward. When the last parameter is done, every
bucket is waited for and the averaged gradients written back into ``.grad``: after
``loss.backward()`` returns, every rank holds the mean gradient, as with one process on
the concatenated batch.

Batch norm statistics stay per rank (PyTorch's default without ``SyncBatchNorm``): each
rank normalises with its own shard's statistics, and its running statistics follow its
own shards; ``broadcast_buffers=True`` (default) copies rank 0's buffers to the others
at each forward, as PyTorch does, so evaluation is the same everywhere.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np

from .. import distributed as dist
from ..graph import walk
from ..tensor import Tensor
from .module import Module

__all__ = ["DistributedDataParallel"]


class _Bucket:
    __slots__ = ("params", "pending", "buffer", "work")

    def __init__(self, params) -> None:
        self.params = params
        self.pending = len(params)
        self.buffer = None
        self.work = None


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training (see the module docstring).

    Parameters
    ----------
    module : gg.nn.Module
    bucket_mb : float, default 25
        Size of a gradient bucket in megabytes (one all-reduce each).
    broadcast_buffers : bool, default True
        Copy rank 0's buffers (batch norm statistics) to every rank at each forward.
    find_unused_parameters : bool, default False
        Walk each forward's graph for the parameters it did not use and count them as
        done with a zero gradient, so their buckets still complete. Without it, a
        parameter that gets no gradient makes the next forward raise (as in PyTorch),
        instead of leaving ranks with different gradients.
    """

    def __init__(self, module: Module, bucket_mb: float = 25.0, broadcast_buffers=True,
                 find_unused_parameters: bool = False) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a gg.nn.Module, got "
                            f"{type(module).__name__}")
        if not bucket_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_mb must be > 0, got {bucket_mb}")
        dist.init()
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.world = dist.world_size()
        params = [p for p in module.parameters() if p.requires_grad]
        for p in params:
            dist.broadcast(p, 0)
        self._sync_buffers()
        self._buckets = []
        bucket, size = [], 0
        limit = bucket_mb * 2**20
        for p in reversed(params):
            if bucket and p._data.dtype != bucket[0]._data.dtype:  # one dtype per bucket
                self._buckets.append(_Bucket(bucket))
                bucket, size = [], 0
            bucket.append(p)
            size += p._data.nbytes
            if size >= limit:
                self._buckets.append(_Bucket(bucket))
                bucket, size = [], 0
        if bucket:
            self._buckets.append(_Bucket(bucket))
        self._left = 0  # buckets still waiting in this backward
        self._sync = True
        self._started = False  # a backward of this forward began reducing
        # partial(bound method, index): a deep copy of the model gets hooks of the copy
        self._handles = [p.register_post_accumulate_grad_hook(functools.partial(self._ready, i))
                         for i, b in enumerate(self._buckets) for p in b.params]
        self._params = params

    # -- forward ---------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        if self._sync and self._started and self._left:
            missing = [i for i, b in enumerate(self._buckets) if b.pending]
            raise RuntimeError(
                "DistributedDataParallel: the previous backward did not produce a gradient "
                f"for every parameter (buckets {missing} incomplete), so ranks would hold "
                "different gradients. Pass find_unused_parameters=True if some parameters "
                "are unused in a forward")
        self._reset()
        if self.broadcast_buffers:
            self._sync_buffers()
        out = self.module(*args, **kwargs)
        if self.find_unused_parameters and self._sync:
            self._mark_unused(out)
        return out

    def _reset(self) -> None:
        for b in self._buckets:
            b.pending = len(b.params)
            b.work = None
        self._left = len(self._buckets)
        self._started = False

    def _sync_buffers(self) -> None:
        if self.world > 1:
            for b in self.module.buffers():
                if b is not None and b._data.flags.c_contiguous:
                    dist.broadcast(b, 0)

    def _mark_unused(self, out) -> None:
        outs = out if isinstance(out, (tuple, list)) else (out,)
        used = {id(p) for node in walk([o for o in outs if isinstance(o, Tensor)])
                for p in node.parents if p is not None}
        for i, b in enumerate(self._buckets):
            for p in b.params:
                if id(p) not in used:
                    if p.grad is None:
                        p.grad = Tensor(np.zeros_like(p._data))
                    self._ready(i, p)

    # -- backward: called by the engine as each parameter's gradient becomes final --------
    def _ready(self, index: int, p) -> None:
        if not self._sync:
            return
        self._started = True
        for b in self._buckets:  # let MPI move the reductions already started along
            if b.work is not None:
                b.work.test()
        bucket = self._buckets[index]
        bucket.pending -= 1
        if bucket.pending:
            return
        # one copy of each gradient into the bucket's flat buffer (zeros where none)
        total = sum(q._data.size for q in bucket.params)
        flat = np.empty(total, dtype=bucket.params[0]._data.dtype)
        at = 0
        for q in bucket.params:
            n = q._data.size
            view = flat[at:at + n].reshape(q._data.shape)
            if q.grad is None:
                view[...] = 0
            else:
                view[...] = q.grad._data
            at += n
        bucket.buffer = flat
        bucket.work = dist.iall_reduce(flat, op="mean")
        self._left -= 1
        if self._left == 0:
            self._finish()

    def _finish(self) -> None:
        """Every bucket has started: wait for each, write the means back into ``.grad``."""
        for bucket in self._buckets:
            flat = bucket.work.wait()
            at = 0
            for q in bucket.params:  # .grad becomes a view of the reduced buffer: no copy
                n = q._data.size
                q.grad = Tensor._wrap(flat[at:at + n].reshape(q._data.shape))
                at += n
        self._reset()  # ready for the next backward, even without a forward through us

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside accumulate gradients locally, without communication;
        the first backward after it reduces the accumulated gradients (as PyTorch)."""
        previous = self._sync
        self._sync = False
        try:
            yield
        finally:
            self._sync = previous

    def remove_hooks(self) -> None:
        """Unregister the gradient hooks (the wrapped module is left as it was)."""
        for h in self._handles:
            h.remove()
        self._handles = []
