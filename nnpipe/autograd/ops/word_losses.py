"""Word-vector losses straight from embedding tables: negative sampling for skip-gram
(pairs) and CBOW (windows), and GloVe's weighted least squares; each gives its tables
row-sparse gradients (:class:`SparseRows`), and the word2vec ones have compiled kernels."""
from __future__ import annotations

import numpy as np

from ...backend import get_array_module, segment_sum
from ...kernels import lazy, threads, use_compiled
from ..core import Function, Tensor
from ..sparse import SparseRows
from .elementwise import _stable_sigmoid

__all__ = ["negative_sampling", "skipgram_ns", "cbow_ns", "glove"]  # the wrappers; F gathers them

word2vec, glove_kernels = lazy("word2vec"), lazy("glove")


class NegativeSampling(Function):
    """Negative sampling over pairs of vectors: the sum (or mean) of
    -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c), for centre vectors v (B, D), context vectors
    u_o (B, D) and negative vectors u_k (B, K, D).  Summed, a learning rate means what it
    means in word2vec: the step size of one pair; every word-vector loss sums by default."""

    def __init__(self, reduction):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction

    def divisor(self, pairs, dtype):
        """What the summed loss is divided by: the number of pairs, or 1 for ``sum``."""
        return dtype.type(pairs if self.reduction == "mean" else 1)

    def forward(self, center, context, negatives):
        xp = get_array_module(center)
        self.center, self.context, self.negatives = center, context, negatives
        self.scale_by = self.divisor(len(center), center.dtype)
        pos = (center * context).sum(axis=1)
        neg = xp.einsum("bkd,bd->bk", negatives, center)
        self.pos_sig = _stable_sigmoid(pos)
        self.neg_sig = _stable_sigmoid(neg)
        # -log σ(s) = log(1 + e^{-s}) and -log σ(-s) = log(1 + e^{s}), both stable
        loss = xp.logaddexp(0, -pos).sum() + xp.logaddexp(0, neg).sum()
        return loss / self.scale_by

    def backward(self, gy):
        xp = get_array_module(gy)
        scale = gy / self.scale_by
        g_pos = (self.pos_sig - 1) * scale  # d loss / d (u_o·v_c)
        g_neg = self.neg_sig * scale  # d loss / d (u_k·v_c)
        g_center = g_pos[:, None] * self.context + xp.einsum("bk,bkd->bd", g_neg, self.negatives)
        g_context = g_pos[:, None] * self.center
        g_negatives = g_neg[:, :, None] * self.center[:, None, :]
        return g_center, g_context, g_negatives


def negative_sampling(center, context, negatives, reduction="sum"):
    return NegativeSampling(reduction)(center, context, negatives)


class _WindowsLoss(Function):
    """What skip-gram's and CBOW's losses share: a batch of windows (sorted pairs), the
    per-pair formulas of :class:`NegativeSampling`, and the choice of the compiled kernel
    (NumPy arrays) or the reference (CuPy, ``NNPIPE_KERNELS=reference``), made once in
    forward."""

    def __init__(self, window_centers, contexts, pair_window, negatives, reduction):
        self.window_centers, self.contexts, self.negatives = window_centers, contexts, negatives
        self.pair_window = pair_window
        self.vectors_loss = NegativeSampling(reduction)

    def forward(self, W_in, W_out):
        self.shape = W_in.shape
        self.compiled = use_compiled(W_in, W_out, self.window_centers, self.contexts, self.pair_window,
                                     self.negatives)
        return self._forward_kernel(W_in, W_out) if self.compiled else self._forward_reference(W_in, W_out)

    def backward(self, gy):
        return self._backward_kernel(gy) if self.compiled else self._backward_reference(gy)


