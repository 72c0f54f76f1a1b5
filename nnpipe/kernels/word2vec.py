"""Word2vec kernels: skip-gram pairs of a batch, and the negative-sampling loss straight
from the two embedding tables with its row-sparse gradients.

References: ``nnpipe.data.text.skipgram_pairs`` (vectorised pairs) and
``nnpipe.autograd.ops.word_losses.SkipGramNS`` and ``CBOWNS`` (gather + ``NegativeSampling``).
"""
from __future__ import annotations

import math

import numpy as np
from numba import prange

from . import jit, jit_math
from .prefetch import prefetch_row


@jit
def skipgram_pairs(ids, sentence_of, centers, reach, window):
    """(window of each pair, context ids) in the reference's order: centre by centre,
    then by distance, left before right."""
    count, total = len(centers), len(ids)
    window_out = np.empty(count * 2 * window, np.int64)
    context_out = np.empty(count * 2 * window, ids.dtype)
    made = 0
    for j in range(count):
        position = centers[j]
        for distance in range(1, reach[j] + 1):
            for sign in (-1, 1):
                neighbour = position + sign * distance
                if 0 <= neighbour < total and sentence_of[position] == sentence_of[neighbour]:
                    window_out[made] = j
                    context_out[made] = ids[neighbour]
                    made += 1
    return window_out[:made], context_out[:made]


@jit(parallel=True)
def alias_draw(uniform, keep, alias):
    """Walker's alias method, one uniform number per draw (see ``NegativeSampler``);
    the choice is arithmetic, not a branch, which would be mispredicted half the time."""
    flat_uniform = uniform.reshape(-1)
    words = np.empty(flat_uniform.shape[0], np.int64)
    for i in prange(flat_uniform.shape[0]):
        scaled = flat_uniform[i] * len(keep)
        word = np.int64(scaled)
        use_alias = np.int64(scaled - word >= keep[word])
        words[i] = word + use_alias * (alias[word] - word)
    return words.reshape(uniform.shape)


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


# The loss is summed in this many fixed chunks of windows, whatever the number of threads,
# so it comes out bit for bit the same on any machine.
LOSS_CHUNKS = 16


@jit
def _in_order(partial):
    """The chunks' partial losses summed in chunk order (the same bits on any machine)."""
    total = 0.0
    for chunk in range(LOSS_CHUNKS):
        total += partial[chunk]
    return total


@jit
def window_starts(pair_window, windows):
    """Offsets of each window's pairs (pairs are sorted by window): pairs of window w are
    starts[w]:starts[w + 1].  Branch-free over the pairs (a branch per window change
    mispredicts once a window): each pair writes one past its index as its window's end,
    the last pair's write stands, and a running maximum gives empty windows the end of
    the one before."""
    starts = np.zeros(windows + 1, np.int64)
    wrong, previous = False, 0
    for b in range(len(pair_window)):
        w = pair_window[b]
        wrong |= (w < previous) | (w >= windows)
        previous = w
        starts[min(max(w, 0), windows - 1) + 1] = b + 1  # clamped: a wrong w is refused below
    if wrong:
        raise ValueError("skip-gram pairs must be sorted by window, with windows in range")
    for w in range(windows):
        starts[w + 1] = max(starts[w + 1], starts[w])
    return starts


@jit
def any_empty_window(starts):
    """Whether a window of :func:`window_starts` has no pairs (one pass, no temporaries:
    NumPy's comparison of two slices took 0.07 ms a CBOW step)."""
    empty = False
    for w in range(len(starts) - 1):
        empty |= starts[w] == starts[w + 1]
    return empty


