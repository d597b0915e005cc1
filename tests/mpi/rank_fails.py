"""Run under ``mpiexec -n 2``: rank 1 raises while rank 0 waits in an all-reduce.

Without the abort hook rank 0 would wait forever; with it the job ends, non-zero."""

import numpy as np

import glassgrad as gg
from glassgrad import distributed as dist

rank, world = dist.init(required=True)
if rank == 1:
    raise RuntimeError("rank 1 fails on purpose")
dist.all_reduce(gg.tensor(np.ones(3)))  # rank 1 never joins
print("rank 0 was not stopped", flush=True)