class SkipGramNS(_WindowsLoss):
    """:class:`NegativeSampling` straight from the input table ``W_in`` and the output table ``W_out``
    (V, D); the gradients of both tables are :class:`SparseRows`.

    The batch comes in windows: window w has the centre ``window_centers[w]`` and the
    negatives ``negatives[w]`` (K of them), and pair b is (the centre of window
    ``pair_window[b]``, ``contexts[b]``), pairs sorted by window.  With one window per
    pair these are word2vec's per-pair negatives; with one window per centre word its
    pairs share their negatives, whose dot products are then computed once.

    On NumPy arrays a compiled kernel does it in one pass over the windows, with no
    (B, K, D) array of negative vectors, and returns the gradients already coalesced.
    The reference (CuPy, or ``NNPIPE_KERNELS=reference``) expands the windows to pairs,
    gathers the vectors, applies :class:`NegativeSampling` and scatters its gradients as rows, exactly
    as embedding lookups followed by ``negative_sampling`` would."""

    def _forward_kernel(self, W_in, W_out):
        self.W_in, self.W_out = W_in, W_out
        self.starts = word2vec.window_starts(self.pair_window, len(self.window_centers))
        self.g_pos = np.empty(len(self.contexts), W_in.dtype)
        self.g_neg = np.empty(self.negatives.shape, W_in.dtype)
        total = word2vec.skipgram_forward(W_in, W_out, self.window_centers, self.contexts, self.starts, self.negatives,
                                      self.g_pos, self.g_neg, W_in.dtype.type(0))
        self.scale_by = self.vectors_loss.divisor(len(self.contexts), W_in.dtype)
        return np.asarray(total / self.scale_by, dtype=W_in.dtype)

    def _backward_kernel(self, gy):
        scale = (gy / self.scale_by).astype(self.W_in.dtype)
        rows_in, values_in, rows_out, values_out = word2vec.skipgram_backward(
            self.W_in, self.W_out, self.window_centers, self.contexts, self.starts, self.negatives, self.g_pos,
            self.g_neg, scale[()], threads())
        return (SparseRows(rows_in, values_in, self.shape, coalesced=True),
                SparseRows(rows_out, values_out, self.shape, coalesced=True))

    def _forward_reference(self, W_in, W_out):
        self.centers = self.window_centers[self.pair_window]
        self.pair_negatives = self.negatives[self.pair_window]
        return self.vectors_loss.forward(W_in[self.centers], W_out[self.contexts], W_out[self.pair_negatives])

    def _backward_reference(self, gy):
        g_center, g_context, g_negatives = self.vectors_loss.backward(gy)
        xp = get_array_module(gy)
        out_rows = xp.concatenate([self.contexts, self.pair_negatives.reshape(-1)])
        out_values = xp.concatenate([g_context, g_negatives.reshape(-1, self.shape[1])])
        return SparseRows(self.centers, g_center, self.shape), SparseRows(out_rows, out_values, self.shape)


def skipgram_ns(W_in, W_out, window_centers, contexts, pair_window, negatives, reduction="sum"):
    """The negative-sampling loss of a batch of windows, from the two embedding tables;
    see :class:`SkipGramNS`.  Pairs must be sorted by window."""
    return SkipGramNS(*_word_ids(W_in, window_centers, contexts, pair_window, negatives), reduction)(W_in, W_out)


class CBOWNS(_WindowsLoss):
    """Negative sampling for CBOW (word2vec's ``-cbow 1``): the mean of a window's context
    input vectors h_w predicts the window centre's output vector against its negatives,
    -log σ(h_w·u_c) - Σ_k log σ(-h_w·u_k).  Pairs (contexts) are sorted by window and
    every window has at least one; both tables get :class:`SparseRows`.

    Each context word receives the whole gradient of h_w, as word2vec.c and gensim
    (``cbow_mean=1``) update it: that is n_w times the gradient of the mean, which would
    make the input vectors learn n_w times slower than theirs.  ``exact=True`` gives the
    true gradient (1/n_w of it to each context), which the gradient checks use."""

    def __init__(self, window_centers, contexts, pair_window, negatives, reduction, exact=False):
        super().__init__(window_centers, contexts, pair_window, negatives, reduction)  # h_w as the centre vector
        self.exact = exact

    def _forward_kernel(self, W_in, W_out):
        """One pass over the windows; the gradients come back coalesced."""
        self.W_in, self.W_out = W_in, W_out
        self.starts = word2vec.window_starts(self.pair_window, len(self.window_centers))
        if np.any(self.starts[1:] == self.starts[:-1]):
            raise ValueError("every CBOW window needs at least one context word")
        self.h = np.empty((len(self.window_centers), W_in.shape[1]), W_in.dtype)
        self.g_center = np.empty(len(self.window_centers), W_in.dtype)
        self.g_neg = np.empty(self.negatives.shape, W_in.dtype)
        total = word2vec.cbow_forward(W_in, W_out, self.window_centers, self.contexts, self.starts,
                                      self.negatives, self.h, self.g_center, self.g_neg, W_in.dtype.type(0))
        self.scale_by = self.vectors_loss.divisor(len(self.window_centers), W_in.dtype)
        return np.asarray(total / self.scale_by, dtype=W_in.dtype)

    def _backward_kernel(self, gy):
        scale = (gy / self.scale_by).astype(self.W_in.dtype)
        rows_in, values_in, rows_out, values_out = word2vec.cbow_backward(
            self.W_in, self.W_out, self.window_centers, self.contexts, self.starts, self.negatives, self.h,
            self.g_center, self.g_neg, scale[()], self.exact, threads())
        return (SparseRows(rows_in, values_in, self.shape, coalesced=True),
                SparseRows(rows_out, values_out, self.shape, coalesced=True))

    def _forward_reference(self, W_in, W_out):
        xp = get_array_module(W_in)
        windows, sums = segment_sum(self.pair_window, W_in[self.contexts])
        if len(windows) != len(self.window_centers):
            raise ValueError("every CBOW window needs at least one context word")
        self.counts = xp.bincount(self.pair_window, minlength=len(self.window_centers)).astype(W_in.dtype)
        h = sums / self.counts[:, None]
        return self.vectors_loss.forward(h, W_out[self.window_centers], W_out[self.negatives])

    def _backward_reference(self, gy):
        xp = get_array_module(gy)
        g_h, g_target, g_negatives = self.vectors_loss.backward(gy)
        g_contexts = (g_h / self.counts[:, None] if self.exact else g_h)[self.pair_window]
        out_rows = xp.concatenate([self.window_centers, self.negatives.reshape(-1)])
        out_values = xp.concatenate([g_target, g_negatives.reshape(-1, self.shape[1])])
        return SparseRows(self.contexts, g_contexts, self.shape), SparseRows(out_rows, out_values, self.shape)