@jit_math(parallel=True)
def skipgram_forward(W_in, W_out, window_centers, contexts, starts, negatives, g_pos, g_neg, zero):
    """Σ over pairs of -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c), where the pairs of window w
    (``starts[w]:starts[w + 1]``) share the centre ``window_centers[w]`` and the negatives
    ``negatives[w]``: each negative's dot product is computed once per window and counts
    once per pair.  Fills g_pos[b] = σ(u_o·v_c) - 1 and g_neg[w, k] = σ(u_k·v_c) (0 for a
    window without pairs).  ``zero`` is 0 in the tables' dtype (dot products sum in it)."""
    windows, k_count = negatives.shape
    partial = np.zeros(LOSS_CHUNKS)
    for chunk in prange(LOSS_CHUNKS):
        loss = 0.0
        end = (chunk + 1) * windows // LOSS_CHUNKS
        for w in range(chunk * windows // LOSS_CHUNKS, end):
            if w + 1 < end:  # the next window's rows load while this one is computed
                _prefetch_window(W_in, W_out, window_centers, contexts, starts, negatives, w + 1)
            v = W_in[window_centers[w]]
            for b in range(starts[w], starts[w + 1]):
                s = float(_dot(v, W_out[contexts[b]], zero))
                loss += _softplus(-s)
                g_pos[b] = _sigmoid(s) - 1.0
            count = starts[w + 1] - starts[w]
            for k in range(k_count):
                g_neg[w, k] = 0.0
                if count:
                    t = float(_dot(v, W_out[negatives[w, k]], zero))
                    loss += count * _softplus(t)
                    g_neg[w, k] = _sigmoid(t)
        partial[chunk] = loss
    return _in_order(partial)


@jit(inline="always")
def _prefetch_window(W_in, W_out, window_centers, contexts, starts, negatives, w):
    """Prefetch the rows window ``w`` reads: its centre's input row, its contexts' and
    negatives' output rows."""
    prefetch_row(W_in, window_centers[w])
    for b in range(starts[w], starts[w + 1]):
        prefetch_row(W_out, contexts[b])
    for k in range(negatives.shape[1]):
        prefetch_row(W_out, negatives[w, k])


@jit_math
def _axpy(a, x, y):
    """y += a · x (whole rows: a loop over the full length vectorises best)."""
    for d in range(x.shape[0]):
        y[d] += a * x[d]


@jit
def _assign_slots(keys, slot, rows, used, where):
    """Give each key not seen yet the next slot (its row of the gradient values) and
    record every key's slot in ``where``; ``slot`` maps table rows to slots (-1: none),
    ``rows`` collects the keys by slot.  Returns the number of slots used."""
    for i in range(keys.shape[0]):
        key = keys[i]
        if slot[key] < 0:
            slot[key] = used
            rows[used] = key
            used += 1
        where[i] = slot[key]
    return used


@jit
def slot_map(vocab, in_keys, out_keys, more_out_keys):
    """The rows of two tables' coalesced gradients and where each key's gradient goes.

    The input table's distinct rows are ``in_keys``' in order of first appearance, the
    output table's those of ``out_keys`` then ``more_out_keys``; returns (input rows, the
    slot of each of ``in_keys`` among them, output rows, the slots of ``out_keys``, the
    slots of ``more_out_keys``).  Every word-vector kernel's backward starts here."""
    slot = np.full(vocab, -1, np.int64)
    rows_in = np.empty(len(in_keys), np.int64)
    at_in = np.empty(len(in_keys), np.int64)
    used_in = _assign_slots(in_keys, slot, rows_in, 0, at_in)
    slot[rows_in[:used_in]] = -1
    rows_out = np.empty(len(out_keys) + len(more_out_keys), np.int64)
    at_out = np.empty(len(out_keys), np.int64)
    at_more = np.empty(len(more_out_keys), np.int64)
    used_out = _assign_slots(out_keys, slot, rows_out, 0, at_out)
    used_out = _assign_slots(more_out_keys, slot, rows_out, used_out, at_more)
    return rows_in[:used_in], at_in, rows_out[:used_out], at_out, at_more


@jit
def _gradient_slots(vocab, window_centers, contexts, starts, negatives):
    """Distinct rows of both gradients in order of first appearance, and where each
    window's centre, each pair's context and each window's negatives go among them
    (-1 for windows without pairs, which touch no row)."""
    windows, k_count = negatives.shape
    active = np.flatnonzero(starts[1:] > starts[:-1])  # windows with pairs
    rows_in, where_center, rows_out, at_context, where_negative = slot_map(
        vocab, window_centers[active], contexts, negatives[active].reshape(-1))
    at_center = np.full(windows, -1, np.int64)
    at_center[active] = where_center
    at_negative = np.full((windows, k_count), -1, np.int64)
    at_negative[active] = where_negative.reshape(len(active), k_count)
    return rows_in, at_center, rows_out, at_context, at_negative


@jit(parallel=True)
def _fill_gradients(W_in, W_out, window_centers, contexts, starts, negatives, g_pos, g_neg, scale, at_center,
                    at_context, at_negative, values_in, values_out, parts):
    for part in prange(parts):
        used_in, used_out = len(values_in), len(values_out)
        _input_rows(W_out, contexts, starts, negatives, g_pos, g_neg, scale, at_center, values_in,
                    part * used_in // parts, (part + 1) * used_in // parts)
        _output_rows(W_in, window_centers, starts, g_pos, g_neg, scale, at_context, at_negative, values_out,
                     part * used_out // parts, (part + 1) * used_out // parts)


@jit
def skipgram_backward(W_in, W_out, window_centers, contexts, starts, negatives, g_pos, g_neg, scale, parts):
    """Coalesced row-sparse gradients of both tables: (rows_in, values_in, rows_out,
    values_out), each row once, in order of first appearance.  Windows without pairs
    touch no row.

    ``parts`` threads split the gradient rows, not the pairs (each takes a range of slots):
    each row is summed over the pairs in their order by one thread, so the result does
    not depend on the number of threads and no per-thread buffers are needed."""
    rows_in, at_center, rows_out, at_context, at_negative = _gradient_slots(
        W_in.shape[0], window_centers, contexts, starts, negatives)
    values_in = np.zeros((len(rows_in), W_in.shape[1]), W_in.dtype)
    values_out = np.zeros((len(rows_out), W_out.shape[1]), W_out.dtype)
    _fill_gradients(W_in, W_out, window_centers, contexts, starts, negatives, g_pos, g_neg, scale, at_center,
                    at_context, at_negative, values_in, values_out, parts)
    return rows_in, values_in, rows_out, values_out


@jit_math
def _input_rows(W_out, contexts, starts, negatives, g_pos, g_neg, scale, at_center, values, low, high):
    """The input-table gradient rows in slots low..high-1: each window's centre row gets
    its pairs' context vectors and its negatives' vectors (once per pair)."""
    for w in range(len(starts) - 1):
        if low <= at_center[w] < high:
            target = values[at_center[w]]
            for b in range(starts[w], starts[w + 1]):
                _axpy(g_pos[b] * scale, W_out[contexts[b]], target)
            count = starts[w + 1] - starts[w]
            for k in range(negatives.shape[1]):
                _axpy(count * g_neg[w, k] * scale, W_out[negatives[w, k]], target)


@jit_math
def _output_rows(W_in, window_centers, starts, g_pos, g_neg, scale, at_context, at_negative, values, low, high):
    """The output-table gradient rows in slots low..high-1: context and negative rows get
    their window's centre vector."""
    for w in range(len(starts) - 1):
        v = W_in[window_centers[w]]
        for b in range(starts[w], starts[w + 1]):
            if low <= at_context[b] < high:
                _axpy(g_pos[b] * scale, v, values[at_context[b]])
        count = starts[w + 1] - starts[w]
        for k in range(at_negative.shape[1]):
            if low <= at_negative[w, k] < high:
                _axpy(count * g_neg[w, k] * scale, v, values[at_negative[w, k]])


@jit_math
def _add_to(x, y):
    """y += x."""
    for d in range(x.shape[0]):
        y[d] += x[d]


@jit_math(parallel=True)
def cbow_forward(W_in, W_out, window_centers, contexts, starts, negatives, h, g_center, g_neg, zero):
    """Σ over windows of -log σ(h_w·u_c) - Σ_k log σ(-h_w·u_k), h_w the mean of the input
    vectors of window w's contexts (``starts[w]:starts[w + 1]``, never empty), written
    into ``h``; fills g_center[w] = σ(h_w·u_c) - 1 and g_neg[w, k] = σ(h_w·u_k)."""
    windows, k_count = negatives.shape
    partial = np.zeros(LOSS_CHUNKS)
    for chunk in prange(LOSS_CHUNKS):
        loss = 0.0
        for w in range(chunk * windows // LOSS_CHUNKS, (chunk + 1) * windows // LOSS_CHUNKS):
            mean = h[w]
            mean[:] = zero
            for b in range(starts[w], starts[w + 1]):
                _add_to(W_in[contexts[b]], mean)
            inverse = (zero + 1) / (starts[w + 1] - starts[w])
            for d in range(mean.shape[0]):
                mean[d] *= inverse
            s = float(_dot(mean, W_out[window_centers[w]], zero))
            loss += _softplus(-s)
            g_center[w] = _sigmoid(s) - 1.0
            for k in range(k_count):
                t = float(_dot(mean, W_out[negatives[w, k]], zero))
                loss += _softplus(t)
                g_neg[w, k] = _sigmoid(t)
        partial[chunk] = loss
    return _in_order(partial)


@jit(parallel=True)
def _window_errors(W_out, window_centers, starts, negatives, g_center, g_neg, scale, exact, g_h):
    """g_h[w] = scale·(g_center[w]·u_c + Σ_k g_neg[w, k]·u_k), divided by the window's size
    for the exact gradient of the mean (word2vec hands every context all of it)."""
    for w in prange(len(window_centers)):
        target = g_h[w]
        target[:] = 0
        _axpy(g_center[w] * scale, W_out[window_centers[w]], target)
        for k in range(negatives.shape[1]):
            _axpy(g_neg[w, k] * scale, W_out[negatives[w, k]], target)
        if exact:
            size = starts[w + 1] - starts[w]
            for d in range(target.shape[0]):
                target[d] /= size


@jit(parallel=True)
def _fill_cbow_gradients(window_centers, starts, h, g_h, g_center, g_neg, scale, at_context, at_center, at_negative,
                         values_in, values_out, parts):
    """Each thread fills a range of slots of both gradients, summing over windows in order."""
    for part in prange(parts):
        low_in, high_in = part * len(values_in) // parts, (part + 1) * len(values_in) // parts
        low_out, high_out = part * len(values_out) // parts, (part + 1) * len(values_out) // parts
        for w in range(len(window_centers)):
            for b in range(starts[w], starts[w + 1]):
                if low_in <= at_context[b] < high_in:
                    _add_to(g_h[w], values_in[at_context[b]])
            if low_out <= at_center[w] < high_out:
                _axpy(g_center[w] * scale, h[w], values_out[at_center[w]])
            for k in range(at_negative.shape[1]):
                if low_out <= at_negative[w, k] < high_out:
                    _axpy(g_neg[w, k] * scale, h[w], values_out[at_negative[w, k]])


@jit
def cbow_backward(W_in, W_out, window_centers, contexts, starts, negatives, h, g_center, g_neg, scale, exact,
                  parts):
    """Coalesced row-sparse gradients of both tables for CBOW: (rows_in, values_in,
    rows_out, values_out), each row once, in order of first appearance; threads split
    the rows, so the result does not depend on their number."""
    windows, k_count = negatives.shape
    rows_in, at_context, rows_out, at_center, at_negative = slot_map(W_in.shape[0], contexts, window_centers,
                                                                      negatives.reshape(-1))
    g_h = np.empty((windows, W_in.shape[1]), W_in.dtype)
    _window_errors(W_out, window_centers, starts, negatives, g_center, g_neg, scale, exact, g_h)
    values_in = np.zeros((len(rows_in), W_in.shape[1]), W_in.dtype)
    values_out = np.zeros((len(rows_out), W_out.shape[1]), W_out.dtype)
    _fill_cbow_gradients(window_centers, starts, h, g_h, g_center, g_neg, scale, at_context, at_center,
                         at_negative.reshape(windows, k_count), values_in, values_out, parts)
    return rows_in, values_in, rows_out, values_out
