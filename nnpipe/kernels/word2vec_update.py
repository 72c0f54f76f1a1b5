"""Word2vec's own update, compiled: skip-gram and CBOW with negative sampling, where SGD
is applied window by window as the errors are found (word2vec.c's order), so frequent
words see fresh rows within a step.

A step's windows are cut into ``chunks`` fixed runs (by window count, not by thread).
Each chunk walks its windows in order on private copies of the rows it touches, taken
from the tables as they were when the step began; :func:`merge_rows` then writes them
back, adding each chunk's change of a row that several touched in chunk order.  So the
result depends on the config and the chunk count, never on the number of threads, and a
resumed run continues bit for bit.  One chunk works on the tables in place
(:func:`skipgram_windows`, :func:`cbow_windows`): word2vec's sequential SGD exactly, on one
thread.  Hogwild (:func:`skipgram_hogwild`, :func:`cbow_hogwild`) lets the chunks race on
the tables as word2vec's and gensim's threads do: faster, but not reproducible.

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
def _private_row(table, row, slot_map, rows, local, offset, used):
    """Where ``row`` is in the chunk's private rows, copied from the table on first touch;
    (its index in ``local``, rows used)."""
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
def _train_window(h, L_u, targets, n, positives, negative_weight, alpha, g, neu1e, tabled):
    """word2vec's inner loop for one window: ``h`` (a copy of the input side's row: the
    centre, or CBOW's mean) against the output rows ``L_u[targets[:n]]``, the first
    ``positives`` of them labelled 1, the rest 0 and counted ``negative_weight`` times.
    First every target's error g = (label - σ(f))·alpha·weight from the rows as the window
    found them (the dot products are independent, so they overlap in the CPU), then neu1e
    collects h's change and each output row moves: the reference's gradient of the window,
    applied at once (one pass per row when the targets are distinct rows, as they almost
    always are; a repeated row gives all its shares to neu1e before it moves).  Returns
    the window's loss, Σ weight·(-log σ(±f)).  Rows are indexed, not sliced: a view per
    target costs more than its arithmetic.  ``tabled``: see :func:`_sigmoid_and_loss`."""
    loss = 0.0
    for t in range(n):
        u = targets[t]
        f = h.dtype.type(0)
        for d in range(len(h)):
            f += h[d] * L_u[u, d]
        positive = t < positives
        weight = 1.0 if positive else negative_weight
        sigmoid, target_loss = _sigmoid_and_loss(float(f), positive, tabled)
        loss += weight * target_loss
        g[t] = h.dtype.type(((1.0 if positive else 0.0) - sigmoid) * alpha * weight)
    neu1e[:] = 0
    if _repeats(targets, n):  # all of h's change first: a word twice among the targets moves after it
        for t in range(n):
            u, step = targets[t], g[t]
            for d in range(len(h)):
                neu1e[d] += step * L_u[u, d]
        for t in range(n):
            u, step = targets[t], g[t]
            for d in range(len(h)):
                L_u[u, d] += step * h[d]
        return loss
    for t in range(n):  # distinct rows: each one's share of neu1e, then its move, in one pass
        u, step = targets[t], g[t]
        for d in range(len(h)):
            row = L_u[u, d]
            neu1e[d] += step * row
            L_u[u, d] = row + step * h[d]
    return loss


@jit(inline="always")
def _repeats(targets, n):
    """Whether a row appears twice among ``targets[:n]`` (branch-free: they rarely do)."""
    repeated = False
    for t in range(1, n):
        for s in range(t):
            repeated |= targets[s] == targets[t]
    return repeated


@jit_math(inline="always")
def _skipgram_window(L_in, L_out, v, targets, n, count, alpha, h, g, neu1e, tabled):
    """Skip-gram's window: the centre row ``L_in[v]`` against its ``count`` contexts (the
    first targets, label 1) and the negatives (label 0, counted once per pair), neu1e added
    to the centre after the window.  The window's loss."""
    for d in range(len(h)):
        h[d] = L_in[v, d]
    loss = _train_window(h, L_out, targets, n, count, float(count), alpha, g, neu1e, tabled)
    for d in range(len(h)):
        L_in[v, d] += neu1e[d]
    return loss


