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


# G w Gᵀ of a flattened filter w is (G ⊗ G) w: entry (4a+b, 3i+j) is G[a, i]·G[b, j]
WINOGRAD_GG = np.kron(WINOGRAD_G, WINOGRAD_G)


def winograd_weights(W):
    """U = G w Gᵀ of every (O, C) filter, as (16, O, C): one GEMM (an einsum took 0.20 ms
    a call for the configured CNN's 64×32 filters, against 0.023, most of it choosing its
    contraction path)."""
    u = WINOGRAD_GG.astype(W.dtype) @ W.reshape(-1, 9).T
    return u.reshape(16, *W.shape[:2])


def winograd_weight_grad(du):
    """Gᵀ dU G from dU (16, O, C), as (O, C, 3, 3)."""
    return (du.reshape(16, -1).T @ WINOGRAD_GG.astype(du.dtype)).reshape(*du.shape[1:], 3, 3)


@jit
def winograd_input(x, v):
    """Bᵀ d B of every 4×4 tile of ``x`` (N, C, H, W) zero-padded by 1, stride 2, into
    ``v`` (16, C, N·H/2·W/2).  Each image's channel is first split into its tiles' columns
    (:func:`_tile_columns`), where a tile's four rows sit at its own index and one row of
    tiles further on; the transform is then 16 loops over the image's tiles, one per plane
    of ``v``, all at unit stride (LLVM vectorises them; one loop writing all 16 planes, or
    reading at a signed offset, it does not)."""
    per, tw, columns = _columns_layout(x)
    for channel in range(x.shape[1]):
        out = channel_planes(v, channel)
        for image in range(x.shape[0]):
            _tile_columns(x[image, channel], columns)
            _input_planes(columns[0], columns[1], out, np.uint64(image * per), np.uint64(per), np.uint64(tw))


