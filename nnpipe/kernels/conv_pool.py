"""A convolution block fused with its bias, ReLU and 2×2 max pooling, for stride-1
convolutions whose output tiles into the pooling windows (``F.conv2d_relu_pool``).

Two ways to the same result (reference: ``nnpipe.autograd.ops.conv_block``, which composes
conv2d, ReLU and max_pool2d):

* Winograd F(2×2, 3×3) for 3×3 kernels with padding 1 (``kernels.winograd``: the input's
  transform and the GEMMs are the plain convolution's).  The 2×2 output tiles are exactly
  the pooling windows, so the output transform here adds the bias, takes each tile's
  maximum and applies the ReLU in the same pass, and backward starts from one gradient
  per tile.
* im2col GEMMs on whole padded rows (``conv._RowLayout``) with the bias, pooling and
  ReLU fused into one pass over the GEMM's output, for other kernels.

Each pooled output keeps the code of the tile entry that won (0–3 in row-major order,
the first maximum as in PyTorch), or :data:`DEAD` where the ReLU cut it to zero.
Each kernel is serial: the op runs them on chunks of images on several Python threads
(``kernels.map_chunks``), since a Numba thread team spinning between OpenBLAS's GEMMs
would starve BLAS's threads."""
from __future__ import annotations

import numpy as np

from . import jit, jit_math
from .winograd import channel_planes, output_tile

DEAD = 4  # winner code of an output the ReLU set to zero: no gradient flows back


@jit(inline="always")
def _pool_tile(y00, y01, y10, y11):
    """Maximum of a 2×2 tile (the first maximum in row-major order wins: each row's first,
    then the top row's on a tie), then the ReLU; (value, winner's code).  Written with
    selects, not branches, so that loops over tiles vectorise."""
    top_right = y01 > y00
    top = y01 if top_right else y00
    bottom_right = y11 > y10
    bottom = y11 if bottom_right else y10
    lower = bottom > top
    best = bottom if lower else top
    # the code as arithmetic on 32-bit flags: the pooling loops ran 23% faster than with
    # 64-bit selects of constants (2048 MNIST planes: 0.84 against 1.09 ms)
    won = np.int32(lower) * 2 + np.int32(bottom_right if lower else top_right)
    alive = best > 0
    return (best if alive else best - best), (won if alive else np.int32(DEAD))


@jit
def winograd_output_pool(m, bias, y, winner):
    """Aᵀ M A of every tile of ``m`` (16, O, tiles) plus the bias, pooled and rectified
    into ``y`` (N, O, H/2, W/2) with each winner's code in ``winner``: one loop over each
    image's tiles, which are one run of the channel's plane rows and of its pooled plane
    (so it vectorises)."""
    n, o, th, tw = y.shape
    per_image = th * tw
    for channel in range(o):
        b, p = bias[channel], channel_planes(m, channel)
        for image in range(n):
            pooled, codes = y[image, channel].reshape(per_image), winner[image, channel].reshape(per_image)
            start = image * per_image
            for k in range(per_image):
                y00, y01, y10, y11 = output_tile(p, start + k)
                pooled[k], codes[k] = _pool_tile(y00 + b, y01 + b, y10 + b, y11 + b)


@jit
def winograd_tile_grad(gy, winner, dm, gb):
    """The gradient of every tile's 16 products, ``dm`` (16, O, tiles) = A dY Aᵀ, where dY
    holds the pooled gradient g at the winner (r, s) only: product 4a + b gets
    g·A[a, r]·A[b, s] (:func:`_winner_share`); the bias gradient summed into ``gb``.  Per
    channel, 16 loops over the tiles of all its images, one per plane of ``dm`` (so they
    vectorise)."""
    n, o, th, tw = gy.shape
    per, one, zero = th * tw, gy.dtype.type(1), gy.dtype.type(0)
    # row a of A = (Aᵀ)ᵀ, in gy's dtype: (A[a, 0], A[a, 1])
    a_rows = ((one, zero), (one, one), (one, -one), (zero, -one))
    g, won = np.empty(n * per, gy.dtype), np.empty(n * per, winner.dtype)
    for channel in range(o):
        for image in range(n):  # the channel's tiles in one run, as in dm: long loops vectorise
            run = slice(image * per, (image + 1) * per)
            g[run], won[run] = gy[image, channel].reshape(per), winner[image, channel].reshape(per)
            _cut_dead(g[run], won[run], zero)  # once here, not in each plane's loop
            gb[channel] += _sum(g[run])
        planes, count = channel_planes(dm, channel), np.uint64(n * per)
        # one call per product 4a + b, its factors constants (they fold)
        _share_plane(planes[0], g, won, count, a_rows[0], a_rows[0])
        _share_plane(planes[1], g, won, count, a_rows[0], a_rows[1])
        _share_plane(planes[2], g, won, count, a_rows[0], a_rows[2])
        _share_plane(planes[3], g, won, count, a_rows[0], a_rows[3])
        _share_plane(planes[4], g, won, count, a_rows[1], a_rows[0])
        _share_plane(planes[5], g, won, count, a_rows[1], a_rows[1])
        _share_plane(planes[6], g, won, count, a_rows[1], a_rows[2])
        _share_plane(planes[7], g, won, count, a_rows[1], a_rows[3])
        _share_plane(planes[8], g, won, count, a_rows[2], a_rows[0])
        _share_plane(planes[9], g, won, count, a_rows[2], a_rows[1])
        _share_plane(planes[10], g, won, count, a_rows[2], a_rows[2])
        _share_plane(planes[11], g, won, count, a_rows[2], a_rows[3])
        _share_plane(planes[12], g, won, count, a_rows[3], a_rows[0])
        _share_plane(planes[13], g, won, count, a_rows[3], a_rows[1])
        _share_plane(planes[14], g, won, count, a_rows[3], a_rows[2])
        _share_plane(planes[15], g, won, count, a_rows[3], a_rows[3])


