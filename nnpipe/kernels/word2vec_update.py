"""Word2vec's own update, compiled: skip-gram and CBOW with negative sampling, where SGD
is applied window by window as the errors are found (word2vec.c's order), so frequent
words see fresh rows within a step.

A step's windows are cut into ``chunks`` fixed runs (by window count, not by thread).
Each chunk walks its windows in order on private copies of the rows it touches, taken
from the tables as they were when the step began; :func:`merge_rows` then writes them
back, adding each chunk's change of a row that several touched in chunk order.  So the
result depends on the config and the chunk count, never on the number of threads, and a
resumed run continues bit for bit.  One chunk works on the tables in place: word2vec's
sequential SGD exactly.  Hogwild (``in_place`` with several chunks) lets the chunks race
on the tables as word2vec's and gensim's threads do: faster, but not reproducible.

word2vec.c's names, and nnpipe's (nnpipe's input table holds the window's centre in
skip-gram: the pair (centre, context) is trained as word2vec trains (context, centre),
which is the same sum of terms):

=================  ======================================================================
word2vec.c         here
=================  ======================================================================
``syn0``           ``W_in``: the input vectors (what ``embed`` shows)
``syn1neg``        ``W_out``: the output vectors of positives and negatives
``l1``             ``v`` (skip-gram: the centre's input row) or ``h`` (CBOW: the mean of the
                   context rows, word2vec's ``neu1``)
``l2``             ``u``: the output row of a positive or a negative
``f``              ``f = v·u``
``g``              ``g = (label - σ(f))·alpha``, alpha = the step's learning rate times the
                   loss's scale (1 summed; 1/terms for a mean)
``neu1e``          ``neu1e``: the input row's accumulated change, applied after the window
``alpha``          ``alpha``; its decay is the schedule's, per step
``negative``       the window's K negatives (per pair, or shared by a centre's pairs, counted
                   once per pair: ``g`` times the window's pair count)
=================  ======================================================================

The loss of each window is taken before its update, as word2vec and gensim report it.
References: ``SkipGramNS`` / ``CBOWNS`` followed by an SGD step, one window at a time.
"""
from __future__ import annotations

import math

import numpy as np
from numba import prange

from . import jit, jit_math
from .prefetch import prefetch_row

AHEAD = 8  # rows prefetched ahead in merge_rows


class Workspace:
    """The private rows of a step's chunks and their slot maps, reused from step to step
    (fresh memory each step would cost page faults as large as the step's arithmetic)."""

    def __init__(self):
        self.arrays = {}

    def get(self, name, shape, dtype, fill=None):
        array = self.arrays.get(name)
        if array is None or array.dtype != dtype or array.shape[1:] != shape[1:] or len(array) < shape[0]:
            array = np.empty((max(shape[0], 2 * len(array) if array is not None else 0), *shape[1:]), dtype)
            if fill is not None:
                array.fill(fill)
            self.arrays[name] = array
        return array


@jit
def chunk_bounds(windows, starts, chunks, negatives, vocab):
    """Per chunk: its first window, and where its input and output rows go in the private
    buffers (room for every row it could touch: each window's centre or contexts, each
    pair's context or centre, each window's negatives; never more than the vocabulary)."""
    first = np.empty(chunks + 1, np.int64)
    room_in, room_out = np.zeros(chunks + 1, np.int64), np.zeros(chunks + 1, np.int64)
    for c in range(chunks + 1):
        first[c] = c * windows // chunks
    for c in range(chunks):
        pairs = starts[first[c + 1]] - starts[first[c]]
        windows_in = first[c + 1] - first[c]
        room_in[c + 1] = room_in[c] + min(pairs + windows_in, vocab)
        room_out[c + 1] = room_out[c] + min(pairs + windows_in * (negatives + 1), vocab)
    return first, room_in, room_out


@jit(inline="always")
def _private_row(table, row, slot_map, rows, local, offset, used, in_place):
    """Where ``row`` is in the chunk's private rows, copied from the table on first touch;
    (its index in ``local``, rows used).  ``in_place``: ``local`` is the table itself."""
    if in_place:
        return row, used
    slot = slot_map[row]
    if slot < 0:
        slot = used
        slot_map[row] = slot
        rows[offset + slot] = row
        for d in range(table.shape[1]):
            local[offset + slot, d] = table[row, d]
        used += 1
    return offset + slot, used


