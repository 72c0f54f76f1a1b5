"""Synchronous data parallelism over MPI (mpi4py), the way ChainerMN does it.

Every rank holds the whole model and walks the same sequence of global batches; each
takes a disjoint, contiguous shard of every batch, and gradients are combined with one
Allreduce per step over a single flattened float32 buffer (sparse embedding rows are
exchanged with Allgatherv as (row index, row) pairs, never densified).  Rank 0 alone
writes the run directory.  With CuPy arrays the buffers are copied through host memory
(no CUDA-aware MPI or NCCL is assumed).
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..autograd import SparseRows
from ..backend import get_array_module, to_numpy


class DistributedError(RuntimeError):
    """MPI was asked for but cannot be used."""


class SingleProcess:
    """The communicator of an ordinary run: one rank, every collective a no-op."""

    rank, size, is_main, local_rank = 0, 1, True, 0

    def shard(self, count):
        return slice(0, count)

    def combine(self, params, local_count, global_count, scalars):
        return scalars

    def broadcast_parameters(self, params):
        pass

    def sum(self, values):
        return values

    def share(self, value):
        return value

    def barrier(self):
        pass

    def abort(self, code):
        raise SystemExit(code)


class _FirstItem(SingleProcess):
    """A communicator whose shard is a batch's first item (what an idle rank computes)."""

    def shard(self, count):
        return slice(0, min(count, 1))


FIRST_ITEM = _FirstItem()


class MPIComm(SingleProcess):
    def __init__(self):
        try:
            from mpi4py import MPI
        except ImportError:
            raise DistributedError('--distributed mpi needs mpi4py: pip install -e ".[mpi]"') from None
        self.MPI, self.comm = MPI, MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.is_main = self.rank == 0
        # ranks that share a node's memory share its GPUs: each takes the one of its local rank
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        self.local_rank = node.Get_rank()
        kernels.share_cores(node.Get_size())  # and its cores: no rank starts a thread per core

    def shard(self, count):
        """This rank's contiguous part of a global batch of ``count`` items (split evenly,
        the first ``count % size`` ranks taking one more)."""
        base, extra = divmod(count, self.size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (1 if self.rank < extra else 0))

    def combine(self, params, local_count, global_count, scalars):
        """Turn each rank's gradients of its shard's loss into the gradients of the global
        batch's loss, and sum ``scalars`` (loss, counts, stop flag) over ranks, in one
        Allreduce.  ``local_count / global_count`` weighs a shard-mean loss; pass equal
        counts for summed losses."""
        weight = local_count / global_count
        dense = [p for p in params if p.grad is not None and not isinstance(p.grad, SparseRows)]
        sparse = [p for p in params if isinstance(p.grad, SparseRows)]
        flat = np.concatenate([to_numpy(p.grad).ravel().astype(np.float32) * np.float32(weight) for p in dense]
                              + [np.asarray(scalars, dtype=np.float32)])
        total = np.empty_like(flat)
        self.comm.Allreduce(flat, total, op=self.MPI.SUM)
        offset = 0
        for p in dense:
            xp = get_array_module(p.data)
            p.grad = xp.asarray(total[offset:offset + p.grad.size].reshape(p.grad.shape), dtype=p.data.dtype)
            offset += p.grad.size
        for p in sparse:
            p.grad = self._gather_rows(p.grad, weight)
        return total[offset:].astype(np.float64)

    def _gather_rows(self, grad, weight):
        rows = to_numpy(grad.rows).astype(np.int64)
        values = to_numpy(grad.values).astype(np.float32) * np.float32(weight)
        counts = np.array(self.comm.allgather(len(rows)))
        all_rows = np.empty(counts.sum(), np.int64)
        all_values = np.empty((counts.sum(), values.shape[1]), np.float32)
        self.comm.Allgatherv(rows, [all_rows, counts])
        self.comm.Allgatherv(values, [all_values, counts * values.shape[1]])
        xp = get_array_module(grad.values)
        return SparseRows(xp.asarray(all_rows), xp.asarray(all_values, dtype=grad.values.dtype), grad.shape)

    def broadcast_parameters(self, params):
        """Make every rank start from rank 0's parameters (one Bcast of a flat buffer)."""
        flat = np.concatenate([to_numpy(p.data).ravel().astype(np.float64) for p in params])
        self.comm.Bcast(flat, root=0)
        offset = 0
        for p in params:
            xp = get_array_module(p.data)
            p.data[...] = xp.asarray(flat[offset:offset + p.data.size].reshape(p.shape))
            offset += p.data.size

    def sum(self, values):
        values = np.asarray(values, dtype=np.float64)
        total = np.empty_like(values)
        self.comm.Allreduce(values, total, op=self.MPI.SUM)
        return total

    def share(self, value):
        """Rank 0's ``value`` on every rank (a small Python object)."""
        return self.comm.bcast(value, root=0)

    def barrier(self):
        self.comm.Barrier()

    def abort(self, code):
        self.comm.Abort(code)


def make_communicator(kind):
    if kind in (None, "none"):
        return SingleProcess()
    if kind == "mpi":
        return MPIComm()
    raise DistributedError(f"unknown --distributed {kind!r}; valid: mpi")
