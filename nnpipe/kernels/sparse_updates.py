"""Optimizer updates of the touched rows of an embedding table, in place.

``rows`` are distinct (a coalesced :class:`SparseRows`); each row is read, updated and
written back once, with no gathered copies.  The arithmetic is the reference's
(``Optimizer._dense_step`` on gathered rows) operation for operation, with every
constant passed in the table's dtype, so both paths give the same bits.
References: ``SGD.update``, ``AdaGrad.update``, ``Adam.update`` in ``nnpipe.optim``.
"""
from __future__ import annotations

import numpy as np

from numba import prange

from . import jit


@jit(parallel=True)
def sgd_rows(param, rows, values, lr, weight_decay):
    for i in prange(len(rows)):  # rows are distinct: no two threads touch one row
        p, g = param[rows[i]], values[i]
        for d in range(p.shape[0]):
            p[d] -= lr * (g[d] + weight_decay * p[d])


@jit(parallel=True)
def adagrad_rows(param, sum_squares, rows, values, lr, eps, weight_decay):
    for i in prange(len(rows)):  # rows are distinct: no two threads touch one row
        p, s, g = param[rows[i]], sum_squares[rows[i]], values[i]
        for d in range(p.shape[0]):
            grad = g[d] + weight_decay * p[d]
            s[d] += grad * grad
            p[d] -= lr * grad / (np.sqrt(s[d]) + eps)


@jit(parallel=True)
def adam_rows(param, m, v, rows, values, beta1, rest1, beta2, rest2, step_size, bias2_sqrt, eps, weight_decay):
    """``rest1``, ``rest2`` are 1 - β1 and 1 - β2 rounded to the dtype, as the reference has them."""
    for i in prange(len(rows)):  # rows are distinct: no two threads touch one row
        p, mr, vr, g = param[rows[i]], m[rows[i]], v[rows[i]], values[i]
        for d in range(p.shape[0]):
            grad = g[d] + weight_decay * p[d]
            mr[d] = mr[d] * beta1 + rest1 * grad
            vr[d] = vr[d] * beta2 + rest2 * grad * grad
            p[d] -= step_size * mr[d] / (np.sqrt(vr[d]) / bias2_sqrt + eps)
