"""Run under ``mpiexec -n 2``: rank 1 is killed (SIGKILL, no Python cleanup at all) while
rank 0 waits in an all-reduce: the launcher must end the job, non-zero, not hang."""

import os
import signal

import numpy as np

import glassgrad as gg
from glassgrad import distributed as dist

rank, world = dist.init(required=True)
if rank == 1:
    os.kill(os.getpid(), signal.SIGKILL)
dist.all_reduce(gg.tensor(np.ones(3)))
print("rank 0 was not stopped", flush=True)