@jit_math(inline="always")
def _cbow_window(L_in, L_out, inputs, low, high, targets, n, alpha, exact, h, g, neu1e, tabled):
    """CBOW's window: h, the mean of the context rows ``L_in[inputs[low:high]]`` (word2vec's
    ``neu1``), against the centre's output row (the first target, label 1) and the
    negatives (label 0); neu1e is then added to every context row (divided by their number
    when ``exact``).  The window's loss."""
    first = inputs[low]
    for d in range(len(h)):
        h[d] = L_in[first, d]
    for i in range(low + 1, high):
        x = inputs[i]
        for d in range(len(h)):
            h[d] += L_in[x, d]
    inverse = h.dtype.type(1.0 / (high - low))  # in the tables' dtype: float32 math stays float32
    for d in range(len(h)):
        h[d] *= inverse
    loss = _train_window(h, L_out, targets, n, 1, 1.0, alpha, g, neu1e, tabled)
    if exact:
        for d in range(len(h)):
            neu1e[d] *= inverse
    for i in range(low, high):
        x = inputs[i]
        for d in range(len(h)):
            L_in[x, d] += neu1e[d]
    return loss


@jit
def _most_pairs(starts):
    most = 0
    for w in range(len(starts) - 1):
        most = max(most, starts[w + 1] - starts[w])
    return most


@jit(inline="always")
def _window_buffers(most, W_in):
    """A walk's scratch: targets and their errors g (room for ``most``), h and neu1e."""
    dim, dtype = W_in.shape[1], W_in.dtype
    return np.empty(most, np.int64), np.empty(most, dtype), np.empty(dim, dtype), np.empty(dim, dtype)


@jit(inline="always")
def _prefetch_window(W_in, W_out, window_centers, contexts, starts, negatives, w, cbow):
    """Ask for window w's rows (in place), to load while the window before it is computed."""
    for b in range(starts[w], starts[w + 1]):
        prefetch_row(W_in if cbow else W_out, contexts[b])
    prefetch_row(W_out if cbow else W_in, window_centers[w])
    for k in range(negatives.shape[1]):
        prefetch_row(W_out, negatives[w, k])


@jit(inline="always")
def _window_targets(targets, first_targets, low, high, negatives, w):
    """targets = first_targets[low:high], then window w's negatives; their number."""
    n = 0
    for b in range(low, high):
        targets[n] = first_targets[b]
        n += 1
    for k in range(negatives.shape[1]):
        targets[n] = negatives[w, k]
        n += 1
    return n


@jit_math
def skipgram_windows(W_in, W_out, window_centers, contexts, starts, negatives, alpha, tabled, low, high):
    """Skip-gram's windows ``low:high`` on the tables themselves, one after another
    (word2vec's sequential pass; see the module docstring); their loss.  ``tabled``: σ and
    the loss read from tables (float32)."""
    most = _most_pairs(starts) + negatives.shape[1]
    targets, g, h, neu1e = _window_buffers(most, W_in)
    loss = 0.0
    for w in range(low, high):
        if w + 1 < high:
            _prefetch_window(W_in, W_out, window_centers, contexts, starts, negatives, w + 1, False)
        count = starts[w + 1] - starts[w]
        if count > 0:
            n = _window_targets(targets, contexts, starts[w], starts[w + 1], negatives, w)
            loss += _skipgram_window(W_in, W_out, window_centers[w], targets, n, count, alpha, h, g, neu1e, tabled)
    return loss


@jit_math
def cbow_windows(W_in, W_out, window_centers, contexts, starts, negatives, alpha, tabled, exact, low, high):
    """CBOW's windows ``low:high`` on the tables themselves, as :func:`skipgram_windows`.
    Every window has at least one context."""
    k_count = negatives.shape[1]
    targets, g, h, neu1e = _window_buffers(k_count + 1, W_in)
    loss = 0.0
    for w in range(low, high):
        if w + 1 < high:
            _prefetch_window(W_in, W_out, window_centers, contexts, starts, negatives, w + 1, True)
        n = _window_targets(targets, window_centers, w, w + 1, negatives, w)
        loss += _cbow_window(W_in, W_out, contexts, starts[w], starts[w + 1], targets, n, alpha, exact, h, g, neu1e,
                             tabled)
    return loss


@jit_math(parallel=True)
def skipgram_hogwild(W_in, W_out, window_centers, contexts, starts, negatives, alpha, tabled, first):
    """:func:`skipgram_windows` of each chunk (``first``: :func:`chunk_bounds`) on its own
    thread, racing on the tables as word2vec's and gensim's threads do; the loss, summed in
    chunk order."""
    partial = np.zeros(len(first) - 1)
    for c in prange(len(first) - 1):
        partial[c] = skipgram_windows(W_in, W_out, window_centers, contexts, starts, negatives, alpha, tabled,
                                      first[c], first[c + 1])
    return _in_chunk_order(partial)


