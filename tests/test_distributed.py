"""gg.distributed and DistributedDataParallel.

The multi-process checks run scripts from ``tests/mpi/`` under ``mpiexec -n 2`` (the
MPICH and mpi4py wheels of the dev extras; skipped, naming them, when absent): DDP on 2
ranks equals one process on the concatenated batches over 50 steps (float64, rtol
1e-10), ``no_sync`` accumulation matches, the collectives agree with NumPy, and a rank
that raises ends the job non-zero within 60 s. In one process (no mpiexec) the world is
a single rank and every collective is the identity; the sampler is checked for any world
size without MPI.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import distributed as dist
from glassgrad.data import DataLoader, DistributedSampler, TensorDataset

HERE = Path(__file__).resolve().parent
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which(
    "mpiexec")


def _mpirun(script: str, n: int = 2, timeout: float = 120):
    if importlib.util.find_spec("mpi4py") is None or MPIEXEC is None:
        pytest.skip("MPI is not installed (pip install -e '.[mpi]': the mpich and mpi4py "
                    "wheels)")
    start = time.perf_counter()
    done = subprocess.run([MPIEXEC, "-n", str(n), sys.executable, str(HERE / "mpi" / script)],
                          capture_output=True, text=True, timeout=timeout)
    return done, time.perf_counter() - start


@pytest.mark.slow
def test_ddp_on_two_ranks_equals_one_process_on_the_whole_batch():
    done, _ = _mpirun("ddp_equivalence.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK ddp: 50 steps on 2 ranks" in done.stdout
    assert "OK no_sync" in done.stdout


@pytest.mark.slow
def test_sync_batch_norm_on_two_ranks_equals_batch_norm_on_the_whole_batch():
    done, _ = _mpirun("syncbn_equivalence.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK syncbn" in done.stdout


def test_sync_batch_norm_in_one_process_is_batch_norm():
    gg.manual_seed(0)
    plain = gg.nn.Sequential(gg.nn.Linear(3, 4), gg.nn.BatchNorm1d(4)).double()
    sync = gg.nn.SyncBatchNorm.convert_sync_batchnorm(
        gg.nn.Sequential(gg.nn.Linear(3, 4), gg.nn.BatchNorm1d(4)).double())
    sync.load_state_dict(plain.state_dict())
    assert isinstance(sync[1], gg.nn.SyncBatchNorm)
    x = gg.tensor(np.random.default_rng(0).standard_normal((6, 3)))
    plain(x).sum().backward()
    sync(x).sum().backward()
    for (name, p), q in zip(plain.named_parameters(), sync.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(plain[1].running_var.numpy(), sync[1].running_var.numpy())


@pytest.mark.slow
def test_collectives_on_two_ranks():
    done, _ = _mpirun("collectives.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK collectives" in done.stdout


@pytest.mark.slow
def test_a_rank_that_raises_ends_the_job_nonzero_within_a_minute():
    done, seconds = _mpirun("rank_fails.py", timeout=60)
    assert done.returncode != 0
    assert seconds < 60
    assert "rank 1 fails on purpose" in done.stderr
    assert "aborting every rank" in done.stderr
    assert "rank 0 was not stopped" not in done.stdout


@pytest.mark.slow
def test_a_rank_that_is_killed_ends_the_job_nonzero_within_a_minute():
    """No exception, no Python cleanup (SIGKILL): the launcher notices the dead process
    and ends the others, which were waiting for it in an all-reduce."""
    done, seconds = _mpirun("rank_dies.py", timeout=60)
    assert done.returncode != 0
    assert seconds < 60
    assert "rank 0 was not stopped" not in done.stdout


def test_one_process_world_is_the_identity():
    assert dist.init() == (0, 1)
    t = gg.tensor([1.0, 2.0])
    assert dist.all_reduce(t, op="mean") is t
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(dist.iall_reduce(np.ones(2)).wait(), np.ones(2))
    with pytest.raises(ValueError, match="op must be one of"):
        dist.all_reduce(t, op="prod")
    with pytest.raises(ValueError, match="src=1 is not a rank"):
        dist.broadcast(t, src=1)
    with pytest.raises(ValueError, match="C-contiguous"):
        dist.all_reduce(np.ones((3, 3))[:, 0])


def test_ddp_in_one_process_leaves_gradients_as_backward_does():
    gg.manual_seed(0)
    model = gg.nn.Sequential(gg.nn.Linear(3, 4), gg.nn.Tanh(), gg.nn.Linear(4, 2))
    ref = gg.nn.Sequential(gg.nn.Linear(3, 4), gg.nn.Tanh(), gg.nn.Linear(4, 2))
    ref.load_state_dict(model.state_dict())
    ddp = gg.nn.parallel.DistributedDataParallel(model, bucket_mb=1e-5)
    x = gg.randn(5, 3)
    for _ in range(2):  # twice: accumulation as backward
        ddp(x).sum().backward()
        ref(x).sum().backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)


def test_ddp_names_parameters_that_got_no_gradient():
    class TwoHeads(gg.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = gg.nn.Linear(2, 2)
            self.b = gg.nn.Linear(2, 2)

        def forward(self, x):
            return self.a(x)  # b unused

    ddp = gg.nn.parallel.DistributedDataParallel(TwoHeads(), bucket_mb=1e-6)
    ddp(gg.randn(3, 2)).sum().backward()
    with pytest.raises(RuntimeError, match="find_unused_parameters=True"):
        ddp(gg.randn(3, 2))
    ok = gg.nn.parallel.DistributedDataParallel(TwoHeads(), bucket_mb=1e-6,
                                                find_unused_parameters=True)
    for _ in range(2):
        ok(gg.randn(3, 2)).sum().backward()
    np.testing.assert_array_equal(ok.module.b.weight.grad.numpy(), np.zeros((2, 2)))


@pytest.mark.parametrize("n, world, drop_last", [(12, 2, False), (12, 3, False),
                                                  (10, 3, False), (10, 3, True)])
def test_sampler_shards_are_disjoint_and_cover_the_data(n, world, drop_last):
    ds = TensorDataset(np.arange(n))
    shards = [list(DistributedSampler(ds, world, r, seed=5, drop_last=drop_last))
              for r in range(world)]
    assert len({len(s) for s in shards}) == 1
    flat = [i for s in shards for i in s]
    if drop_last:
        assert len(set(flat)) == len(flat) == (n // world) * world
    elif n % world == 0:
        assert sorted(flat) == list(range(n))  # disjoint and complete
    else:
        assert set(flat) == set(range(n)) and len(flat) == -(-n // world) * world


def test_sampler_epochs_reshuffle_identically_on_every_rank_and_feed_a_loader():
    ds = TensorDataset(np.arange(20.0), np.arange(20))
    s0, s1 = DistributedSampler(ds, 2, 0, seed=1), DistributedSampler(ds, 2, 1, seed=1)
    first = list(s0)
    s0.set_epoch(1)
    s1.set_epoch(1)
    assert list(s0) != first
    assert sorted(list(s0) + list(s1)) == list(range(20))
    loader = DataLoader(ds, batch_size=4, sampler=s0)
    got = np.concatenate([yb.numpy() for _, yb in loader])
    assert got.tolist() == list(s0) and len(loader) == 3
    with pytest.raises(ValueError, match="exclusive"):
        DataLoader(ds, sampler=s0, shuffle=True)


@pytest.mark.slow
def test_glassgrad_train_nproc_runs_itself_under_mpiexec_and_only_rank_0_speaks(tmp_path):
    if importlib.util.find_spec("mpi4py") is None or MPIEXEC is None:
        pytest.skip("MPI is not installed (pip install -e '.[mpi]')")
    path = tmp_path / "m.npz"
    done = subprocess.run([sys.executable, "-m", "glassgrad", "train", "--data", "moons",
                           "--epochs", "2", "--hidden", "8", "--nproc", "2", "--save",
                           str(path)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 ranks (DistributedDataParallel)" in done.stdout
    assert done.stdout.count("epoch   1 ") == 1  # printed by rank 0 alone
    assert done.stdout.count("saved:") == 1 and path.exists()
