"""Run under ``mpiexec -n 2``: SyncBatchNorm + DDP on 2 ranks equals one process with
BatchNorm1d on the concatenated batch (float64, 20 SGD steps): parameters, running
statistics, and the per-rank losses' mean against the whole-batch loss."""

import copy

import numpy as np

import glassgrad as gg
from glassgrad import distributed as dist

rank, world = dist.init(required=True)
assert world == 2
nn, F = gg.nn, gg.nn.functional
B = 12


def make():
    gg.manual_seed(7)
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)).double()


reference = make()  # one process, plain batch norm, the whole batch
model = nn.SyncBatchNorm.convert_sync_batchnorm(make())
assert isinstance(model[1], nn.SyncBatchNorm)
ddp = gg.nn.parallel.DistributedDataParallel(model)
opt = gg.optim.SGD(model.parameters(), lr=0.2, momentum=0.5)
ref_opt = gg.optim.SGD(reference.parameters(), lr=0.2, momentum=0.5)
rng = np.random.default_rng(3)
for _ in range(20):
    X = rng.standard_normal((world * B, 6)) * 3 + 1
    y = rng.integers(0, 3, world * B)
    mine = slice(rank * B, (rank + 1) * B)
    opt.zero_grad()
    loss = F.cross_entropy(ddp(gg.tensor(X[mine])), gg.tensor(y[mine]))
    loss.backward()
    opt.step()
    ref_opt.zero_grad()
    whole = F.cross_entropy(reference(gg.tensor(X)), gg.tensor(y))
    whole.backward()
    ref_opt.step()
    mean_loss = np.array([loss.item()])
    dist.all_reduce(mean_loss, op="mean")
    np.testing.assert_allclose(mean_loss[0], whole.item(), rtol=1e-10)
for (name, p), q in zip(model.named_parameters(), reference.parameters()):
    np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
for name in ("running_mean", "running_var", "num_batches_tracked"):
    np.testing.assert_allclose(getattr(model[1], name).numpy(),
                               getattr(reference[1], name).numpy(), rtol=1e-10, err_msg=name)
model.eval()
reference.eval()
Xt = gg.tensor(rng.standard_normal((5, 6)))
np.testing.assert_allclose(model(Xt).numpy(), reference(Xt).numpy(), rtol=1e-9, atol=1e-12)
copy.deepcopy(model)  # a SyncBatchNorm model copies like any other
if rank == 0:
    print("OK syncbn: 20 steps on 2 ranks equal one process on the whole batch", flush=True)
dist.barrier()
