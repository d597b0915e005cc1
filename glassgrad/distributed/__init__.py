"""``gg.distributed``: data-parallel training over MPI (the optional ``mpi`` extra).

One process per core or machine, started by ``mpiexec -n 4 python train.py``; each holds
the whole model and a shard of the data, and gradients are averaged by an all-reduce
(``gg.nn.parallel.DistributedDataParallel`` does it during the backward pass). The
transport is MPI through ``mpi4py`` (``pip install -e ".[mpi]"`` installs the MPICH and
mpi4py wheels); arrays travel through mpi4py's buffer interface, never pickled.

Outside ``mpiexec`` (or without mpi4py) the world is one process: ``rank() == 0``,
``world_size() == 1`` and every collective is the identity, so the same script runs on a
laptop. A rank that raises an uncaught exception aborts the whole job (``MPI_Abort``)
instead of leaving the others waiting in a collective forever: ``mpiexec`` exits
non-zero within seconds. Collectives are blocking here except the all-reduce DDP starts
per bucket (``iall_reduce``), which returns a request to wait on.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from ..tensor import Tensor

__all__ = ["init", "is_initialized", "rank", "world_size", "all_reduce", "iall_reduce",
           "broadcast", "barrier", "Work"]

_COMM = None  # the communicator after init(); None: not initialised
_OPS = ("sum", "mean", "max", "min")


def _under_mpiexec() -> bool:
    """Whether a launcher started this process as one of several ranks."""
    env = os.environ
    return any(k in env for k in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE",
                                  "PMIX_RANK", "MPI_LOCALNRANKS", "HYDRA_CONTROL_FD"))


def init(required: bool = False):
    """Join the MPI world (idempotent); returns ``(rank, world_size)``.

    Without mpi4py installed: a one-process world, unless ``required`` (or the process
    was started by ``mpiexec``), which raises ImportError saying what to install. Installs
    the abort-on-exception hook described in the module docstring.
    """
    global _COMM
    if _COMM is not None:
        return rank(), world_size()
    try:
        from mpi4py import MPI
    except ImportError:
        if required or _under_mpiexec():
            raise ImportError("gg.distributed needs mpi4py and an MPI library: pip install "
                              "-e '.[mpi]' (the mpich and mpi4py wheels)") from None
        _COMM = _Single()
        return 0, 1
    _COMM = MPI.COMM_WORLD
    if _COMM.Get_size() > 1:
        _install_abort_hook(_COMM)
    return rank(), world_size()


def is_initialized() -> bool:
    return _COMM is not None


def _comm():
    if _COMM is None:
        init()
    return _COMM


def rank() -> int:
    """This process's index in the world, 0 .. world_size() - 1."""
    return int(_comm().Get_rank())


def world_size() -> int:
    """How many processes train together."""
    return int(_comm().Get_size())


def barrier() -> None:
    """Wait until every rank has reached this call."""
    _comm().Barrier()


def _array(x, what: str) -> np.ndarray:
    arr = x._data if isinstance(x, Tensor) else x
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"gg.distributed.{what}: expected a Tensor or a NumPy array, got "
                        f"{type(x).__name__}")
    if not arr.flags.c_contiguous or not arr.flags.writeable:
        raise ValueError(f"gg.distributed.{what}: the array must be C-contiguous and "
                         "writable (it is reduced in place); pass a copy")
    return arr


def _check_op(op: str) -> None:
    if op not in _OPS:
        raise ValueError(f"gg.distributed: op must be one of {', '.join(_OPS)}, got {op!r}")


def _mpi_op(op: str):
    from mpi4py import MPI

    return {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op]


def all_reduce(tensor, op: str = "sum"):
    """Reduce ``tensor`` over all ranks, in place (every rank gets the result); ``op`` is
    ``"sum"``, ``"mean"``, ``"max"`` or ``"min"``. Returns ``tensor``."""
    arr = _array(tensor, "all_reduce")
    comm = _comm()
    _check_op(op)
    if comm.Get_size() > 1:
        from mpi4py import MPI

        comm.Allreduce(MPI.IN_PLACE, arr, op=_mpi_op(op))
        if op == "mean":
            arr /= comm.Get_size()
    return tensor


class Work:
    """A started non-blocking all-reduce: ``wait()`` returns when its result is in the
    array (and divides by the world size for ``"mean"``)."""

    __slots__ = ("request", "array", "divide")

    def __init__(self, request, array, divide) -> None:
        self.request, self.array, self.divide = request, array, divide

    def test(self) -> bool:
        """Whether it has finished; each call also lets MPI make progress on it (MPI moves
        a non-blocking reduction along only inside MPI calls, unless the library runs a
        progress thread)."""
        if self.request is None:
            return True
        return bool(self.request.Test())

    def wait(self) -> np.ndarray:
        if self.request is not None:
            self.request.Wait()
            self.request = None
            if self.divide > 1:
                self.array /= self.divide
        return self.array


def iall_reduce(array: np.ndarray, op: str = "sum") -> Work:
    """Start reducing ``array`` in place over all ranks (MPI ``Iallreduce``); returns a
    :class:`Work` to wait on. Computation can go on meanwhile."""
    arr = _array(array, "iall_reduce")
    _check_op(op)
    comm = _comm()
    if comm.Get_size() == 1:
        return Work(None, arr, 1)
    from mpi4py import MPI

    request = comm.Iallreduce(MPI.IN_PLACE, arr, op=_mpi_op(op))
    return Work(request, arr, comm.Get_size() if op == "mean" else 1)


def broadcast(tensor, src: int = 0):
    """Overwrite ``tensor`` on every rank with rank ``src``'s values, in place."""
    arr = _array(tensor, "broadcast")
    comm = _comm()
    if not 0 <= src < comm.Get_size():
        raise ValueError(f"gg.distributed.broadcast: src={src} is not a rank of a world "
                         f"of {comm.Get_size()}")
    if comm.Get_size() > 1:
        comm.Bcast(arr, root=src)
    return tensor


class _Single:
    """The one-process world (no MPI): every collective is the identity."""

    def Get_rank(self) -> int:
        return 0

    def Get_size(self) -> int:
        return 1

    def Barrier(self) -> None:
        pass


def _install_abort_hook(comm) -> None:
    """An uncaught exception on any rank ends the whole job: the others would otherwise
    wait in their next collective forever."""
    previous = sys.excepthook

    def abort(kind, value, tb):
        previous(kind, value, tb)
        sys.stderr.write(f"gg.distributed: rank {comm.Get_rank()} of {comm.Get_size()} "
                         f"failed ({kind.__name__}); aborting every rank\n")
        sys.stderr.flush()
        # the launcher forwards output through a pipe; MPI_Abort kills its forwarders
        # too, so give it a moment to pass the traceback on before it is lost
        time.sleep(0.5)
        comm.Abort(1)

    sys.excepthook = abort
