"""A convolution block as one op: ``max_pool2d(relu(conv2d(x, W, b)), 2)``.

The reference composes the three ops' forward and backward (it is also the CuPy path and
the path for any shape the compiled kernels do not cover).  On NumPy arrays, stride-1
convolutions whose output tiles into the 2×2 pooling windows take the kernels of
``nnpipe.kernels.conv_pool``: Winograd F(2×2, 3×3) for 3×3 kernels with padding 1, im2col
GEMMs otherwise, with the bias, ReLU and pooling fused into the pass that reads the
convolution's output, and backward starting from one gradient per window.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..kernels import lazy, use_compiled
from .conv import Conv2d, MaxPool2d, _pair, _RowLayout
from .core import Function

conv_pool = lazy("conv_pool")

__all__ = ["conv2d_relu_pool"]

# Winograd F(2, 3): the weight transform G (4×3); Bᵀ and Aᵀ live in the kernels
WINOGRAD_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
WINOGRAD_MIN_CHANNELS = 4  # below this the 16 GEMMs are outer products: im2col is as fast


class Conv2dReluPool(Function):
    """conv2d (stride 1 or not, any padding) → + bias → ReLU → 2×2 max pooling, stride 2."""

    def __init__(self, stride, padding):
        self.stride, self.padding = _pair(stride), _pair(padding)

    def forward(self, x, W, b):
        self.path = _fused_path(x, W, b, self.stride, self.padding)
        if self.path == "winograd":
            return self._winograd_forward(x, W, b)
        if self.path == "rows":
            return self._rows_forward(x, W, b)
        return self._reference_forward(x, W, b)

    def backward(self, gy):
        if self.path == "winograd":
            return self._winograd_backward(gy)
        if self.path == "rows":
            return self._rows_backward(gy)
        return self._reference_backward(gy)

    # the reference: the three ops, composed
    def _reference_forward(self, x, W, b):
        xp = get_array_module(x)
        self.conv, self.pool = Conv2d(self.stride, self.padding), MaxPool2d((2, 2), (2, 2), (0, 0))
        pooled = self.pool.forward(self.conv.forward(x, W, b))
        self.alive = pooled > 0
        return xp.where(self.alive, pooled, pooled.dtype.type(0))

    def _reference_backward(self, gy):
        self.conv.needs_input_grad = self.needs_input_grad
        return self.conv.backward(self.pool.backward(gy * self.alive))

    # Winograd F(2×2, 3×3): 16 GEMMs (O×C) @ (C×tiles) between the kernels' transforms
    def _winograd_forward(self, x, W, b):
        n, c, h, w = x.shape
        self.x_shape, self.U = x.shape, _winograd_weights(W)  # (16, O, C)
        self.V = np.empty((16, c, n * (h // 2) * (w // 2)), x.dtype)
        conv_pool.winograd_input(x, self.V)
        m = self.U @ self.V  # (16, O, tiles)
        y = np.empty((n, W.shape[0], h // 2, w // 2), x.dtype)
        self.winner = np.empty(y.shape, np.int8)
        conv_pool.winograd_output_pool(m, b, y, self.winner)
        return y

    def _winograd_backward(self, gy):
        n, o = gy.shape[:2]
        dm = np.empty((16, self.V.shape[2], o), gy.dtype)  # (16, tiles, O)
        gb = np.zeros(o)
        conv_pool.winograd_tile_grad(gy, self.winner, conv_pool.TILE_GRAD.astype(gy.dtype), dm, gb)
        need_x, need_W = self.needs_input_grad[:2]
        gW = _winograd_weight_grad(self.V @ dm) if need_W else None  # (16, C, O)
        gx = None
        if need_x:
            gx = np.empty(self.x_shape, gy.dtype)
            conv_pool.winograd_input_grad(dm @ self.U, gx)  # (16, tiles, C)
        return gx, gW, gb.astype(gy.dtype)

    # im2col on whole padded rows, the bias, ReLU and pooling fused after the GEMM
    def _rows_forward(self, x, W, b):
        self.rows, self.W = _RowLayout(x.shape, W.shape[2:], self.padding), W
        self.col = self.rows.im2col(x)
        o, rows = W.shape[0], self.rows
        y = (W.reshape(o, -1) @ self.col).reshape(o, rows.n, rows.oh, rows.wp)
        out = np.empty((rows.n, o, rows.oh // 2, rows.ow // 2), x.dtype)
        self.winner = np.empty(out.shape, np.int8)
        conv_pool.rows_pool(y, b, out, self.winner)
        return out

    def _rows_backward(self, gy):
        o, rows = gy.shape[1], self.rows
        wide = np.empty((o, rows.n, rows.oh, rows.wp), gy.dtype)
        gb = np.zeros(o)
        conv_pool.rows_unpool(gy, self.winner, wide, gb)
        wide = wide.reshape(o, -1)
        need_x, need_W = self.needs_input_grad[:2]
        gW = (self.col @ wide.T).T.reshape(self.W.shape) if need_W else None  # the fast orientation (conv.py)
        gx = rows.col2im(self.W.reshape(o, -1).T @ wide) if need_x else None
        return gx, gW, gb.astype(gy.dtype)


def _fused_path(x, W, b, stride, padding):
    """Which implementation serves these arrays: "winograd", "rows" or "reference"."""
    if not use_compiled(x, W, b) or stride != (1, 1):
        return "reference"
    n, c, h, w = x.shape
    kh, kw = W.shape[2:]
    oh, ow = h + 2 * padding[0] - kh + 1, w + 2 * padding[1] - kw + 1
    if oh < 2 or ow < 2 or oh % 2 or ow % 2:
        return "reference"
    if (kh, kw) == (3, 3) and padding == (1, 1) and c >= WINOGRAD_MIN_CHANNELS:
        return "winograd"
    return "rows"


def _winograd_weights(W):
    """U = G w Gᵀ of every (O, C) filter, as (16, O, C)."""
    g = WINOGRAD_G.astype(W.dtype)
    u = np.einsum("ai,ocij,bj->aboc", g, W, g, optimize=True)
    return np.ascontiguousarray(u.reshape(16, *W.shape[:2]))


def _winograd_weight_grad(du_t):
    """The weight gradient Gᵀ dU G from dU laid out (16, C, O), as (O, C, 3, 3)."""
    g = WINOGRAD_G.astype(du_t.dtype)
    du = du_t.reshape(4, 4, *du_t.shape[1:])
    return np.ascontiguousarray(np.einsum("ai,abco,bj->ocij", g, du, g, optimize=True))


def conv2d_relu_pool(x, W, b, stride=1, padding=0):
    """``max_pool2d(relu(conv2d(x, W, b, stride, padding)), 2)`` as one op (pooled output
    (N, O, OH//2, OW//2)); the same values and gradients, in fewer passes over memory."""
    return Conv2dReluPool(stride, padding)(x, W, b)
