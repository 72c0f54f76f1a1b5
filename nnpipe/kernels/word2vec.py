"""Word2vec kernels: skip-gram pairs of a batch, and the negative-sampling loss straight
from the two embedding tables with its row-sparse gradients.

References: ``nnpipe.data.text.skipgram_pairs`` (vectorised pairs) and
``nnpipe.autograd.ops.loss_functions.SkipGramNS`` (gather + ``SGNS``).
"""
from __future__ import annotations

import math

import numpy as np
from numba import prange

from . import jit, jit_math


@jit
def skipgram_pairs(ids, sentence_of, centers, reach, window):
    """(centre ids, context ids) in the reference's order: by distance, then left before
    right, then centre position."""
    count, total = len(centers), len(ids)
    center_out = np.empty(count * 2 * window, ids.dtype)
    context_out = np.empty(count * 2 * window, ids.dtype)
    made = 0
    for distance in range(1, window + 1):
        for sign in (-1, 1):
            for j in range(count):
                if reach[j] < distance:
                    continue
                position = centers[j]
                neighbour = position + sign * distance
                if 0 <= neighbour < total and sentence_of[position] == sentence_of[neighbour]:
                    center_out[made] = ids[position]
                    context_out[made] = ids[neighbour]
                    made += 1
    return center_out[:made], context_out[:made]


@jit
def _sigmoid(s):
    if s >= 0:
        return 1.0 / (1.0 + math.exp(-s))
    e = math.exp(s)
    return e / (1.0 + e)


@jit
def _softplus(s):
    """log(1 + e^s), stable for large |s|."""
    return max(s, 0.0) + math.log1p(math.exp(-abs(s)))


@jit_math
def _dot(a, b, zero):
    total = zero  # of the arrays' dtype, so the sum vectorises in it
    for d in range(a.shape[0]):
        total += a[d] * b[d]
    return total


# The loss is summed in this many fixed chunks of pairs, whatever the number of threads,
# so it comes out bit for bit the same on any machine.
LOSS_CHUNKS = 16


@jit_math(parallel=True)
def sgns_forward(W_in, W_out, centers, contexts, negatives, g_pos, g_neg, zero):
    """Σ over pairs of -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c); fills the derivatives of the
    loss by the dot products: g_pos[b] = σ(u_o·v_c) - 1, g_neg[b, k] = σ(u_k·v_c).
    ``zero`` is 0 in the tables' dtype (the dot products are summed in it)."""
    pairs, k_count = negatives.shape
    partial = np.zeros(LOSS_CHUNKS)
    for chunk in prange(LOSS_CHUNKS):
        loss = 0.0
        for b in range(chunk * pairs // LOSS_CHUNKS, (chunk + 1) * pairs // LOSS_CHUNKS):
            v = W_in[centers[b]]
            s = float(_dot(v, W_out[contexts[b]], zero))
            loss += _softplus(-s)
            g_pos[b] = _sigmoid(s) - 1.0
            for k in range(k_count):
                t = float(_dot(v, W_out[negatives[b, k]], zero))
                loss += _softplus(t)
                g_neg[b, k] = _sigmoid(t)
        partial[chunk] = loss
    total = 0.0
    for chunk in range(LOSS_CHUNKS):
        total += partial[chunk]
    return total


@jit_math
def _axpy(a, x, y):
    """y += a · x (whole rows: a loop over the full length vectorises best)."""
    for d in range(x.shape[0]):
        y[d] += a * x[d]


@jit
def _slots(keys, slot, rows, used):
    """The slot of each key (a row of the gradient values), giving each new key the next
    slot in order of first appearance; ``slot`` maps table rows to slots (-1: none yet)
    and ``rows`` collects the distinct keys.  Returns (slots of ``keys``, slots used)."""
    where = np.empty(keys.shape, np.int64)
    flat_keys, flat_where = keys.reshape(-1), where.reshape(-1)
    for i in range(flat_keys.shape[0]):
        key = flat_keys[i]
        if slot[key] < 0:
            slot[key] = used
            rows[used] = key
            used += 1
        flat_where[i] = slot[key]
    return where, used


@jit_math(parallel=True)
def sgns_backward(W_in, W_out, centers, contexts, negatives, g_pos, g_neg, scale, parts):
    """Coalesced row-sparse gradients of both tables: (rows_in, values_in, rows_out,
    values_out), each row once, in order of first appearance.

    ``parts`` threads split the gradient rows, not the pairs (each takes a range of slots):
    each row is summed over the pairs in their order by one thread, so the result does
    not depend on the number of threads and no per-thread buffers are needed."""
    pairs, k_count = negatives.shape
    vocab, dim = W_in.shape
    slot = np.full(vocab, -1, np.int64)
    rows_in = np.empty(pairs, np.int64)
    at_center, used_in = _slots(centers, slot, rows_in, 0)
    slot[rows_in[:used_in]] = -1
    rows_out = np.empty(pairs * (k_count + 1), np.int64)
    at_context, used_out = _slots(contexts, slot, rows_out, 0)
    at_negative, used_out = _slots(negatives, slot, rows_out, used_out)
    values_in = np.zeros((used_in, dim), W_in.dtype)
    values_out = np.zeros((used_out, dim), W_out.dtype)
    for part in prange(parts):
        low, high = part * used_in // parts, (part + 1) * used_in // parts
        for b in range(pairs):
            if low <= at_center[b] < high:
                target = values_in[at_center[b]]
                _axpy(g_pos[b] * scale, W_out[contexts[b]], target)
                for k in range(k_count):
                    _axpy(g_neg[b, k] * scale, W_out[negatives[b, k]], target)
        low, high = part * used_out // parts, (part + 1) * used_out // parts
        for b in range(pairs):
            v = W_in[centers[b]]
            if low <= at_context[b] < high:
                _axpy(g_pos[b] * scale, v, values_out[at_context[b]])
            for k in range(k_count):
                if low <= at_negative[b, k] < high:
                    _axpy(g_neg[b, k] * scale, v, values_out[at_negative[b, k]])
    return rows_in[:used_in], values_in, rows_out[:used_out], values_out
