"""A convolution block as one op: ``max_pool2d(relu(conv2d(x, W, b)), 2)``.

The reference composes the three ops' forward and backward (it is also the CuPy path and
the path for any shape the compiled kernels do not cover).  On NumPy arrays, stride-1
convolutions whose output tiles into the 2×2 pooling windows take the kernels of
``nnpipe.kernels.conv_pool``: Winograd F(2×2, 3×3) for 3×3 kernels with padding 1, im2col
GEMMs otherwise, with the bias, ReLU and pooling fused into the pass that reads the
convolution's output, and backward starting from one gradient per window.
"""
from __future__ import annotations

import functools

import numpy as np

from ...backend import get_array_module
from ...kernels import fixed_chunks, lazy, map_chunks, use_compiled
from ..core import Function
from .conv import Conv2d, _pair, _RowLayout, conv_output_size
from .pool import MaxPool2d
from .winograd_conv import WinogradConv, planes, winograd_conv_fits

conv_pool, winograd = lazy("conv_pool"), lazy("winograd")

__all__ = ["conv2d_relu_pool"]

CHUNK = 64  # images per chunk of the compiled paths, whatever the thread count


class Conv2dReLUPool(Function):
    """conv2d (stride 1 or not, any padding) → + bias → ReLU → 2×2 max pooling, stride 2.

    The compiled paths cut the batch into chunks of :data:`CHUNK` images, run on the
    kernel threads (``kernels.map_chunks``), and sum the chunks' weight gradients in chunk
    order, so a result does not depend on the number of threads."""

    def __init__(self, stride, padding):
        self.stride, self.padding = _pair(stride), _pair(padding)

    def forward(self, x, W, b):
        self.path = _fused_path(x, W, b, self.stride, self.padding)
        return self._forward_reference(x, W, b) if self.path == "reference" else self._forward_kernel(x, W, b)

    def backward(self, gy):
        return self._backward_reference(gy) if self.path == "reference" else self._backward_kernel(gy)

    def _forward_kernel(self, x, W, b):
        n, o = x.shape[0], W.shape[0]
        self.block = _WinogradBlock(W, b) if self.path == "winograd" else _RowsBlock(W, b, self.padding)
        self.chunks = fixed_chunks(n, CHUNK)
        pooled = [size // 2 for size in _conv_sizes(x, W, self.stride, self.padding)]
        y = np.empty((n, o, *pooled), x.dtype)
        self.winner = np.empty(y.shape, np.int8)
        self.saved = map_chunks(lambda s: self.block.forward(x[s], y[s], self.winner[s]), self.chunks)
        self.x_shape = x.shape
        return y

    def _backward_kernel(self, gy):
        need_x, need_W = self.needs_input_grad[:2]
        gx = np.empty(self.x_shape, gy.dtype) if need_x else None

        def chunk_grads(s, saved):
            return self.block.backward(saved, gy[s], self.winner[s], None if gx is None else gx[s], need_W)

        parts = map_chunks(lambda pair: chunk_grads(*pair), list(zip(self.chunks, self.saved)))
        gb = functools.reduce(np.add, [part[1] for part in parts])
        gW = self.block.weight_grad(functools.reduce(np.add, [part[0] for part in parts])) if need_W else None
        return gx, gW, gb.astype(gy.dtype)

    # the reference: the three ops, composed
    def _forward_reference(self, x, W, b):
        xp = get_array_module(x)
        self.conv, self.pool = Conv2d(self.stride, self.padding), MaxPool2d((2, 2), (2, 2), (0, 0))
        pooled = self.pool.forward(self.conv.forward(x, W, b))
        self.alive = pooled > 0
        return xp.where(self.alive, pooled, pooled.dtype.type(0))

    def _backward_reference(self, gy):
        self.conv.needs_input_grad = self.needs_input_grad
        return self.conv.backward(self.pool.backward(gy * self.alive))


class _WinogradBlock(WinogradConv):
    """Winograd F(2×2, 3×3) with the pooled output transform; keeps the input's tiles V."""

    def forward(self, x, y, winner):
        V = self._tiles(x)
        conv_pool.winograd_output_pool(self.products(V), self.bias, y, winner)
        return V

    def backward(self, V, gy, winner, gx, need_W):
        dm = planes(gy.shape[1], gy.shape[0] * gy.shape[2] * gy.shape[3], gy.dtype)  # (16, O, tiles): a tile per output
        gb = np.zeros(gy.shape[1])
        conv_pool.winograd_tile_grad(gy, winner, dm, gb)
        return self.backward_tiles(dm, gx, V if need_W else None), gb


class _RowsBlock:
    """im2col on whole padded rows, the bias, ReLU and pooling fused after the GEMM."""

    def __init__(self, W, b, padding):
        self.W, self.W2, self.b, self.padding = W, W.reshape(W.shape[0], -1), b, padding

    def forward(self, x, y, winner):
        rows = _RowLayout(x.shape, self.W.shape[2:], self.padding)
        col = rows.im2col(x)
        conv_pool.rows_pool((self.W2 @ col).reshape(-1, rows.n, rows.oh, rows.wp), self.b, y, winner)
        return rows, col

    def backward(self, saved, gy, winner, gx, need_W):
        rows, col = saved
        if gx is None and need_W and self.W.shape[1:] == (1, 3, 3):  # a grayscale first layer's
            gw, gb = np.zeros(self.W2.shape), np.zeros(gy.shape[1])
            conv_pool.rows_pool_params_grad(gy, winner, col, gw, gb)
            return gw.astype(gy.dtype), gb
        wide = np.empty((gy.shape[1], rows.n, rows.oh, rows.wp), gy.dtype)
        gb = np.zeros(gy.shape[1])
        conv_pool.rows_unpool(gy, winner, wide, gb)
        wide = wide.reshape(gy.shape[1], -1)
        if gx is not None:
            gx[...] = rows.col2im(self.W2.T @ wide)
        return ((col @ wide.T).T if need_W else None), gb  # the fast orientation (conv.py)

    def weight_grad(self, gw):
        return gw.reshape(self.W.shape)


def _fused_path(x, W, b, stride, padding):
    """Which implementation serves these arrays: "winograd", "rows" or "reference"."""
    if not use_compiled(x, W, b) or stride != (1, 1):
        return "reference"
    if any(size < 2 or size % 2 for size in _conv_sizes(x, W, stride, padding)):
        return "reference"
    if winograd_conv_fits(x, W, stride, padding):
        return "winograd"
    return "rows"


def _conv_sizes(x, W, stride, padding):
    """The convolution's output height and width (before pooling)."""
    return [conv_output_size(size, k, s, p) for size, k, s, p in zip(x.shape[2:], W.shape[2:], stride, padding)]


def conv2d_relu_pool(x, W, b, stride=1, padding=0):
    """``max_pool2d(relu(conv2d(x, W, b, stride, padding)), 2)`` as one op (pooled output
    (N, O, OH//2, OW//2)); the same values and gradients, in fewer passes over memory."""
    return Conv2dReLUPool(stride, padding)(x, W, b)
