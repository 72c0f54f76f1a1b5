"""GloVe's weighted least squares straight from its four tables, with row-sparse
gradients (:class:`SparseRows`) and a compiled kernel on NumPy arrays."""
from __future__ import annotations

import numpy as np

from ...backend import get_array_module
from ...kernels import lazy, threads, use_compiled
from ..core import Function, Tensor
from ..sparse import SparseRows
from .word_losses import _word_ids

__all__ = ["glove"]

glove_kernels = lazy("glove")


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
