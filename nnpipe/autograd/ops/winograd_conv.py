"""A plain 3×3 convolution (stride 1, padding 1) as Winograd F(2×2, 3×3) on one chunk of
images: the transforms of ``nnpipe.kernels.winograd`` around 16 GEMMs.  ``Conv2d`` runs it
on the kernel threads when :func:`winograd_conv_fits`; its reference is the im2col path."""
from __future__ import annotations

import numpy as np

from ...kernels import lazy

winograd = lazy("winograd")

MIN_CHANNELS = 4  # below this the 16 GEMMs are outer products: im2col is as fast


def winograd_conv_fits(x, W, stride, padding):
    """Whether F(2×2, 3×3) serves this convolution: 3×3, stride 1, padding 1, an even
    output (whole tiles), and enough input channels to make its GEMMs worth it."""
    return (W.shape[2:] == (3, 3) and tuple(stride) == (1, 1) and tuple(padding) == (1, 1)
            and x.shape[1] >= MIN_CHANNELS and x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0)


class WinogradConv:
    """U = G w Gᵀ once per step; per chunk, forward keeps nothing (backward lays the input's
    tiles out again: V is 4× the input's size)."""

    def __init__(self, W, b):
        self.U = winograd.winograd_weights(W)  # (16, O, C)
        self.bias = np.zeros(W.shape[0], W.dtype) if b is None else b

    def forward(self, x, y):
        """``y`` (N, O, H, W, contiguous) = the convolution of ``x`` plus the bias."""
        winograd.winograd_output(self.U @ self._tiles(x), self.bias, y)  # U @ V: (16, O, tiles)

    def backward(self, x, gy, gx, need_W):
        """``gx`` (or None) filled with the input's gradient; returns dU as (16, C, O) (or None)."""
        n, _, h, w = x.shape
        dm = np.empty((16, n * (h // 2) * (w // 2), gy.shape[1]), gy.dtype)  # (16, tiles, O)
        winograd.winograd_output_grad(gy, dm)
        if gx is not None:
            winograd.winograd_input_grad(dm @ self.U, gx)  # dm @ U: (16, tiles, C)
        return self._tiles(x) @ dm if need_W else None  # V @ dm: (16, C, O)

    @staticmethod
    def weight_grad(du_t):
        """The chunks' dU summed, as the weights' (O, C, 3, 3) gradient."""
        return winograd.winograd_weight_grad(du_t)

    @staticmethod
    def _tiles(x):
        n, c, h, w = x.shape
        V = np.empty((16, c, n * (h // 2) * (w // 2)), x.dtype)
        winograd.winograd_input(x, V)
        return V
