"""Run under ``mpiexec -n 2``: DDP on 2 ranks equals one process on the whole batch.

Each step takes the next global batch of 2B digits (a fixed order), rank r gets rows
r*B .. (r+1)*B. Rank 0 also trains a copy of the model on the whole 2B batch in one
process. After 50 SGD steps (float64) the parameters must agree to rtol 1e-10; then
``no_sync`` accumulation over two micro-batches is checked the same way. Prints OK lines
on rank 0; any failure raises (and aborts the job: a non-zero exit).
"""

import copy
import sys

import numpy as np

import glassgrad as gg
from glassgrad import distributed as dist
from glassgrad.data import load_digits

rank, world = dist.init(required=True)
assert world == 2, f"run with mpiexec -n 2 (world is {world})"
B, STEPS = 16, int(sys.argv[1]) if len(sys.argv) > 1 else 50
X, y = load_digits()
X = X.reshape(len(X), -1).astype(np.float64)
X = (X - X.mean(axis=0)) / (X.std(axis=0) + 0.1)


def make_model():
    gg.manual_seed(1234 + rank)  # different per rank: DDP must broadcast rank 0's
    return gg.nn.Sequential(gg.nn.Linear(64, 32), gg.nn.Tanh(), gg.nn.Linear(32, 10)).double()


def batch(step):
    lo = (step * world * B) % (len(X) - world * B)
    return X[lo:lo + world * B], y[lo:lo + world * B]


model = make_model()
reference = copy.deepcopy(model) if rank == 0 else None  # rank 0's weights, unwrapped
ddp = gg.nn.parallel.DistributedDataParallel(model, bucket_mb=0.002)  # two buckets
assert len(ddp._buckets) > 1
opt = gg.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
ref_opt = gg.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9) if rank == 0 else None
F = gg.nn.functional

for step in range(STEPS):
    Xb, yb = batch(step)
    mine = slice(rank * B, (rank + 1) * B)
    opt.zero_grad()
    F.cross_entropy(ddp(gg.tensor(Xb[mine])), gg.tensor(yb[mine])).backward()
    opt.step()
    if rank == 0:
        ref_opt.zero_grad()
        F.cross_entropy(reference(gg.tensor(Xb)), gg.tensor(yb)).backward()
        ref_opt.step()

if rank == 0:
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    print(f"OK ddp: {STEPS} steps on {world} ranks equal one process on the whole batch",
          flush=True)
# the other rank's parameters are the same too
mine = np.concatenate([p.numpy().ravel() for p in model.parameters()])
theirs = mine.copy()
dist.broadcast(theirs, 0)
np.testing.assert_array_equal(mine, theirs)

# no_sync: two local micro-batches accumulate, the third backward reduces all three
opt.zero_grad()
if rank == 0:
    ref_opt.zero_grad()
Xb, yb = batch(STEPS)
parts = [slice(r * B, (r + 1) * B) for r in range(world)]
micro = [np.arange(B)[k::3] for k in range(3)]  # three micro-batches of each shard
for k, rows in enumerate(micro):
    local_x = Xb[parts[rank]][rows]
    local_y = yb[parts[rank]][rows]
    if k < 2:
        with ddp.no_sync():
            F.cross_entropy(ddp(gg.tensor(local_x)), gg.tensor(local_y),
                            reduction="sum").backward()
    else:
        F.cross_entropy(ddp(gg.tensor(local_x)), gg.tensor(local_y),
                        reduction="sum").backward()
if rank == 0:
    F.cross_entropy(reference(gg.tensor(Xb)), gg.tensor(yb), reduction="sum").backward()
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        # DDP averages over ranks; the whole-batch sum is world times that mean
        np.testing.assert_allclose(p.grad.numpy() * world, q.grad.numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=name)
    print("OK no_sync: accumulated micro-batches reduce to the whole batch's gradient",
          flush=True)
dist.barrier()