def _word_ids(table, *ids):
    """The id arrays of a word-vector batch on the table's device, checked to be integers."""
    xp = get_array_module(table.data if isinstance(table, Tensor) else table)
    ids = [xp.asarray(a.data if isinstance(a, Tensor) else a) for a in ids]
    if any(a.dtype.kind not in "iu" for a in ids):
        raise TypeError("word ids must be integers")
    return ids


def cbow_ns(W_in, W_out, window_centers, contexts, pair_window, negatives, reduction="sum", exact=False):
    """CBOW's negative-sampling loss of a batch of windows; see :class:`CBOWNS` (by default
    the input rows get word2vec's update, not the exact gradient)."""
    ids = _word_ids(W_in, window_centers, contexts, pair_window, negatives)
    return CBOWNS(*ids, reduction, exact)(W_in, W_out)


class GloVe(Function):
    """GloVe's weighted least squares over co-occurrence entries (Pennington et al. 2014):
    Σ ½·f(X_ij)·(w_i·w̃_j + b_i + b̃_j − log X_ij)², f(x) = min(1, (x/x_max)^α), straight
    from the tables (W, W̃ (V, D); b, b̃ (V, 1)); every table gets :class:`SparseRows`.
    The ½ is the GloVe code's, so its gradient is f·(…).  On NumPy arrays a compiled
    kernel reads the rows in place and returns the gradients already coalesced."""

    def __init__(self, rows, cols, counts, x_max, alpha, reduction):
        xp = get_array_module(counts)
        self.rows, self.cols, self.reduction = rows, cols, reduction
        self.log_counts = xp.log(counts)
        self.weights = xp.minimum(1.0, (counts / x_max) ** alpha).astype(counts.dtype)

    def forward(self, W, W_ctx, b, b_ctx):
        self.shapes = (W.shape, b.shape)
        self.compiled = use_compiled(W, W_ctx, b, b_ctx, self.rows, self.cols, self.log_counts)
        return (self._forward_kernel if self.compiled else self._forward_reference)(W, W_ctx, b, b_ctx)

    def backward(self, gy):
        return self._backward_kernel(gy) if self.compiled else self._backward_reference(gy)

    def _forward_kernel(self, W, W_ctx, b, b_ctx):
        dtype = W.dtype.type
        self.W, self.W_ctx = W, W_ctx
        self.scaled = np.empty(len(self.rows), W.dtype)
        inverse = dtype(1 / len(self.rows)) if self.reduction == "mean" else dtype(1)
        total = glove_kernels.glove_forward(W, W_ctx, b, b_ctx, self.rows, self.cols, self.log_counts.astype(W.dtype),
                                            self.weights.astype(W.dtype), inverse, self.scaled, dtype(0))
        return np.asarray(total, dtype=W.dtype)

    def _backward_kernel(self, gy):
        table, bias = self.shapes
        words, values, bias_values, contexts, context_values, context_bias = glove_kernels.glove_backward(
            self.W, self.W_ctx, self.rows, self.cols, self.scaled, gy.astype(self.W.dtype)[()], threads())
        return (SparseRows(words, values, table, coalesced=True),
                SparseRows(contexts, context_values, table, coalesced=True),
                SparseRows(words, bias_values, bias, coalesced=True),
                SparseRows(contexts, context_bias, bias, coalesced=True))

    def _forward_reference(self, W, W_ctx, b, b_ctx):
        self.w, self.w_ctx = W[self.rows], W_ctx[self.cols]
        diff = ((self.w * self.w_ctx).sum(axis=1) + b[self.rows, 0] + b_ctx[self.cols, 0]
                - self.log_counts.astype(W.dtype))
        self.scaled = self.weights.astype(W.dtype) * diff  # f·(…): the gradient of each entry's cost
        if self.reduction == "mean":
            self.scaled /= W.dtype.type(len(diff))
        return (self.scaled * diff).sum() * W.dtype.type(0.5)

    def _backward_reference(self, gy):
        table, bias = self.shapes
        g = (self.scaled * gy)[:, None]
        return (SparseRows(self.rows, g * self.w_ctx, table), SparseRows(self.cols, g * self.w, table),
                SparseRows(self.rows, g, bias), SparseRows(self.cols, g, bias))


def glove(W, W_ctx, b, b_ctx, rows, cols, counts, x_max=100.0, alpha=0.75, reduction="sum"):
    """GloVe's cost of a batch of co-occurrence entries (``rows``, ``cols``, ``counts``),
    summed (GloVe's own) or averaged over the entries; see :class:`GloVe`."""
    rows, cols = _word_ids(W, rows, cols)
    xp = get_array_module(rows)
    counts = xp.asarray(counts.data if isinstance(counts, Tensor) else counts)
    return GloVe(rows, cols, counts, x_max, alpha, reduction)(W, W_ctx, b, b_ctx)