@jit(inline="always")
def _columns_layout(images):
    """(tiles per image, tiles per row, an empty buffer for :func:`_tile_columns`) for the
    images of ``images`` (N, C, H, W)."""
    h, w = images.shape[2], images.shape[3]
    return (h // 2) * (w // 2), w // 2, np.empty((2, 4, (h // 2 + 1) * (w // 2)), images.dtype)


@jit(inline="always")
def _tile_columns(image, columns):
    """``columns[p, s]`` (p: the padded rows of parity p, s: a tile's column 0–3), flat
    (H/2 + 1) × W/2: row i, entry j is the zero-padded image at (2i + p, 2j + s).  So tile
    t's row r is in ``columns[r % 2, :, t + (r // 2)·W/2]``.  Unsigned indices: a signed
    one makes LLVM check each for wrap-around."""
    h, w = image.shape
    tw, zero, one = np.uint64(w // 2), image.dtype.type(0), np.uint64(1)
    bottom = np.uint64((h // 2) * (w // 2))
    for j in range(tw):  # the padding's rows: the top one (even), the bottom one (odd)
        for s in range(4):
            columns[0, s, j] = zero
            columns[1, s, bottom + j] = zero
    for i in range(h):
        row, (at, left, even, odd, right) = image[i], _row_columns(columns, i, w)
        left[at], right[at + tw - one] = zero, zero  # the padding's columns
        for j in range(tw):
            even[at + j], odd[at + j] = row[j + j], row[j + j + one]
        for j in range(tw - one):
            left[at + j + one], right[at + j] = row[j + j + one], row[j + j + np.uint64(2)]


@jit(inline="always")
def _row_columns(columns, i, w):
    """Where image row i (padded row i + 1) goes in the tiles' columns: its offset in the
    planes of its parity, and those planes (tile columns 0–3)."""
    parity, at = (1, i // 2 * (w // 2)) if i % 2 == 0 else (0, (i // 2 + 1) * (w // 2))
    return np.uint64(at), columns[parity, 0], columns[parity, 1], columns[parity, 2], columns[parity, 3]


@jit(inline="always")
def _input_planes(e, o, out, start, per, tw):
    """Bᵀ d B of an image's tiles into the 16 plane rows ``out`` from ``start``, one plane
    per loop.  Tile t's rows d0-d3 are e[s][t], o[s][t], e[s][t + tw], o[s][t + tw] (column
    s); Bᵀ d combines them as d0 - d2, d1 + d2, d2 - d1, d1 - d3 (the four groups below),
    and B each one's columns the same way.  Written out: with ``literal_unroll`` over the
    rows the kernel took 10 s to compile instead of 3.5–3.9 s."""
    e0, e1, e2, e3, o0, o1, o2, o3 = e[0], e[1], e[2], e[3], o[0], o[1], o[2], o[3]
    for t in range(per):  # d0 - d2
        out[0][start + t] = (e0[t] - e0[t + tw]) - (e2[t] - e2[t + tw])
    for t in range(per):
        out[1][start + t] = (e1[t] - e1[t + tw]) + (e2[t] - e2[t + tw])
    for t in range(per):
        out[2][start + t] = (e2[t] - e2[t + tw]) - (e1[t] - e1[t + tw])
    for t in range(per):
        out[3][start + t] = (e1[t] - e1[t + tw]) - (e3[t] - e3[t + tw])
    for t in range(per):  # d1 + d2
        out[4][start + t] = (o0[t] + e0[t + tw]) - (o2[t] + e2[t + tw])
    for t in range(per):
        out[5][start + t] = (o1[t] + e1[t + tw]) + (o2[t] + e2[t + tw])
    for t in range(per):
        out[6][start + t] = (o2[t] + e2[t + tw]) - (o1[t] + e1[t + tw])
    for t in range(per):
        out[7][start + t] = (o1[t] + e1[t + tw]) - (o3[t] + e3[t + tw])
    for t in range(per):  # d2 - d1
        out[8][start + t] = (e0[t + tw] - o0[t]) - (e2[t + tw] - o2[t])
    for t in range(per):
        out[9][start + t] = (e1[t + tw] - o1[t]) + (e2[t + tw] - o2[t])
    for t in range(per):
        out[10][start + t] = (e2[t + tw] - o2[t]) - (e1[t + tw] - o1[t])
    for t in range(per):
        out[11][start + t] = (e1[t + tw] - o1[t]) - (e3[t + tw] - o3[t])
    for t in range(per):  # d1 - d3
        out[12][start + t] = (o0[t] - o0[t + tw]) - (o2[t] - o2[t + tw])
    for t in range(per):
        out[13][start + t] = (o1[t] - o1[t + tw]) + (o2[t] - o2[t + tw])
    for t in range(per):
        out[14][start + t] = (o2[t] - o2[t + tw]) - (o1[t] - o1[t + tw])
    for t in range(per):
        out[15][start + t] = (o1[t] - o1[t + tw]) - (o3[t] - o3[t + tw])


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
    """Aᵀ M A of every tile of ``m`` (16, O, tiles) plus the bias, into ``y`` (N, O, H, W):
    per image and channel one loop over its tiles into their four corners (it vectorises),
    then the corners into the image's rows."""
    n, o, h, w = y.shape
    per = (h // 2) * (w // 2)
    corners = np.empty((4, per), y.dtype)
    for channel in range(o):
        b, p = bias[channel], channel_planes(m, channel)
        for image in range(n):
            start = np.uint64(image * per)
            for t in range(np.uint64(per)):
                y00, y01, y10, y11 = output_tile(p, start + t)
                corners[0, t], corners[1, t], corners[2, t], corners[3, t] = y00 + b, y01 + b, y10 + b, y11 + b
            _copy_corners(corners, y[image, channel], True)


@jit
def winograd_output_grad(gy, dm):
    """A dY Aᵀ of every 2×2 tile of ``gy`` (N, O, H, W), the transpose of
    :func:`winograd_output`, into ``dm`` (16, O, tiles): per image and channel its tiles'
    corners out of the image's rows, then 16 loops over the tiles, one per plane."""
    n, o, h, w = gy.shape
    per = (h // 2) * (w // 2)
    corners = np.empty((4, per), gy.dtype)
    for channel in range(o):
        planes = channel_planes(dm, channel)
        for image in range(n):
            _copy_corners(corners, gy[image, channel], False)
            start, count = np.uint64(image * per), np.uint64(per)
            # one call per plane 4a + b, a and b constants, so that its entry folds
            _output_grad_plane(planes[0], corners, start, count, 0, 0)
            _output_grad_plane(planes[1], corners, start, count, 0, 1)
            _output_grad_plane(planes[2], corners, start, count, 0, 2)
            _output_grad_plane(planes[3], corners, start, count, 0, 3)
            _output_grad_plane(planes[4], corners, start, count, 1, 0)
            _output_grad_plane(planes[5], corners, start, count, 1, 1)
            _output_grad_plane(planes[6], corners, start, count, 1, 2)
            _output_grad_plane(planes[7], corners, start, count, 1, 3)
            _output_grad_plane(planes[8], corners, start, count, 2, 0)
            _output_grad_plane(planes[9], corners, start, count, 2, 1)
            _output_grad_plane(planes[10], corners, start, count, 2, 2)
            _output_grad_plane(planes[11], corners, start, count, 2, 3)
            _output_grad_plane(planes[12], corners, start, count, 3, 0)
            _output_grad_plane(planes[13], corners, start, count, 3, 1)
            _output_grad_plane(planes[14], corners, start, count, 3, 2)
            _output_grad_plane(planes[15], corners, start, count, 3, 3)


@jit(inline="always")
def _output_grad_plane(plane, corners, start, count, a, b):
    for t in range(count):
        plane[start + t] = _output_grad_entry(corners, t, a, b)


@jit(inline="always")
def _output_grad_entry(corners, t, a, b):
    """Entry 4a + b of A dY Aᵀ for tile t (``corners``: its gradient's top left, top right,
    bottom left, bottom right): dY A on each row is (g0, g0 + g1, g0 - g1, -g1), then A on
    the two rows the same way."""
    g0, g1, g2, g3 = corners[0, t], corners[1, t], corners[2, t], corners[3, t]
    top, bottom = (g0, g0 + g1, g0 - g1, -g1)[b], (g2, g2 + g3, g2 - g3, -g3)[b]
    return (top, top + bottom, top - bottom, -bottom)[a]


@jit(inline="always")
def _copy_corners(corners, image, to_image):
    """Each tile's corners (4, tiles: top left, top right, bottom left, bottom right) into
    the image's rows (``to_image``) or out of them (unsigned indices: LLVM checks signed
    ones for wrap-around)."""
    h, w = image.shape
    tw, one = np.uint64(w // 2), np.uint64(1)
    for i in range(h):
        line, left, right = image[i], corners[2 * (i % 2)], corners[2 * (i % 2) + 1]
        at = np.uint64(i // 2 * (w // 2))
        if to_image:
            for j in range(tw):
                line[j + j], line[j + j + one] = left[at + j], right[at + j]
        else:
            for j in range(tw):
                left[at + j], right[at + j] = line[j + j], line[j + j + one]


@jit
def winograd_input_grad(dv, gx):
    """B dV Bᵀ of every tile's gradient ``dv`` (16, C, tiles), summed back over the
    overlapping 4×4 tiles into ``gx`` (N, C, H, W) (the padding's share dropped): the
    transpose of :func:`winograd_input`, through the same tiles' columns (two loops over an
    image's tiles per tile column into them, then their entries added back into the image's
    rows)."""
    per, tw, columns = _columns_layout(gx)
    for channel in range(gx.shape[1]):
        p = channel_planes(dv, channel)
        for image in range(gx.shape[0]):
            _column_grads(p, columns[0], columns[1], np.uint64(image * per), np.uint64(per), np.uint64(tw))
            _add_tile_columns(columns, gx[image, channel])


@jit(inline="always")
def _column_grads(p, e, o, start, per, tw):
    """The gradient of the tiles' columns (:func:`_tile_columns`) of the image whose tiles
    start at ``start``: Bᵀ's rows d0 - d2, d1 + d2, d2 - d1, d1 - d3 transposed, where d0-d3
    are e[s][t], o[s][t], e[s][t + tw], o[s][t + tw], column s by column s, each call with
    its column's own gradient function (so each loop is specialised: with
    ``literal_unroll`` over the columns the kernel took 12.7 s to compile instead of 4.0 s,
    and ran slower)."""
    _column_grad(p, e[0], o[0], start, per, tw, _g0)
    _column_grad(p, e[1], o[1], start, per, tw, _g1)
    _column_grad(p, e[2], o[2], start, per, tw, _g2)
    _column_grad(p, e[3], o[3], start, per, tw, _g3)


@jit(inline="always")
def _column_grad(p, es, os, start, per, tw, g):
    """Column s (``g``: its gradient, ``_g<s>``) of the tiles' rows d0-d3 at es[t], os[t],
    es[t + tw], os[t + tw]."""
    for t in range(per):
        k = start + t
        es[t], os[t] = g(p, 0, k), g(p, 1, k) - g(p, 2, k) + g(p, 3, k)
    es[per:], os[per:] = 0, 0
    for t in range(per):
        k = start + t
        es[t + tw] += g(p, 1, k) + g(p, 2, k) - g(p, 0, k)
        os[t + tw] -= g(p, 3, k)


# B's transpose on the columns: the gradient of column s of row a of tile k's Bᵀ d, from
# its dV entries (``p``: a channel's 16 plane rows)
@jit(inline="always")
def _g0(p, a, k):
    return p[4 * a][k]


@jit(inline="always")
def _g1(p, a, k):
    return p[4 * a + 1][k] - p[4 * a + 2][k] + p[4 * a + 3][k]


@jit(inline="always")
def _g2(p, a, k):
    return p[4 * a + 1][k] + p[4 * a + 2][k] - p[4 * a][k]


@jit(inline="always")
def _g3(p, a, k):
    return -p[4 * a + 3][k]


@jit(inline="always")
def _add_tile_columns(columns, image):
    """The transpose of :func:`_tile_columns`: each image entry the sum of its copies in
    the tiles' columns (the padding's dropped)."""
    h, w = image.shape
    tw, one = np.uint64(w // 2), np.uint64(1)
    for i in range(h):
        row, (at, left, even, odd, right) = image[i], _row_columns(columns, i, w)
        for j in range(tw):
            row[j + j], row[j + j + one] = even[at + j], odd[at + j]
        for j in range(tw - one):
            row[j + j + one] += left[at + j + one]
            row[j + j + np.uint64(2)] += right[at + j]
