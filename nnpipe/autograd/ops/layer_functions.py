"""Fused layer functions: linear, embedding (sparse-row gradient) and batch normalisation."""
from __future__ import annotations

import numpy as np

from ...backend import get_array_module
from ...kernels import fixed_chunks, lazy, map_chunks, use_compiled
from ..core import Function, Tensor
from ..sparse import SparseRows

__all__ = ["linear", "linear_relu", "embedding", "batch_norm"]  # the wrappers; F gathers them

batch_norm_kernels = lazy("batch_norm")
CHANNELS = 8  # channels per call of the batch-norm kernels on the kernel threads


class Linear(Function):
    """y = x @ W + b with W of shape (in, out); with ``relu`` then max(y, 0) in place (one
    op for Linear → ReLU: no second output array, and backward masks the gradient once)."""

    def __init__(self, relu=False):
        self.relu = relu

    def forward(self, x, W, b=None):
        self.x, self.W = x, W
        y = x @ W
        if b is not None:
            y += b
        if self.relu:
            get_array_module(y).maximum(y, 0, out=y)
            self.y = y
        return y

    def backward(self, gy):
        if self.relu:  # the gradient at exactly 0 is 0 (as in PyTorch)
            gy = gy * (self.y > 0)
        need_x, need_W = self.needs_input_grad[:2]
        x2 = self.x.reshape(-1, self.x.shape[-1])
        gy2 = gy.reshape(-1, gy.shape[-1])
        gx = gy @ self.W.T if need_x else None
        gW = x2.T @ gy2 if need_W else None
        gb = gy2.sum(axis=0) if len(self.needs_input_grad) == 3 and self.needs_input_grad[2] else None
        return gx, gW, gb


def linear(x, W, b=None):
    return Linear()(x, W) if b is None else Linear()(x, W, b)


def linear_relu(x, W, b=None):
    """``relu(linear(x, W, b))`` as one op."""
    return Linear(relu=True)(x, W) if b is None else Linear(relu=True)(x, W, b)


class Embedding(Function):
    """Row lookup W[indices]; the gradient of W is :class:`SparseRows`, never dense."""

    def __init__(self, indices):
        self.indices = indices

    def forward(self, W):
        self.table_shape = W.shape
        return W[self.indices]

    def backward(self, gy):
        rows = self.indices.reshape(-1)
        return SparseRows(rows, gy.reshape(rows.size, -1), self.table_shape)


def embedding(W, indices):
    """Rows of ``W`` at integer ``indices`` (any shape); output shape indices.shape + (D,)."""
    indices = indices.data if isinstance(indices, Tensor) else indices
    xp = get_array_module(W.data if isinstance(W, Tensor) else W)
    indices = xp.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding indices must be integers, got {indices.dtype}")
    return Embedding(indices)(W)


class BatchNorm(Function):
    """Normalise over every axis but the channel axis (1), then scale and shift (then the
    ReLU, with ``relu``: ``nn.Sequential`` fuses ``BatchNorm → ReLU`` so).  On NumPy the
    kernels of ``nnpipe.kernels.batch_norm`` make two passes each way, over x viewed as
    (N, C, S), ranges of 8 channels at a time on the kernel threads; the reference below is
    the CuPy path."""

    def __init__(self, eps, relu=False):
        self.eps, self.relu = eps, relu

    def forward(self, x, gamma, beta):
        self.compiled = use_compiled(x, gamma, beta)
        return self._forward_kernel(x, gamma, beta) if self.compiled else self._forward_reference(x, gamma, beta)

    def backward(self, gy):
        return self._backward_kernel(gy) if self.compiled else self._backward_reference(gy)

    def _forward_kernel(self, x, gamma, beta):
        self.x, self.gamma = _channel_rows(x), gamma
        y = np.empty(self.x.shape, x.dtype)
        mean, var, inv_std = np.empty(x.shape[1]), np.empty(x.shape[1]), np.empty(x.shape[1])
        map_chunks(lambda r: batch_norm_kernels.batch_norm_forward(self.x, gamma, beta, self.eps, self.relu, y,
                                                                   mean, var, inv_std, r.start, r.stop),
                   fixed_chunks(x.shape[1], CHANNELS))
        self.mean_64, self.inv_std_64 = mean, inv_std  # the statistics backward uses, in float64
        self.mean, self.var = mean.astype(x.dtype), var.astype(x.dtype)
        self.y = y if self.relu else None  # the ReLU's mask (the next layer keeps y as its input anyway)
        return y.reshape(x.shape)

    def _backward_kernel(self, gy):
        gx = np.empty(self.x.shape, gy.dtype)
        ggamma, gbeta = np.empty(self.x.shape[1]), np.empty(self.x.shape[1])
        rows = _channel_rows(gy)
        map_chunks(lambda r: batch_norm_kernels.batch_norm_backward(self.x, rows, self.gamma, self.mean_64,
                                                                    self.inv_std_64, self.relu,
                                                                    self.x if self.y is None else self.y, gx, ggamma,
                                                                    gbeta, r.start, r.stop),
                   fixed_chunks(gy.shape[1], CHANNELS))
        return gx.reshape(gy.shape), ggamma.astype(gy.dtype), gbeta.astype(gy.dtype)

    def _forward_reference(self, x, gamma, beta):
        self.axes = (0,) + tuple(range(2, x.ndim))
        shape = [1] * x.ndim
        shape[1] = x.shape[1]
        self.param_shape = tuple(shape)
        xp = get_array_module(x)
        self.mean = x.mean(axis=self.axes, keepdims=True)
        self.var = x.var(axis=self.axes, keepdims=True)
        self.inv_std = 1 / xp.sqrt(self.var + x.dtype.type(self.eps))
        self.xhat = (x - self.mean) * self.inv_std
        self.gamma = gamma.reshape(self.param_shape)
        y = self.xhat * self.gamma + beta.reshape(self.param_shape)
        if not self.relu:
            return y
        self.y = xp.maximum(y, 0)
        return self.y

    def _backward_reference(self, gy):
        if self.relu:
            gy = gy * (self.y > 0)
        axes, xhat = self.axes, self.xhat
        ggamma = (gy * xhat).sum(axis=axes)
        gbeta = gy.sum(axis=axes)
        gxhat = gy * self.gamma
        m = gy.dtype.type(gy.size // gbeta.size)
        gx = (self.inv_std / m) * (
            m * gxhat
            - gxhat.sum(axis=axes, keepdims=True)
            - xhat * (gxhat * xhat).sum(axis=axes, keepdims=True)
        )
        return gx, ggamma, gbeta


def _channel_rows(x):
    """x as a contiguous (N, C, S) array (a copy of a strided view, such as conv2d's output)."""
    return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], -1)


def batch_norm(x, gamma, beta, eps=1e-5, relu=False):
    """Training-mode batch norm with batch statistics (followed by a ReLU with ``relu``);
    returns (y, batch_mean, batch_var).

    The module keeps the running statistics; this function only normalises.
    """
    function = BatchNorm(eps, relu)
    y = function(x, gamma, beta)
    return y, function.mean.reshape(-1), function.var.reshape(-1)
