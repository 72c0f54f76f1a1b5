"""Winograd F(2×2, 3×3) for 3×3 convolutions with padding 1 and stride 1 (Lavin & Gray,
2016): every 2×2 output tile comes from a 4×4 input tile as Aᵀ[(G w Gᵀ) ⊙ (Bᵀ d B)]A, so
the convolution becomes 16 GEMMs over (channels × tiles), 2.25× fewer multiplications than
im2col.  The kernels here are the transforms around those GEMMs: the input's (Bᵀ d B), the
plain output's (Aᵀ M A + bias) and their transposes for backward; the fused block's
pooled output transform lives in ``conv_pool``.  Each kernel is serial: the ops run them on
chunks of images on the kernel threads (``kernels.map_chunks``).

Layouts: V (16, C, tiles) and M (16, O, tiles), entry 4a+b of each tile, tiles numbered
image-major (image, tile row, tile column); the gradients dM and dV alike, so every kernel
reads and writes whole rows of tiles (a channel-innermost layout cost 2-3× in the
gradient kernels), and the GEMMs take U (16, O, C) transposed where they need it."""
from __future__ import annotations

import numpy as np

from . import jit

# a 2×2 output tile Y of a 4×4 input tile d and a 3×3 filter g is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A.
# The kernels below apply Bᵀ and Aᵀ written out as additions (the comments there name the
# rows they combine); G is applied by NumPy, once per step.
WINOGRAD_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
WINOGRAD_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
WINOGRAD_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]])


def winograd_weights(W):
    """U = G w Gᵀ of every (O, C) filter, as (16, O, C)."""
    g = WINOGRAD_G.astype(W.dtype)
    u = np.einsum("ai,ocij,bj->aboc", g, W, g, optimize=True)
    return np.ascontiguousarray(u.reshape(16, *W.shape[:2]))


def winograd_weight_grad(du):
    """Gᵀ dU G from dU (16, O, C), as (O, C, 3, 3)."""
    g = WINOGRAD_G.astype(du.dtype)
    du = du.reshape(4, 4, *du.shape[1:])
    return np.ascontiguousarray(np.einsum("ai,aboc,bj->ocij", g, du, g, optimize=True))


@jit
def winograd_input(x, v):
    """Bᵀ d B of every 4×4 tile of ``x`` (N, C, H, W) zero-padded by 1, stride 2, into
    ``v`` (16, C, N·H/2·W/2)."""
    n, c, h, w = x.shape
    th, tw = h // 2, w // 2
    pad = np.zeros((h + 2, w + 2), x.dtype)
    rows = np.empty((4, w + 2), x.dtype)
    for image in range(n):
        for channel in range(c):
            pad[1 : h + 1, 1 : w + 1] = x[image, channel]
            for i in range(th):
                d0, d1, d2, d3 = pad[2 * i], pad[2 * i + 1], pad[2 * i + 2], pad[2 * i + 3]
                for q in range(w + 2):  # Bᵀ d: combine the tile's four rows
                    rows[0, q] = d0[q] - d2[q]
                    rows[1, q] = d1[q] + d2[q]
                    rows[2, q] = d2[q] - d1[q]
                    rows[3, q] = d1[q] - d3[q]
                start = (image * th + i) * tw
                for a in range(4):
                    r = rows[a]
                    for j in range(tw):  # (Bᵀ d) B: then its four columns
                        t = start + j
                        v[4 * a, channel, t] = r[2 * j] - r[2 * j + 2]
                        v[4 * a + 1, channel, t] = r[2 * j + 1] + r[2 * j + 2]
                        v[4 * a + 2, channel, t] = r[2 * j + 2] - r[2 * j + 1]
                        v[4 * a + 3, channel, t] = r[2 * j + 1] - r[2 * j + 3]


@jit(inline="always")
def channel_planes(m, channel):
    """The rows of one channel in the 16 planes of ``m`` (16, C, tiles): unit-stride views,
    so a loop over tiles that reads them vectorises."""
    return (m[0, channel], m[1, channel], m[2, channel], m[3, channel], m[4, channel], m[5, channel],
            m[6, channel], m[7, channel], m[8, channel], m[9, channel], m[10, channel], m[11, channel],
            m[12, channel], m[13, channel], m[14, channel], m[15, channel])


@jit(inline="always")
def output_tile(p, t):
    """Aᵀ M A of tile ``t`` from a channel's plane rows ``p`` (:func:`channel_planes`): its
    (top left, top right, bottom left, bottom right) outputs."""
    # Aᵀ M: rows 0+1+2 and 1-2-3 of the 4×4 tile, then the same on columns
    u0, u1 = p[0][t] + p[4][t] + p[8][t], p[1][t] + p[5][t] + p[9][t]
    u2, u3 = p[2][t] + p[6][t] + p[10][t], p[3][t] + p[7][t] + p[11][t]
    l0, l1 = p[4][t] - p[8][t] - p[12][t], p[5][t] - p[9][t] - p[13][t]
    l2, l3 = p[6][t] - p[10][t] - p[14][t], p[7][t] - p[11][t] - p[15][t]
    return u0 + u1 + u2, u1 - u2 - u3, l0 + l1 + l2, l1 - l2 - l3


