"""Optimizer updates in place: of the touched rows of an embedding table (``*_rows``, one
thread per range of rows) and of a dense parameter (``*_dense``, serial: beside BLAS it must
not wake Numba's thread pool, whose spinning slows OpenBLAS; the optimizer runs a large
parameter's slices on the kernel threads, as ``kernels.map_chunks`` runs the convolutions'
chunks; it makes one pass over the arrays where NumPy makes several with temporaries).

``rows`` are distinct (a coalesced :class:`SparseRows`); each row is read, updated and
written back once, with no gathered copies.  The arithmetic, written once per optimizer
below, is the reference's (``Optimizer._dense_step``) operation for operation, with every
constant passed in the table's dtype, so both paths give the same bits.
References: ``SGD.update``, ``AdaGrad.update``, ``Adam.update`` in ``nnpipe.optim``.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from . import jit


@jit
def _sgd(p, g, lr, weight_decay):
    for d in range(p.shape[0]):
        p[d] -= lr * (g[d] + weight_decay * p[d])


@jit
def _adagrad(p, s, g, lr, eps, weight_decay):
    for d in range(p.shape[0]):
        grad = g[d] + weight_decay * p[d]
        s[d] += grad * grad
        p[d] -= lr * grad / (np.sqrt(s[d]) + eps)


@jit
def _adam(p, m, v, g, beta1, rest1, beta2, rest2, step_size, bias2_sqrt, eps, weight_decay):
    """``rest1``, ``rest2`` are 1 - β1 and 1 - β2 rounded to the dtype, as the reference has them."""
    for d in range(p.shape[0]):
        grad = g[d] + weight_decay * p[d]
        m[d] = m[d] * beta1 + rest1 * grad
        v[d] = v[d] * beta2 + rest2 * grad * grad
        p[d] -= step_size * m[d] / (np.sqrt(v[d]) / bias2_sqrt + eps)


@jit(parallel=True)
def sgd_rows(param, rows, values, lr, weight_decay):
    for i in prange(len(rows)):  # rows are distinct: no two threads touch one row
        _sgd(param[rows[i]], values[i], lr, weight_decay)


@jit(parallel=True)
def adagrad_rows(param, sum_squares, rows, values, lr, eps, weight_decay):
    for i in prange(len(rows)):
        _adagrad(param[rows[i]], sum_squares[rows[i]], values[i], lr, eps, weight_decay)


@jit(parallel=True)
def adam_rows(param, m, v, rows, values, beta1, rest1, beta2, rest2, step_size, bias2_sqrt, eps, weight_decay):
    for i in prange(len(rows)):
        r = rows[i]
        _adam(param[r], m[r], v[r], values[i], beta1, rest1, beta2, rest2, step_size, bias2_sqrt, eps, weight_decay)


@jit
def sgd_dense(param, grad, lr, weight_decay):
    _sgd(param.reshape(-1), grad.reshape(-1), lr, weight_decay)


@jit
def adagrad_dense(param, sum_squares, grad, lr, eps, weight_decay):
    _adagrad(param.reshape(-1), sum_squares.reshape(-1), grad.reshape(-1), lr, eps, weight_decay)


@jit
def adam_dense(param, m, v, grad, beta1, rest1, beta2, rest2, step_size, bias2_sqrt, eps, weight_decay):
    _adam(param.reshape(-1), m.reshape(-1), v.reshape(-1), grad.reshape(-1), beta1, rest1, beta2, rest2,
          step_size, bias2_sqrt, eps, weight_decay)


# each optimizer's updates, (of rows, of a dense parameter), by the name its class gives
# (``Optimizer.kernel``); both take (param, *state arrays, [rows,] gradient, *constants)
UPDATES = {"sgd": (sgd_rows, sgd_dense), "adagrad": (adagrad_rows, adagrad_dense), "adam": (adam_rows, adam_dense)}
