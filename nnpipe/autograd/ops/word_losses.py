"""Word2vec's losses straight from the two embedding tables: negative sampling for
skip-gram (pairs) and CBOW (windows).  Each gives its tables row-sparse gradients
(:class:`SparseRows`), or, when the tables ask for it (:attr:`Tensor.update_in_backward`)
and the kernels run, applies SGD itself in word2vec's order and hands back no gradient.
GloVe's loss is in ``glove_loss.py``."""
from __future__ import annotations

import numpy as np

from ...backend import get_array_module, segment_sum
from ...kernels import at_most_threads, lazy, threads, use_compiled
from ..core import Function, Tensor, is_grad_enabled
from ..sparse import SparseRows
from .elementwise import _stable_sigmoid

__all__ = ["negative_sampling", "skipgram_ns", "cbow_ns"]  # the wrappers; F gathers them

word2vec, word2vec_update = lazy("word2vec"), lazy("word2vec_update")


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
    per-pair formulas of :class:`NegativeSampling`, and the choice of path, made once in
    forward: the compiled kernel (NumPy arrays), the reference (CuPy,
    ``NNPIPE_KERNELS=reference``), or, when both tables carry the same SGD optimizer in
    ``update_in_backward`` (the trainer's default for word vectors), word2vec's own update
    (``kernels.word2vec_update``): forward walks the windows in fixed chunks, updating
    private copies of the rows as it goes (or the tables themselves: one chunk, or
    Hogwild), and backward writes the chunks' rows back in chunk order, returning no
    gradient (the optimizer's step has nothing left to do for them)."""

    def __init__(self, window_centers, contexts, pair_window, negatives, reduction, update=None):
        self.window_centers, self.contexts, self.negatives = window_centers, contexts, negatives
        self.pair_window = pair_window
        self.vectors_loss = NegativeSampling(reduction)
        self.update = update

    def forward(self, W_in, W_out):
        self.shape = W_in.shape
        self.compiled = use_compiled(W_in, W_out, self.window_centers, self.contexts, self.pair_window,
                                     self.negatives)
        self.fused = self.compiled and self.update is not None
        if not self.compiled:
            return self._forward_reference(W_in, W_out)
        # both compiled paths: a kernel sums the loss over the windows; the op scales it
        self.W_in, self.W_out = W_in, W_out
        self.starts = word2vec.window_starts(self.pair_window, len(self.window_centers))
        self._check_windows()
        self.scale_by = self.vectors_loss.divisor(self.terms(), W_in.dtype)
        if self.fused:  # word2vec's alpha: the learning rate times the loss's scale
            alpha = float(self.update.in_backward_lr()) / float(self.scale_by)
            total = self.total = self._fused_step(alpha, W_in.dtype == np.float32)
        else:
            total = self._forward_kernel(W_in, W_out)
        return np.asarray(total / self.scale_by, dtype=W_in.dtype)

    def backward(self, gy):
        if self.fused:
            return self._apply_update(gy)
        return self._backward_kernel(gy) if self.compiled else self._backward_reference(gy)

    def _check_windows(self):
        """Refuse windows the kernels cannot take (CBOW: a window without contexts)."""

    def _backward_kernel(self, gy):
        """Both tables' coalesced gradients from the subclass's ``_gradient_kernel``."""
        scale = (gy / self.scale_by).astype(self.W_in.dtype)
        rows_in, values_in, rows_out, values_out = self._gradient_kernel(scale[()])
        return (SparseRows(rows_in, values_in, self.shape, coalesced=True),
                SparseRows(rows_out, values_out, self.shape, coalesced=True))

    def _fused_step(self, alpha, tabled):
        """The fused kernel's pass over the windows: in place (one chunk on this thread, or
        Hogwild's racing chunks) or in chunks of private rows (their buffers reused from
        step to step); the loss's sum."""
        def kernel(way):  # word2vec_update.<model>_windows, _hogwild or _fused
            return getattr(word2vec_update, f"{self.kernels}_{way}")

        args = (self.W_in, self.W_out, self.window_centers, self.contexts, self.starts, self.negatives, alpha, tabled,
                *self._options())
        chunks = self.update.chunks_in_backward
        self.in_place = chunks == 1 or self.update.hogwild_in_backward
        if chunks == 1:  # no thread team at all: the next batch is made on the other core meanwhile
            return kernel("windows")(*args, 0, len(self.window_centers))
        first, room_in, room_out = word2vec_update.chunk_bounds(len(self.window_centers), self.starts, chunks,
                                                                self.negatives.shape[1], len(self.W_in))
        with at_most_threads(chunks):
            if self.in_place:
                return kernel("hogwild")(*args, first)
            self.workspace = _workspaces.pop() if _workspaces else word2vec_update.Workspace()
            space, dim, dtype = self.workspace, self.W_in.shape[1], self.W_in.dtype
            self.rooms = room_in, room_out
            self.buffers = (space.get("rows_in", (room_in[-1],), np.int64),
                            space.get("local_in", (room_in[-1], dim), dtype),
                            space.get("rows_out", (room_out[-1],), np.int64),
                            space.get("local_out", (room_out[-1], dim), dtype))
            slot_maps = space.get("slot_maps", (chunks, 2, len(self.W_in)), np.int32, fill=-1)
            self.used = np.zeros((chunks, 2), np.int64)
            return kernel("fused")(*args, first, room_in, room_out, slot_maps, *self.buffers, self.used)

    def _options(self):
        """The model's own arguments of its fused kernels, after ``tabled``."""
        return ()

    def _apply_update(self, gy):
        """Write the chunks' rows back to the tables (unless the loss was not finite: the
        trainer stops on it, and the tables keep the last good values; in place, the rows
        were written as the windows went)."""
        if float(gy) != 1:
            raise RuntimeError("an update applied in backward cannot be scaled: call backward() on the loss itself")
        if self.in_place:  # the tables have their rows already
            return None, None
        rows_in, local_in, rows_out, local_out = self.buffers
        apply, slot_maps = bool(np.isfinite(self.total)), self.workspace.arrays["slot_maps"]
        for which, (table, rows, local, room) in enumerate(((self.W_in, rows_in, local_in, self.rooms[0]),
                                                            (self.W_out, rows_out, local_out, self.rooms[1]))):
            word2vec_update.merge_rows(table, which, slot_maps, rows, local, room, self.used[:, which], threads(),
                                       apply)
        _workspaces.append(self.workspace)
        self.workspace = self.buffers = None
        return None, None


_workspaces = []  # the fused steps' buffers, handed from a finished step to the next


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

    kernels = "skipgram"  # the fused kernels: word2vec_update.skipgram_windows, _hogwild and _fused

    def terms(self):
        return len(self.contexts)

    def _forward_kernel(self, W_in, W_out):
        self.g_pos = np.empty(len(self.contexts), W_in.dtype)
        self.g_neg = np.empty(self.negatives.shape, W_in.dtype)
        return word2vec.skipgram_forward(W_in, W_out, self.window_centers, self.contexts, self.starts, self.negatives,
                                         self.g_pos, self.g_neg, W_in.dtype.type(0))

    def _gradient_kernel(self, scale):
        return word2vec.skipgram_backward(self.W_in, self.W_out, self.window_centers, self.contexts, self.starts,
                                          self.negatives, self.g_pos, self.g_neg, scale, threads())

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
    ids = _word_ids(W_in, window_centers, contexts, pair_window, negatives)
    return SkipGramNS(*ids, reduction, _update_in_backward(W_in, W_out))(W_in, W_out)


class CBOWNS(_WindowsLoss):
    """Negative sampling for CBOW (word2vec's ``-cbow 1``): the mean of a window's context
    input vectors h_w predicts the window centre's output vector against its negatives,
    -log σ(h_w·u_c) - Σ_k log σ(-h_w·u_k).  Pairs (contexts) are sorted by window and
    every window has at least one; both tables get :class:`SparseRows`.

    Each context word receives the whole gradient of h_w, as word2vec.c and gensim
    (``cbow_mean=1``) update it: that is n_w times the gradient of the mean, which would
    make the input vectors learn n_w times slower than theirs.  ``exact=True`` gives the
    true gradient (1/n_w of it to each context), which the gradient checks use."""

    kernels = "cbow"

    def __init__(self, window_centers, contexts, pair_window, negatives, reduction, exact=False, update=None):
        super().__init__(window_centers, contexts, pair_window, negatives, reduction, update)
        self.exact = exact

    def terms(self):
        return len(self.window_centers)

    def _check_windows(self):
        if word2vec.any_empty_window(self.starts):
            raise ValueError("every CBOW window needs at least one context word")

    def _options(self):
        return (self.exact,)

    def _forward_kernel(self, W_in, W_out):
        """One pass over the windows; the gradients come back coalesced."""
        self.h = np.empty((len(self.window_centers), W_in.shape[1]), W_in.dtype)
        self.g_center = np.empty(len(self.window_centers), W_in.dtype)
        self.g_neg = np.empty(self.negatives.shape, W_in.dtype)
        return word2vec.cbow_forward(W_in, W_out, self.window_centers, self.contexts, self.starts,
                                     self.negatives, self.h, self.g_center, self.g_neg, W_in.dtype.type(0))

    def _gradient_kernel(self, scale):
        return word2vec.cbow_backward(self.W_in, self.W_out, self.window_centers, self.contexts, self.starts,
                                      self.negatives, self.h, self.g_center, self.g_neg, scale, self.exact, threads())

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
    return CBOWNS(*ids, reduction, exact, _update_in_backward(W_in, W_out))(W_in, W_out)


def _update_in_backward(W_in, W_out):
    """The optimizer that both tables ask the op to apply in its backward, if any (only
    while a graph is recorded: a loss under ``no_grad`` changes nothing)."""
    update = getattr(W_in, "update_in_backward", None)
    if update is None or getattr(W_out, "update_in_backward", None) is not update or not is_grad_enabled():
        return None
    return update
