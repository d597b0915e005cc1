"""Run under ``mpiexec -n 2``: all_reduce (sum, mean, max, min), broadcast, iall_reduce,
DDP's initial broadcast of rank 0's parameters, each against what NumPy says."""

import numpy as np

import glassgrad as gg
from glassgrad import distributed as dist

rank, world = dist.init(required=True)
x = gg.tensor(np.arange(4.0) + 10 * rank)
expected = {"sum": sum(np.arange(4.0) + 10 * r for r in range(world))}
expected["mean"] = expected["sum"] / world
expected["max"] = np.arange(4.0) + 10 * (world - 1)
expected["min"] = np.arange(4.0)
for op, want in expected.items():
    t = gg.tensor(np.arange(4.0) + 10 * rank)
    dist.all_reduce(t, op=op)
    np.testing.assert_array_equal(t.numpy(), want, err_msg=op)
b = gg.tensor(np.full(3, float(rank)))
dist.broadcast(b, src=1)
np.testing.assert_array_equal(b.numpy(), np.full(3, 1.0))
buf = np.full(5, rank + 1.0)
work = dist.iall_reduce(buf, op="mean")
np.testing.assert_array_equal(work.wait(), np.full(5, (world + 1) / 2))
gg.manual_seed(rank)
model = gg.nn.Linear(3, 2)
gg.nn.parallel.DistributedDataParallel(model)
w = model.weight.numpy().copy()
dist.broadcast(w, 0)
np.testing.assert_array_equal(model.weight.numpy(), w)
dist.barrier()
if rank == 0:
    print("OK collectives", flush=True)
