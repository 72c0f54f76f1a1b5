"""A plain 3×3 convolution (stride 1, padding 1) as Winograd F(2×2, 3×3) on one chunk of
images: the transforms of ``nnpipe.kernels.winograd`` around 16 GEMMs.  ``Conv2d`` runs it
on the kernel threads when :func:`winograd_conv_fits`; its reference is the im2col path."""
from __future__ import annotations

import numpy as np

from ...kernels import lazy

winograd = lazy("winograd")

MIN_CHANNELS = 4  # below this the 16 GEMMs are outer products: im2col is as fast
CHUNK_BYTES = 1 << 20  # a chunk's tiles on its wider side: about one core's L2 cache (see images_per_chunk)


def winograd_conv_fits(x, W, stride, padding):
    """Whether F(2×2, 3×3) serves this convolution: 3×3, stride 1, padding 1, an even
    output (whole tiles), and enough input channels to make its GEMMs worth it."""
    return (W.shape[2:] == (3, 3) and tuple(stride) == (1, 1) and tuple(padding) == (1, 1)
            and x.shape[1] >= MIN_CHANNELS and x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0)


def planes(rows, columns, dtype):
    """An empty (16, rows, columns') array for tiles or their gradients, C-contiguous (so the
    kernels' loops over tiles are unit-stride, which LLVM vectorises), with ``columns'`` the
    odd number ``columns`` or ``columns + 1``, the extra column zero: the kernels touch all 16
    planes at once, and planes a multiple of 4 KB apart fall into the same cache sets and
    evict each other (the tile gradient of 32 MNIST images took 5× longer per image than that
    of 8); with an odd row length, 16 float32 planes of up to 64 rows start in 16 different
    sets.  The GEMMs run over the extra column too: zero in, zero out."""
    width = columns | 1
    array = np.empty((16, rows, width), dtype)
    array[:, :, columns:] = 0
    return array


class WinogradConv:
    """U = G w Gᵀ once per step; per chunk, forward keeps nothing (backward lays the input's
    tiles out again: V is 4× the input's size)."""

    def __init__(self, W, b):
        self.U = winograd.winograd_weights(W)  # (16, O, C)
        self.bias = np.zeros(W.shape[0], W.dtype) if b is None else b

    def images_per_chunk(self, x):
        """Images per chunk whose tiles (16 per 2×2 outputs, on the wider of the input and
        output channels) stay within :data:`CHUNK_BYTES`, so each transform and GEMM finds
        its operands in the core's own cache (of 0.5–4 MB, 1 MB measured best on the MNIST
        and CIFAR networks' shapes)."""
        _, c, h, w = x.shape
        per_image = 16 * (h // 2) * (w // 2) * max(c, self.U.shape[1]) * x.itemsize
        return max(1, CHUNK_BYTES // per_image)

    def forward(self, x, y):
        """``y`` (N, O, H, W, contiguous) = the convolution of ``x`` plus the bias."""
        winograd.winograd_output(self.products(self._tiles(x)), self.bias, y)

    def products(self, V):
        """M = U V: (16, O, tiles)."""
        return np.matmul(self.U, V, out=planes(self.U.shape[1], V.shape[2], V.dtype))

    def backward(self, x, gy, gx, need_W):
        """``gx`` (or None) filled with the input's gradient; returns dU as (16, O, C) (or None)."""
        n, _, h, w = x.shape
        dm = planes(gy.shape[1], n * (h // 2) * (w // 2), gy.dtype)  # (16, O, tiles)
        winograd.winograd_output_grad(gy, dm)
        return self.backward_tiles(dm, gx, self._tiles(x) if need_W else None)

    def backward_tiles(self, dm, gx, V):
        """From the tiles' gradient ``dm`` (16, O, tiles): ``gx`` (when given) and dU as
        (16, O, C) (when the input's tiles ``V`` are)."""
        if gx is not None:
            dv = np.matmul(self.U.transpose(0, 2, 1), dm, out=planes(self.U.shape[2], dm.shape[2], dm.dtype))
            winograd.winograd_input_grad(dv, gx)  # dV = Uᵀ dM: (16, C, tiles)
        return None if V is None else dm @ V.transpose(0, 2, 1)  # dM Vᵀ: (16, O, C)

    @staticmethod
    def weight_grad(du):
        """The chunks' dU summed, as the weights' (O, C, 3, 3) gradient."""
        return winograd.winograd_weight_grad(du)

    @staticmethod
    def _tiles(x):
        n, c, h, w = x.shape
        V = planes(c, n * (h // 2) * (w // 2), x.dtype)
        winograd.winograd_input(x, V)
        return V
