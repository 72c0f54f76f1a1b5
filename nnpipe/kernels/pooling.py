"""Max pooling over NCHW images: the window maxima with the offset that won (the first
maximum in row-major order, as in PyTorch), and the gradient routed back to it.
Reference: ``nnpipe.autograd.ops.pool.MaxPool2d`` (reductions over strided offset views).
Serial kernels (a Numba thread team spinning after a parallel region took the cores from
OpenBLAS's threads, between a convolution's GEMMs): the op runs chunks of images on the
kernel threads, each plane's result the same whatever the chunks."""
from __future__ import annotations

import numpy as np

from . import jit


@jit
def max_pool_forward(x, kh, kw, sh, sw, ph, pw, y, winner):
    """Fills ``y`` (N, C, OH, OW) with the window maxima and ``winner`` with their offsets."""
    n, c, h, w = x.shape
    oh, ow = y.shape[2:]
    if kh == kw == sh == sw == 2 and ph == pw == 0:
        for plane in range(n * c):
            _max_pool_2x2(x[plane // c, plane % c], y[plane // c, plane % c], winner[plane // c, plane % c])
        return
    if ph == 0 and pw == 0:  # every window lies inside the image: no bounds to test
        for plane in range(n * c):
            _max_pool_plane(x[plane // c, plane % c], kh, kw, sh, sw, y[plane // c, plane % c],
                            winner[plane // c, plane % c])
        return
    for plane in range(n * c):
        image, channel = plane // c, plane % c
        source = x[image, channel]
        for r in range(oh):
            for q in range(ow):
                best, won = -np.inf, 0
                for i in range(kh):
                    row = r * sh + i - ph
                    if 0 <= row < h:
                        for j in range(kw):
                            column = q * sw + j - pw
                            if 0 <= column < w and source[row, column] > best:
                                best, won = source[row, column], i * kw + j
                y[image, channel, r, q] = best
                winner[image, channel, r, q] = won


@jit
def _max_pool_2x2(source, out, winner):
    """2×2 windows, stride 2: selects instead of branches, ties keep the earlier offset."""
    for r in range(out.shape[0]):
        top, bottom = source[2 * r], source[2 * r + 1]
        for q in range(out.shape[1]):
            a0, a1, b0, b1 = top[2 * q], top[2 * q + 1], bottom[2 * q], bottom[2 * q + 1]
            right_top, right_bottom = a1 > a0, b1 > b0
            m_top = a1 if right_top else a0
            m_bottom = b1 if right_bottom else b0
            lower = m_bottom > m_top
            out[r, q] = m_bottom if lower else m_top
            winner[r, q] = (2 + right_bottom) if lower else right_top


@jit
def _max_pool_plane(source, kh, kw, sh, sw, out, winner):
    for r in range(out.shape[0]):
        for q in range(out.shape[1]):
            best = source[r * sh, q * sw]
            won = 0
            for i in range(kh):
                for j in range(kw):
                    value = source[r * sh + i, q * sw + j]
                    if value > best:
                        best = value
                        won = i * kw + j
            out[r, q] = best
            winner[r, q] = won


@jit
def max_pool_backward(gy, winner, kw, sh, sw, ph, pw, gx):
    """Fills ``gx`` (N, C, H, W) with the gradient routed to each window's winner."""
    n, c, oh, ow = gy.shape
    h, w = gx.shape[2:]
    if kw == sh == sw == 2 and ph == pw == 0 and h == 2 * oh and w == 2 * ow:
        for plane in range(n * c):  # the 2×2 windows tile the image: every entry is written
            _unpool_2x2(gy[plane // c, plane % c], winner[plane // c, plane % c], gx[plane // c, plane % c])
        return
    gx[...] = 0
    for plane in range(n * c):
        image, channel = plane // c, plane % c
        target = gx[image, channel]
        for r in range(oh):
            for q in range(ow):
                won = winner[image, channel, r, q]
                row, column = r * sh + won // kw - ph, q * sw + won % kw - pw
                target[row, column] += gy[image, channel, r, q]


@jit
def _unpool_2x2(gy, winner, gx):
    zero = gy.dtype.type(0)
    for r in range(gy.shape[0]):
        top, bottom = gx[2 * r], gx[2 * r + 1]
        for q in range(gy.shape[1]):
            g, won = gy[r, q], winner[r, q]
            top[2 * q] = g if won == 0 else zero
            top[2 * q + 1] = g if won == 1 else zero
            bottom[2 * q] = g if won == 2 else zero
            bottom[2 * q + 1] = g if won == 3 else zero