# σ(x) and log(1 + e^x) at x = -16 + i/256: read between two entries, they are within
# 2e-7 and 5e-7 of the truth (h²/8 times the second derivative's bound), below what float32
# tables resolve, at a fraction of the cost of exp and log1p (word2vec.c reads σ from a table too)
_GRID = np.arange(8193) / 256.0 - 16.0
SIGMOID_TABLE, SOFTPLUS_TABLE = 1 / (1 + np.exp(-_GRID)), np.logaddexp(0, _GRID)


@jit(inline="always")
def _sigmoid_and_loss(f, label, tabled):
    """(σ(f), the target's loss log(1 + e^signed), signed = -f for a positive, f for a
    negative); interpolated in the tables when ``tabled`` (float32 tables) and |f| < 16,
    computed from one exponential otherwise (float64: the reference's arithmetic)."""
    signed = -f if label else f
    if tabled and abs(f) < 16.0:
        x = (f + 16.0) * 256.0
        i = int(x)
        sigmoid = SIGMOID_TABLE[i] + (x - i) * (SIGMOID_TABLE[i + 1] - SIGMOID_TABLE[i])
        y = (signed + 16.0) * 256.0
        j = int(y)
        return sigmoid, SOFTPLUS_TABLE[j] + (y - j) * (SOFTPLUS_TABLE[j + 1] - SOFTPLUS_TABLE[j])
    e = math.exp(-abs(f))  # σ and the loss share it: σ(|f|) = 1 / (1 + e)
    return (1.0 / (1.0 + e) if f >= 0 else e / (1.0 + e)), max(signed, 0.0) + math.log1p(e)


@jit_math(inline="always")
def _train_window(L_v, v, L_u, targets, labels, weights, n, alpha, g, neu1e, tabled):
    """word2vec's inner loop for one window, on the rows ``L_v[v]`` (input side: the centre,
    or CBOW's mean) and ``L_u[targets[:n]]`` (output side): first every target's error
    g = (label - σ(f))·alpha·weight from the rows as the window found them (the dot
    products are independent, so they overlap in the CPU), then neu1e collects v's change
    and each output row moves: the reference's gradient of the window, applied at once.
    Returns the window's loss, Σ weight·(-log σ(±f)).  Rows are indexed, not sliced: a
    view per target costs more than its arithmetic.  ``tabled``: see :func:`_sigmoid_and_loss`."""
    loss = 0.0
    for t in range(n):
        u = targets[t]
        f = L_v[v, 0] * 0
        for d in range(L_v.shape[1]):
            f += L_v[v, d] * L_u[u, d]
        f = float(f)
        sigmoid, target_loss = _sigmoid_and_loss(f, labels[t], tabled)
        loss += weights[t] * target_loss
        g[t] = L_v.dtype.type((labels[t] - sigmoid) * alpha * weights[t])
    neu1e[:] = 0
    for t in range(n):  # all of v's change first: a word twice among the targets moves after it
        u, step = targets[t], g[t]
        for d in range(L_v.shape[1]):
            neu1e[d] += step * L_u[u, d]
    for t in range(n):
        u, step = targets[t], g[t]
        for d in range(L_v.shape[1]):
            L_u[u, d] += step * L_v[v, d]
    return loss


@jit(inline="always")
def _prefetch_private(table, row, slot_map, local, offset):
    """Ask for the row a later window will need: its private copy, or the table's row that
    will be copied."""
    if slot_map[row] >= 0:
        prefetch_row(local, offset + slot_map[row])
    else:
        prefetch_row(table, row)


@jit
def _most_pairs(starts):
    most = 0
    for w in range(len(starts) - 1):
        most = max(most, starts[w + 1] - starts[w])
    return most


