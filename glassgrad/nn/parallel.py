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

Batch norm statistics stay per rank (PyTorch's default): each rank normalises with its own
shard's statistics, and its running statistics follow its own shards;
``broadcast_buffers=True`` (default) copies rank 0's buffers to the others at each
forward, as PyTorch does, so evaluation is the same everywhere. :class:`SyncBatchNorm`
(``SyncBatchNorm.convert_sync_batchnorm(model)``) normalises with the statistics of the
whole batch across ranks instead, forward and backward: with it, a model with batch norm
trains on R ranks exactly as on one process with the concatenated batch.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np

from .. import distributed as dist
from ..autograd.function import Function
from ..graph import walk
from ..tensor import Tensor
from ._norm_ops import _blend
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, _BatchNorm

__all__ = ["DistributedDataParallel", "SyncBatchNorm"]


class _Bucket:
    __slots__ = ("params", "pending", "work")

    def __init__(self, params) -> None:
        self.params = params
        self.pending = len(params)
        self.work = None  # the started all-reduce of this backward (it holds the buffer)


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


class _SyncBatchNormFn(Function):
    """Batch norm over the union of every rank's batch (training mode).

    Forward: per channel, the count, sum and sum of squares are all-reduced, so every rank
    uses the whole batch's mean and biased variance: ``xhat = (x - mean) / sqrt(var +
    eps)``, ``y = w xhat + b``. Backward, with ``gh = g w`` and N the whole batch's count:
    ``dx = (N gh - sum(gh) - xhat sum(gh xhat)) / (N sqrt(var + eps))`` where both sums run
    over all ranks (one more all-reduce): rank r's inputs move every rank's statistics, so
    the other ranks' losses answer for them too. ``dw = sum(g xhat)``, ``db = sum(g)`` stay
    local: DDP averages them with the other gradients. ``info`` receives the batch's
    mean, biased variance and count (for the running statistics).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps, axes, shape, info):
        a = x.numpy()
        count = np.full(a.shape[1], a.size / a.shape[1])
        local = np.stack([count, a.sum(axis=axes), (a * a).sum(axis=axes)]).astype(np.float64)
        dist.all_reduce(local)
        n, total, squares = local
        mean = total / n
        var = np.maximum(squares / n - mean * mean, 0.0)
        inv = 1.0 / np.sqrt(var + eps)
        xhat = ((a - mean.reshape(shape)) * inv.reshape(shape)).astype(a.dtype, copy=False)
        w = weight.numpy()
        ctx.stats = (xhat, inv.astype(a.dtype), float(n[0]), axes, shape, w)
        info["batch"] = (mean, var, float(n[0]))
        out = xhat * w.reshape(shape) + bias.numpy().reshape(shape)
        return Tensor(out.astype(a.dtype, copy=False))

    @staticmethod
    def backward(ctx, g):
        xhat, inv, n, axes, shape, w = ctx.stats
        ga = g.numpy()
        gh = ga * w.reshape(shape)
        sums = np.stack([gh.sum(axis=axes), (gh * xhat).sum(axis=axes)]).astype(np.float64)
        dist.all_reduce(sums)
        s1, s2 = (s.astype(ga.dtype).reshape(shape) for s in sums)
        dx = (n * gh - s1 - xhat * s2) * (inv.reshape(shape) / n)
        dw = (ga * xhat).sum(axis=axes)
        db = ga.sum(axis=axes)
        return Tensor(dx), Tensor(dw), Tensor(db), None, None, None, None


class SyncBatchNorm(_BatchNorm):
    """Batch norm whose training statistics are those of the whole batch across every
    rank of ``gg.distributed`` (as ``torch.nn.SyncBatchNorm``): the same module as
    ``BatchNorm1d``/``BatchNorm2d``, any input of rank 2 to 4. In evaluation mode, and in
    a one-process world, it is exactly batch norm. Running statistics follow the whole
    batch (unbiased variance over its N elements), identical on every rank."""

    _ranks = (2, 3, 4)
    _shapes = "(N, C), (N, C, L) or (N, C, H, W)"

    def forward(self, x):
        shape = tuple(x.shape)
        if not self.training or not self.affine or dist.world_size() == 1 \
                or len(shape) not in self._ranks or shape[1] != self.num_features:
            return super().forward(x)  # nothing to share (or the same error messages)
        axes = tuple(i for i in range(len(shape)) if i != 1)
        bshape = tuple(self.num_features if i == 1 else 1 for i in range(len(shape)))
        info: dict = {}
        out = _SyncBatchNormFn.apply(x, self.weight, self.bias, self.eps, axes, bshape, info)
        if self.track_running_stats:
            mean, var, n = info["batch"]
            factor = self._count_batch()
            _blend(self.running_mean, mean, factor)
            _blend(self.running_var, var * (n / max(n - 1, 1)), factor)
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module: Module) -> Module:
        """``module`` with every ``BatchNorm1d``/``BatchNorm2d`` replaced by a
        SyncBatchNorm holding the same parameters and running statistics."""
        if isinstance(module, (BatchNorm1d, BatchNorm2d)) and not isinstance(module, cls):
            sync = cls(module.num_features, module.eps, module.momentum, module.affine,
                       module.track_running_stats, dtype=module.weight.dtype
                       if module.affine else None)
            sync.load_state_dict(module.state_dict())
            sync.train(module.training)
            return sync
        for name, child in list(module._modules.items()):
            if child is not None:
                module._modules[name] = cls.convert_sync_batchnorm(child)
        return module