@jit_math(parallel=True)
def cbow_hogwild(W_in, W_out, window_centers, contexts, starts, negatives, alpha, tabled, exact, first):
    """:func:`cbow_windows` of each chunk on its own thread, as :func:`skipgram_hogwild`."""
    partial = np.zeros(len(first) - 1)
    for c in prange(len(first) - 1):
        partial[c] = cbow_windows(W_in, W_out, window_centers, contexts, starts, negatives, alpha, tabled, exact,
                                  first[c], first[c + 1])
    return _in_chunk_order(partial)


@jit(inline="always")
def _prefetch_private(table, row, slot_map, local, offset):
    """Ask for the row a later window will need: its private copy, or the table's row that
    will be copied."""
    if slot_map[row] >= 0:
        prefetch_row(local, offset + slot_map[row])
    else:
        prefetch_row(table, row)


@jit_math(parallel=True)
def skipgram_fused(W_in, W_out, window_centers, contexts, starts, negatives, alpha, tabled, first, room_in, room_out,
                   slot_maps, rows_in, local_in, rows_out, local_out, used):
    """Skip-gram's step in chunks of private rows (see the module docstring), window by
    window as :func:`skipgram_windows`.  Leaves each chunk's rows in ``local_*`` (which
    rows: in ``rows_*`` and ``slot_maps``, ``used[c]`` = (input rows, output rows)) for
    :func:`merge_rows`, and returns the loss, summed in chunk order.  ``first``,
    ``room_*``: :func:`chunk_bounds`; ``slot_maps``: a (chunk, table, row) map of -1s."""
    k_count, chunks = negatives.shape[1], len(first) - 1
    most = _most_pairs(starts) + k_count
    partial = np.zeros(chunks)
    for c in prange(chunks):
        slot_map = slot_maps[c]
        targets, g, h, neu1e = _window_buffers(most, W_in)
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
            v, n_in = _private_row(W_in, window_centers[w], slot_map[0], rows_in, local_in, room_in[c], n_in)
            n = _window_targets(targets, contexts, starts[w], starts[w + 1], negatives, w)
            for t in range(n):
                targets[t], n_out = _private_row(W_out, targets[t], slot_map[1], rows_out, local_out, room_out[c],
                                                 n_out)
            loss += _skipgram_window(local_in, local_out, v, targets, n, count, alpha, h, g, neu1e, tabled)
        used[c, 0], used[c, 1] = n_in, n_out
        partial[c] = loss
    return _in_chunk_order(partial)


@jit_math(parallel=True)
def cbow_fused(W_in, W_out, window_centers, contexts, starts, negatives, alpha, tabled, exact, first, room_in,
               room_out, slot_maps, rows_in, local_in, rows_out, local_out, used):
    """CBOW's step in chunks of private rows, window by window as :func:`cbow_windows`.
    Arguments and outputs as :func:`skipgram_fused`."""
    k_count, chunks = negatives.shape[1], len(first) - 1
    most = _most_pairs(starts)
    partial = np.zeros(chunks)
    for c in prange(chunks):
        slot_map = slot_maps[c]
        targets, g, h, neu1e = _window_buffers(k_count + 1, W_in)
        inputs = np.empty(most, np.int64)
        loss, n_in, n_out = 0.0, 0, 0
        for w in range(first[c], first[c + 1]):
            if w + 1 < first[c + 1]:  # the next window's rows load while this one is computed
                for b in range(starts[w + 1], starts[w + 2]):
                    _prefetch_private(W_in, contexts[b], slot_map[0], local_in, room_in[c])
                _prefetch_private(W_out, window_centers[w + 1], slot_map[1], local_out, room_out[c])
                for k in range(k_count):
                    _prefetch_private(W_out, negatives[w + 1, k], slot_map[1], local_out, room_out[c])
            count = starts[w + 1] - starts[w]
            for i in range(count):
                inputs[i], n_in = _private_row(W_in, contexts[starts[w] + i], slot_map[0], rows_in, local_in,
                                               room_in[c], n_in)
            n = _window_targets(targets, window_centers, w, w + 1, negatives, w)
            for t in range(n):
                targets[t], n_out = _private_row(W_out, targets[t], slot_map[1], rows_out, local_out, room_out[c],
                                                 n_out)
            loss += _cbow_window(local_in, local_out, inputs, 0, count, targets, n, alpha, exact, h, g, neu1e,
                                 tabled)
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