@jit_math(parallel=True)
def skipgram_fused(W_in, W_out, window_centers, contexts, starts, negatives, alpha, tabled, in_place, first,
                   room_in, room_out, slot_maps, rows_in, local_in, rows_out, local_out, used):
    """Skip-gram's step (see the module docstring): window w's centre row against its pairs'
    contexts (label 1) and its negatives (label 0, counted once per pair), neu1e added to
    the centre after the window.  Leaves each chunk's rows in ``local_*`` (which rows: in
    ``rows_*`` and ``slot_maps``, ``used[c]`` = (input rows, output rows)) for
    :func:`merge_rows`, and returns the loss, summed in chunk order.  ``tabled``: σ and
    the loss read from tables (float32); ``in_place``: ``local_*`` are the tables, updated
    as the chunks go (one chunk: word2vec exactly; several: Hogwild, as word2vec and gensim
    run their threads); ``first``, ``room_*``: :func:`chunk_bounds`; ``slot_maps``: a
    (chunk, table, row) map of -1s."""
    k_count, chunks = negatives.shape[1], len(first) - 1
    most = _most_pairs(starts) + k_count
    partial = np.zeros(chunks)
    for c in prange(chunks):
        slot_map = slot_maps[c]
        targets, labels, weights = np.empty(most, np.int64), np.empty(most, np.int64), np.empty(most)
        g, neu1e = np.empty(most, W_in.dtype), np.empty(W_in.shape[1], W_in.dtype)
        loss, n_in, n_out = 0.0, 0, 0
        for w in range(first[c], first[c + 1]):
            count = starts[w + 1] - starts[w]
            if count == 0:
                continue
            if w + 1 < first[c + 1]:  # the next window's rows load while this one is computed
                _prefetch_private(W_in, window_centers[w + 1], slot_map[0], local_in, room_in[c])
                for b in range(starts[w + 1], starts[w + 2]):
                    _prefetch_private(W_out, contexts[b], slot_map[1], local_out, room_out[c])
                for k in range(k_count):
                    _prefetch_private(W_out, negatives[w + 1, k], slot_map[1], local_out, room_out[c])
            v, n_in = _private_row(W_in, window_centers[w], slot_map[0], rows_in, local_in, room_in[c], n_in, in_place)
            n = 0
            for b in range(starts[w], starts[w + 1]):
                targets[n], n_out = _private_row(W_out, contexts[b], slot_map[1], rows_out, local_out, room_out[c],
                                                 n_out, in_place)
                labels[n], weights[n], n = 1, 1.0, n + 1
            for k in range(k_count):
                targets[n], n_out = _private_row(W_out, negatives[w, k], slot_map[1], rows_out, local_out,
                                                 room_out[c], n_out, in_place)
                labels[n], weights[n], n = 0, count, n + 1
            loss += _train_window(local_in, v, local_out, targets, labels, weights, n, alpha, g, neu1e, tabled)
            for d in range(W_in.shape[1]):
                local_in[v, d] += neu1e[d]
        used[c, 0], used[c, 1] = n_in, n_out
        partial[c] = loss
    return _in_chunk_order(partial)