@jit
def winograd_output(m, bias, y):
    """Aᵀ M A of every tile of ``m`` (16, O, tiles) plus the bias, into ``y`` (N, O, H, W)."""
    n, o, h, w = y.shape
    th, tw = h // 2, w // 2
    for channel in range(o):
        b, p = bias[channel], channel_planes(m, channel)
        for image in range(n):
            for i in range(th):
                top, bottom = y[image, channel, 2 * i], y[image, channel, 2 * i + 1]
                start = (image * th + i) * tw
                for j in range(tw):
                    y00, y01, y10, y11 = output_tile(p, start + j)
                    top[2 * j], top[2 * j + 1] = y00 + b, y01 + b
                    bottom[2 * j], bottom[2 * j + 1] = y10 + b, y11 + b


@jit
def winograd_output_grad(gy, dm):
    """A dY Aᵀ of every 2×2 tile of ``gy`` (N, O, H, W), the transpose of
    :func:`winograd_output`, into ``dm`` (16, O, tiles)."""
    n, o, h, w = gy.shape
    th, tw = h // 2, w // 2
    for image in range(n):
        for channel in range(o):
            for i in range(th):
                top, bottom = gy[image, channel, 2 * i], gy[image, channel, 2 * i + 1]
                start = (image * th + i) * tw
                for j in range(tw):
                    t = start + j
                    # dY A on each row: (g0, g0 + g1, g0 - g1, -g1); then A on the two rows the same way
                    t0, t1, t2, t3 = top[2 * j], top[2 * j] + top[2 * j + 1], top[2 * j] - top[2 * j + 1], \
                        -top[2 * j + 1]
                    b0, b1, b2, b3 = bottom[2 * j], bottom[2 * j] + bottom[2 * j + 1], \
                        bottom[2 * j] - bottom[2 * j + 1], -bottom[2 * j + 1]
                    dm[0, channel, t], dm[1, channel, t], dm[2, channel, t], dm[3, channel, t] = t0, t1, t2, t3
                    dm[4, channel, t], dm[5, channel, t] = t0 + b0, t1 + b1
                    dm[6, channel, t], dm[7, channel, t] = t2 + b2, t3 + b3
                    dm[8, channel, t], dm[9, channel, t] = t0 - b0, t1 - b1
                    dm[10, channel, t], dm[11, channel, t] = t2 - b2, t3 - b3
                    dm[12, channel, t], dm[13, channel, t], dm[14, channel, t], dm[15, channel, t] = -b0, -b1, -b2, -b3


@jit
def winograd_input_grad(dv, gx):
    """B dV Bᵀ of every tile's gradient ``dv`` (16, C, tiles), summed back over the
    overlapping 4×4 tiles into ``gx`` (N, C, H, W) (the padding's share dropped)."""
    n, c, h, w = gx.shape
    th, tw = h // 2, w // 2
    pad = np.empty((h + 2, w + 2), gx.dtype)
    col = np.empty(4, gx.dtype)
    for image in range(n):
        for channel in range(c):
            pad[:] = 0
            for i in range(th):
                start = (image * th + i) * tw
                for j in range(tw):
                    t = start + j
                    for a in range(4):  # B dV on rows (Bᵀ's columns), into the tile's rows
                        col[0] = dv[a, channel, t]
                        col[1] = dv[4 + a, channel, t] - dv[8 + a, channel, t] + dv[12 + a, channel, t]
                        col[2] = dv[8 + a, channel, t] + dv[4 + a, channel, t] - dv[a, channel, t]
                        col[3] = -dv[12 + a, channel, t]
                        for row in range(4):  # … and the same on columns, as a column a of the tile
                            _scatter_column(pad, 2 * i + row, 2 * j, a, col[row])
            gx[image, channel] = pad[1 : h + 1, 1 : w + 1]


@jit(inline="always")
def _scatter_column(pad, row, left, a, value):
    """Add ``value`` (row ``row`` of B dV, column ``a``) times column ``a`` of Bᵀ (as B's row)."""
    if a == 0:
        pad[row, left] += value
        pad[row, left + 2] -= value
    elif a == 1:
        pad[row, left + 1] += value
        pad[row, left + 2] += value
    elif a == 2:
        pad[row, left + 2] += value
        pad[row, left + 1] -= value
    else:
        pad[row, left + 1] += value
        pad[row, left + 3] -= value
