"""A convolution block fused with its bias, ReLU and 2×2 max pooling, for stride-1
convolutions whose output tiles into the pooling windows (``F.conv2d_relu_pool``).

Two ways to the same result (reference: ``nnpipe.autograd.ops.conv_block``, which composes
conv2d, ReLU and max_pool2d):

* Winograd F(2×2, 3×3) for 3×3 kernels with padding 1 (Lavin & Gray, 2016): every 2×2
  output tile comes from a 4×4 input tile as Aᵀ[(G w Gᵀ) ⊙ (Bᵀ d B)]A, so the
  convolution becomes 16 GEMMs over (channels × tiles), 2.25× fewer multiplications than
  im2col.  The tiles are exactly the pooling windows, so the output transform adds the
  bias, takes each tile's maximum and applies the ReLU in the same pass, and backward
  starts from one gradient per tile.
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

DEAD = 4  # winner code of an output the ReLU set to zero: no gradient flows back

# Winograd F(2×2, 3×3): a 2×2 output tile Y of a 4×4 input tile d and a 3×3 filter g is
# Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A.  The kernels below apply Bᵀ and Aᵀ written out as additions
# (the comments there name the rows they combine); G is applied by NumPy, once per step.
WINOGRAD_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
WINOGRAD_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
WINOGRAD_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]])


def winograd_weights(W):
    """U = G w Gᵀ of every (O, C) filter, as (16, O, C)."""
    g = WINOGRAD_G.astype(W.dtype)
    u = np.einsum("ai,ocij,bj->aboc", g, W, g, optimize=True)
    return np.ascontiguousarray(u.reshape(16, *W.shape[:2]))


def winograd_weight_grad(du_t):
    """Gᵀ dU G from dU laid out (16, C, O), as (O, C, 3, 3)."""
    g = WINOGRAD_G.astype(du_t.dtype)
    du = du_t.reshape(4, 4, *du_t.shape[1:])
    return np.ascontiguousarray(np.einsum("ai,abco,bj->ocij", g, du, g, optimize=True))


@jit(inline="always")
def _pool_tile(y00, y01, y10, y11):
    """Maximum of a 2×2 tile (first maximum in row-major order wins), then the ReLU."""
    best, won = y00, 0
    if y01 > best:
        best, won = y01, 1
    if y10 > best:
        best, won = y10, 2
    if y11 > best:
        best, won = y11, 3
    if best > 0:
        return best, won
    return best - best, DEAD


@jit
def winograd_input(x, v):
    """Bᵀ d B of every 4×4 tile of ``x`` (N, C, H, W) zero-padded by 1, stride 2, into
    ``v`` (16, C, N·H/2·W/2): entry 4a+b of each tile, tiles numbered image-major."""
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


@jit
def winograd_output_pool(m, bias, y, winner):
    """Aᵀ M A of every tile of ``m`` (16, O, tiles) plus the bias, pooled and rectified
    into ``y`` (N, O, H/2, W/2) with each winner's code in ``winner``."""
    n, o, th, tw = y.shape
    for image in range(n):
        for channel in range(o):
            b = bias[channel]
            for i in range(th):
                start = (image * th + i) * tw
                for j in range(tw):
                    t = start + j
                    # Aᵀ M: rows 0+1+2 and 1-2-3 of the 4×4 tile, then the same on columns
                    u0 = m[0, channel, t] + m[4, channel, t] + m[8, channel, t]
                    u1 = m[1, channel, t] + m[5, channel, t] + m[9, channel, t]
                    u2 = m[2, channel, t] + m[6, channel, t] + m[10, channel, t]
                    u3 = m[3, channel, t] + m[7, channel, t] + m[11, channel, t]
                    l0 = m[4, channel, t] - m[8, channel, t] - m[12, channel, t]
                    l1 = m[5, channel, t] - m[9, channel, t] - m[13, channel, t]
                    l2 = m[6, channel, t] - m[10, channel, t] - m[14, channel, t]
                    l3 = m[7, channel, t] - m[11, channel, t] - m[15, channel, t]
                    best, won = _pool_tile((u0 + u1 + u2) + b, (u1 - u2 - u3) + b,
                                           (l0 + l1 + l2) + b, (l1 - l2 - l3) + b)
                    y[image, channel, i, j] = best
                    winner[image, channel, i, j] = won


# A[a, r]·A[b, s] for the tile entry (r, s) = divmod(code, 2) that won, at 4a + b; the row
# of DEAD is zero
_A = WINOGRAD_AT.T
TILE_GRAD = np.array([np.outer(_A[:, code // 2], _A[:, code % 2]).ravel() for code in range(4)] + [np.zeros(16)])


@jit
def winograd_tile_grad(gy, winner, coefficients, dm, gb):
    """The gradient of every tile's 16 products, ``dm`` (16, tiles, O) = A dY Aᵀ, where dY
    holds the pooled gradient at the winner only (``coefficients``: :data:`TILE_GRAD` in
    gy's dtype); the bias gradient summed into ``gb``."""
    n, o, th, tw = gy.shape
    g = np.empty(o, gy.dtype)
    won = np.empty(o, np.intp)
    for image in range(n):
        for i in range(th):
            for j in range(tw):
                t = (image * th + i) * tw + j
                for channel in range(o):
                    won[channel] = winner[image, channel, i, j]
                    g[channel] = gy[image, channel, i, j] if won[channel] != DEAD else 0
                    gb[channel] += g[channel]
                for k in range(16):
                    for channel in range(o):
                        dm[k, t, channel] = g[channel] * coefficients[won[channel], k]


@jit
def winograd_input_grad(dv, gx):
    """B dV Bᵀ of every tile's gradient ``dv`` (16, tiles, C), summed back over the
    overlapping 4×4 tiles into ``gx`` (N, C, H, W) (the padding's share dropped)."""
    n, c, h, w = gx.shape
    th, tw = h // 2, w // 2
    pad = np.empty((c, h + 2, w + 2), gx.dtype)
    col = np.empty(4, gx.dtype)
    for image in range(n):
        pad[:] = 0
        for i in range(th):
            for j in range(tw):
                t = (image * th + i) * tw + j
                for channel in range(c):
                    for a in range(4):  # B dV on rows (Bᵀ's columns), into the tile's rows
                        col[0] = dv[a, t, channel]
                        col[1] = dv[4 + a, t, channel] - dv[8 + a, t, channel] + dv[12 + a, t, channel]
                        col[2] = dv[8 + a, t, channel] + dv[4 + a, t, channel] - dv[a, t, channel]
                        col[3] = -dv[12 + a, t, channel]
                        for row in range(4):  # … and the same on columns, as a column a of the tile
                            _scatter_column(pad, channel, 2 * i + row, 2 * j, a, col[row])
        gx[image] = pad[:, 1 : h + 1, 1 : w + 1]


@jit(inline="always")
def _scatter_column(pad, channel, row, left, a, value):
    """Add ``value`` (row ``row`` of B dV, column ``a``) times column ``a`` of Bᵀ (as B's row)."""
    if a == 0:
        pad[channel, row, left] += value
        pad[channel, row, left + 2] -= value
    elif a == 1:
        pad[channel, row, left + 1] += value
        pad[channel, row, left + 2] += value
    elif a == 2:
        pad[channel, row, left + 2] += value
        pad[channel, row, left + 1] -= value
    else:
        pad[channel, row, left + 1] += value
        pad[channel, row, left + 3] -= value


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
                    # one store, no branch: DEAD (4) writes its zero onto the window's first entry
                    target[2 * i + ((won >> 1) & 1), 2 * j + (won & 1)] = g
        gb[channel] += total