@jit(inline="always")
def _share_plane(plane, g, won, count, row, column):
    """Product 4a + b's plane (``row``, ``column``: rows a and b of A): each tile's share
    (:func:`_winner_share`; ``g`` is 0 where DEAD)."""
    for t in range(count):
        plane[t] = _winner_share(g[t], won[t], row[0], row[1], column[0], column[1])


@jit(inline="always")
def _winner_share(g, won, row_first, row_second, column_first, column_second):
    """g·A[a, r]·A[b, s] for the winner's code ``won`` = 2r + s (given A[a, 0], A[a, 1],
    A[b, 0] and A[b, 1]; DEAD, 4, reads A[:, 0], with g = 0).  Each factor is 1, 0 or -1,
    so the product is exact and the same in any order."""
    r, s = _winner_corner(won)
    return g * (row_second if r else row_first) * (column_second if s else column_first)


@jit(inline="always")
def _winner_corner(won):
    """(row, column) in its 2×2 window of the winner's code ``won`` = 2·row + column
    (:func:`_pool_tile`); DEAD (4) gives (0, 0), the window's first entry."""
    return (won >> 1) & 1, won & 1


@jit(inline="always")
def _cut_dead(g, won, zero):
    """g = 0 where the ReLU cut the output (DEAD): no gradient flows back there."""
    for t in range(len(g)):
        g[t] = g[t] if won[t] != DEAD else zero


@jit_math
def _sum(g):
    """Σ g (in any order: LLVM vectorises it)."""
    total = 0.0
    for t in range(len(g)):
        total += g[t]
    return total


@jit
def rows_pool(y, bias, out, winner):
    """Bias, 2×2 max pooling and ReLU over a row-layout GEMM output ``y`` (O, N, OH, Wp)
    into ``out`` (N, O, OH/2, OW/2) (the Wp - OW junk columns are never read)."""
    n, o, ph, pw = out.shape
    for channel in range(o):
        b = bias[channel]
        for image in range(n):
            for i in range(ph):
                top, bottom = y[channel, image, 2 * i], y[channel, image, 2 * i + 1]
                for j in range(pw):
                    best, won = _pool_tile(top[2 * j] + b, top[2 * j + 1] + b, bottom[2 * j] + b,
                                           bottom[2 * j + 1] + b)
                    out[image, channel, i, j] = best
                    winner[image, channel, i, j] = won


@jit_math
def rows_unpool(gy, winner, wide, gb):
    """The pooled gradient ``gy`` (N, O, PH, PW) routed to each winner in the row-layout
    gradient ``wide`` (O, N, 2·PH, Wp), zero elsewhere (junk columns included); the bias
    gradient added to ``gb``."""
    n, o, ph, pw = gy.shape
    zero = gy.dtype.type(0)
    for channel in range(o):
        total = 0.0
        for image in range(n):
            target = wide[channel, image]
            target[:] = 0
            for i in range(ph):
                g_row, won_row = gy[image, channel, i], winner[image, channel, i]
                for j in range(pw):
                    won = won_row[j]
                    g = g_row[j] if won != DEAD else zero
                    total += g
                    # one store, no branch: DEAD writes its zero onto the window's first entry
                    r, s = _winner_corner(won)
                    target[2 * i + r, 2 * j + s] = g
        gb[channel] += total


@jit(fastmath={"contract"})
def rows_pool_params_grad(gy, winner, col, gw, gb):
    """The weight and bias gradients of the im2col block of a 3×3 kernel over one input
    channel whose input needs no gradient (a grayscale first layer): each winner's
    gradient times its column of ``col`` (9, N·OH·Wp), added to ``gw`` (O, 9) and ``gb``
    (O,), without writing the convolution's gradient out (three quarters zeros, 7 MB for
    64 MNIST images and 32 channels).  An image at a time (its columns stay in cache);
    the nine sums and the bias's in registers, in the tables' dtype over an image and in
    float64 over images.  (With three input channels the GEMM over the written-out
    gradient is faster: 6.2 against 9.3 ms for 64 CIFAR images.)"""
    n, o, ph, pw = gy.shape
    run = col.shape[1] // n
    wp = run // (2 * ph)
    zero = gy.dtype.type(0)
    sums = np.zeros((o, 10))  # the weights', then the bias's
    for image in range(n):
        for channel in range(o):
            g_plane, won_plane = gy[image, channel], winner[image, channel]
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = bias = zero
            for i in range(ph):
                for j in range(pw):
                    won = won_plane[i, j]
                    g = g_plane[i, j]
                    g = g if won != DEAD else zero  # no branch, no load under one
                    r, s = _winner_corner(won)  # DEAD adds its zero at the window's first entry
                    at = image * run + (2 * i + r) * wp + 2 * j + s
                    a0 += g * col[0, at]
                    a1 += g * col[1, at]
                    a2 += g * col[2, at]
                    a3 += g * col[3, at]
                    a4 += g * col[4, at]
                    a5 += g * col[5, at]
                    a6 += g * col[6, at]
                    a7 += g * col[7, at]
                    a8 += g * col[8, at]
                    bias += g
            image_sums = (a0, a1, a2, a3, a4, a5, a6, a7, a8, bias)
            for k in range(10):
                sums[channel, k] += image_sums[k]
    gw += sums[:, :9]
    gb += sums[:, 9]