@jit_math(parallel=True)
def cbow_fused(W_in, W_out, window_centers, contexts, starts, negatives, alpha, tabled, exact, in_place, first,
               room_in, room_out, slot_maps, rows_in, local_in, rows_out, local_out, used):
    """CBOW's step: h, the mean of window w's context rows (word2vec's ``neu1``), against
    the centre's output row (label 1) and the negatives (label 0); neu1e is then added to
    every context row (divided by their number when ``exact``).  Every window has at least
    one context.  Arguments and outputs as :func:`skipgram_fused`."""
    k_count, chunks = negatives.shape[1], len(first) - 1
    partial = np.zeros(chunks)
    for c in prange(chunks):
        slot_map = slot_maps[c]
        targets, labels, weights = np.empty(k_count + 1, np.int64), np.zeros(k_count + 1, np.int64), \
            np.ones(k_count + 1)
        labels[0] = 1  # the centre; then the negatives
        g, neu1e = np.empty(k_count + 1, W_in.dtype), np.empty(W_in.shape[1], W_in.dtype)
        h = np.empty((1, W_in.shape[1]), W_in.dtype)  # a table of one row, as _train_window takes
        loss, n_in, n_out = 0.0, 0, 0
        for w in range(first[c], first[c + 1]):
            count = starts[w + 1] - starts[w]
            if w + 1 < first[c + 1]:  # the next window's rows load while this one is computed
                for b in range(starts[w + 1], starts[w + 2]):
                    _prefetch_private(W_in, contexts[b], slot_map[0], local_in, room_in[c])
                _prefetch_private(W_out, window_centers[w + 1], slot_map[1], local_out, room_out[c])
                for k in range(k_count):
                    _prefetch_private(W_out, negatives[w + 1, k], slot_map[1], local_out, room_out[c])
            h[0] = 0
            for b in range(starts[w], starts[w + 1]):
                x, n_in = _private_row(W_in, contexts[b], slot_map[0], rows_in, local_in, room_in[c], n_in, in_place)
                for d in range(h.shape[1]):
                    h[0, d] += local_in[x, d]
            inverse = h.dtype.type(1) / count
            for d in range(h.shape[1]):
                h[0, d] *= inverse
            targets[0], n_out = _private_row(W_out, window_centers[w], slot_map[1], rows_out, local_out, room_out[c],
                                             n_out, in_place)
            for k in range(k_count):
                targets[k + 1], n_out = _private_row(W_out, negatives[w, k], slot_map[1], rows_out, local_out,
                                                     room_out[c], n_out, in_place)
            loss += _train_window(h, 0, local_out, targets, labels, weights, k_count + 1, alpha, g, neu1e,
                                  tabled)
            share = inverse if exact else h.dtype.type(1)
            for b in range(starts[w], starts[w + 1]):
                x, n_in = _private_row(W_in, contexts[b], slot_map[0], rows_in, local_in, room_in[c], n_in, in_place)
                for d in range(h.shape[1]):
                    local_in[x, d] += share * neu1e[d]
        used[c, 0], used[c, 1] = n_in, n_out
        partial[c] = loss
    return _in_chunk_order(partial)


@jit
def _in_chunk_order(partial):
    total = 0.0
    for c in range(len(partial)):
        total += partial[c]
    return total


@jit(parallel=True)
def merge_rows(table, which, slot_maps, rows, local, offsets, used, parts, apply):
    """Write the chunks' rows of one table (``which``: 0 input, 1 output) back: a row one
    chunk touched takes that chunk's value; a row several touched becomes its value at the
    step's start plus each chunk's change, added in chunk order.  ``parts`` threads split
    the table into ranges of rows: each row is done by one thread, the same way whatever
    the thread count.  Clears the slot maps (``apply`` False: only that, after a
    step whose loss was not finite)."""
    chunks, vocab = len(used), table.shape[0]
    for part in prange(parts):
        low, high = part * vocab // parts, (part + 1) * vocab // parts
        start = np.empty(table.shape[1], table.dtype)
        slots = np.empty(chunks, np.int64)
        for c in range(chunks if apply else 0):
            for s in range(offsets[c], offsets[c] + used[c]):
                if s + AHEAD < offsets[c] + used[c] and low <= rows[s + AHEAD] < high:
                    prefetch_row(table, rows[s + AHEAD])  # the rows are in no order: ask early
                    prefetch_row(local, s + AHEAD)
                row = rows[s]
                if not low <= row < high or _touched_before(slot_maps, which, row, c):
                    continue
                count = 0
                for later in range(c, chunks):
                    if slot_maps[later, which, row] >= 0:
                        slots[count] = offsets[later] + slot_maps[later, which, row]
                        count += 1
                if count == 1:
                    table[row] = local[s]
                    continue
                start[:] = table[row]
                for j in range(count):
                    for d in range(table.shape[1]):
                        table[row, d] += local[slots[j], d] - start[d]
        for c in range(chunks):  # each thread clears the entries of its own rows
            for s in range(offsets[c], offsets[c] + used[c]):
                if low <= rows[s] < high:
                    slot_maps[c, which, rows[s]] = -1


@jit(inline="always")
def _touched_before(slot_maps, which, row, chunk):
    for earlier in range(chunk):
        if slot_maps[earlier, which, row] >= 0:
            return True
    return False
