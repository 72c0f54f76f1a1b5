"""GloVe's cost over a batch of co-occurrence entries, straight from the four tables, and
its row-sparse gradients already coalesced.

Reference: ``nnpipe.autograd.ops.glove_loss.GloVe`` (gathered rows, NumPy).
"""
from __future__ import annotations

import numpy as np
from numba import prange

from . import jit, jit_math
from .word2vec import LOSS_CHUNKS, _axpy, _dot, _in_order, slot_map


@jit_math(parallel=True)
def glove_forward(W, W_ctx, b, b_ctx, rows, cols, log_counts, weights, inverse, scaled, zero):
    """½·Σ f·(w_i·w̃_j + b_i + b̃_j − log X)²·inverse; fills scaled[e] = f·(…)·inverse, the
    gradient of entry e's cost with respect to its inner expression."""
    entries = len(rows)
    partial = np.zeros(LOSS_CHUNKS)
    for chunk in prange(LOSS_CHUNKS):
        loss = 0.0
        for e in range(chunk * entries // LOSS_CHUNKS, (chunk + 1) * entries // LOSS_CHUNKS):
            i, j = rows[e], cols[e]
            diff = _dot(W[i], W_ctx[j], zero) + b[i, 0] + b_ctx[j, 0] - log_counts[e]
            scaled[e] = weights[e] * diff * inverse
            loss += float(scaled[e]) * float(diff)
        partial[chunk] = loss
    return 0.5 * _in_order(partial)


@jit(parallel=True)
def _fill(W, W_ctx, rows, cols, scaled, gy, at_row, at_col, values, values_ctx, bias, bias_ctx, parts):
    """Each thread owns a range of slots of both tables and sums its entries in order."""
    for part in prange(parts):
        low, high = part * len(values) // parts, (part + 1) * len(values) // parts
        low_ctx, high_ctx = part * len(values_ctx) // parts, (part + 1) * len(values_ctx) // parts
        for e in range(len(rows)):
            g = scaled[e] * gy
            if low <= at_row[e] < high:
                _axpy(g, W_ctx[cols[e]], values[at_row[e]])
                bias[at_row[e], 0] += g
            if low_ctx <= at_col[e] < high_ctx:
                _axpy(g, W[rows[e]], values_ctx[at_col[e]])
                bias_ctx[at_col[e], 0] += g


@jit
def glove_backward(W, W_ctx, rows, cols, scaled, gy, parts):
    """(word rows, their W and b gradients, context rows, their W̃ and b̃ gradients), each
    row once, in order of first appearance, whatever the number of threads."""
    word_rows, at_row, context_rows, at_col, _ = slot_map(W.shape[0], rows, cols, cols[:0])
    values = np.zeros((len(word_rows), W.shape[1]), W.dtype)
    values_ctx = np.zeros((len(context_rows), W.shape[1]), W.dtype)
    bias = np.zeros((len(word_rows), 1), W.dtype)
    bias_ctx = np.zeros((len(context_rows), 1), W.dtype)
    _fill(W, W_ctx, rows, cols, scaled, gy, at_row, at_col, values, values_ctx, bias, bias_ctx, parts)
    return word_rows, values, bias, context_rows, values_ctx, bias_ctx
