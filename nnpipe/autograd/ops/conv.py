"""Convolution over NCHW images, vectorised with strided window views (pooling: ``pool.py``).

Forward builds a read-only (N, C, OH, OW, kh, kw) view of every window with
``as_strided`` (no copy).  Convolution then contracts that view with the weights as a
single matrix product: the windows are laid out (C·kh·kw, N·OH·OW) once (im2col) and
multiplied by the (O, C·kh·kw) weight matrix, the contraction ``tensordot`` would plan,
done explicitly so backward reuses the laid-out windows and picks the cheap layout.
Backward scatters window gradients back with one strided add per kernel offset
(kh·kw adds), never a loop over pixels or samples.
"""
from __future__ import annotations

import functools

import numpy as np

from ...backend import get_array_module
from ...kernels import fixed_chunks, map_chunks, use_compiled
from ..core import Function
from .winograd_conv import WinogradConv, winograd_conv_fits

__all__ = ["conv_output_size", "conv2d"]  # F gathers them


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def conv_output_size(size, kernel, stride=1, padding=0):
    """Output length of a convolution or pooling window along one axis (< 1: no fit)."""
    return (size + 2 * padding - kernel) // stride + 1


def _out_size(size, kernel, stride, padding):
    out = conv_output_size(size, kernel, stride, padding)
    if out < 1:
        raise ValueError(
            f"window {kernel} with stride {stride} and padding {padding} does not fit input size {size}"
        )
    return out


def _pad(x, padding, value=0):
    if padding == (0, 0):
        return x
    xp = get_array_module(x)
    ph, pw = padding
    return xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _windows(x, kernel, stride):
    """A (N, C, OH, OW, kh, kw) view of every window of padded ``x``."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    s0, s1, s2, s3 = x.strides
    windows = xp.lib.stride_tricks.as_strided(x, (n, c, oh, ow, kh, kw), (s0, s1, s2 * sh, s3 * sw, s2, s3))
    if xp is np:  # overlapping windows must never be written through (CuPy has no such flag)
        windows.flags.writeable = False
    return windows


def _scatter_windows(window_grad, padded_shape, kernel, stride, padding, dtype, xp, channels_first=False):
    """Sum per-window gradients back onto the (unpadded) input.

    ``window_grad(i, j)`` gives the (N, C, OH, OW) gradient of kernel offset (i, j), or
    (C, N, OH, OW) with ``channels_first`` (then the sum is transposed back once at the end).
    """
    (kh, kw), (sh, sw) = kernel, stride
    n, c, hp, wp = padded_shape
    gx = xp.zeros((c, n, hp, wp) if channels_first else padded_shape, dtype=dtype)
    for i in range(kh):
        for j in range(kw):
            g = window_grad(i, j)
            oh, ow = g.shape[2:]
            gx[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw] += g
    if channels_first:
        gx = gx.transpose(1, 0, 2, 3)
    (ph, pw) = padding
    return gx[:, :, ph : hp - ph, pw : wp - pw]


class _RowLayout:
    """Stride-1 im2col on whole padded rows ("wide" columns).

    Each (N, C) plane is zero-padded to Hp×Wp and stored flat with kw-1 spare zeros, so
    the kernel offset (i, j) of all output rows is one contiguous run of OH·Wp values
    starting at i·Wp + j.  The Wp - OW extra columns per row are junk in forward (sliced
    off) and meet zero gradients in backward, so every copy and every col2im add runs
    over long contiguous rows instead of OW-long pieces.
    """

    def __init__(self, x_shape, kernel, padding):
        n, c, h, w = x_shape
        (kh, kw), (ph, pw) = kernel, padding
        self.n, self.c, self.h, self.w, self.kh, self.kw, self.ph, self.pw = n, c, h, w, kh, kw, ph, pw
        self.hp, self.wp = h + 2 * ph, w + 2 * pw
        self.oh, self.ow = self.hp - kh + 1, self.wp - kw + 1
        self.plane = self.hp * self.wp + kw - 1
        self.run = self.oh * self.wp

    def interior(self, buffer):
        """The (N, C, H, W) view of the unpadded image inside a plane buffer."""
        padded = buffer[:, :, : self.hp * self.wp].reshape(self.n, self.c, self.hp, self.wp)
        return padded[:, :, self.ph : self.ph + self.h, self.pw : self.pw + self.w]

    def offsets(self, buffer):
        """(C, kh, kw, N, OH·Wp) strided view: the run of every kernel offset in every plane."""
        xp = get_array_module(buffer)
        item = buffer.itemsize
        strides = (self.plane * item, self.wp * item, item, self.c * self.plane * item, item)
        return xp.lib.stride_tricks.as_strided(buffer, (self.c, self.kh, self.kw, self.n, self.run), strides)

    def im2col(self, x):
        xp = get_array_module(x)
        buffer = xp.zeros((self.n, self.c, self.plane), dtype=x.dtype)
        self.interior(buffer)[...] = x
        col = xp.ascontiguousarray(self.offsets(buffer))
        return col.reshape(self.c * self.kh * self.kw, self.n * self.run)

    def widen(self, gy):
        """(N, O, OH, OW) gradients as an (O, N·OH·Wp) matrix, zero in the junk columns."""
        xp = get_array_module(gy)
        wide = xp.zeros((gy.shape[1], self.n, self.oh, self.wp), dtype=gy.dtype)
        wide[..., : self.ow] = gy.transpose(1, 0, 2, 3)
        return wide.reshape(gy.shape[1], -1)

    def col2im(self, gcol):
        xp = get_array_module(gcol)
        buffer = xp.zeros((self.n, self.c, self.plane), dtype=gcol.dtype)
        runs = self.offsets(buffer)
        gcol = gcol.reshape(self.c, self.kh, self.kw, self.n, self.run)
        for i in range(self.kh):
            for j in range(self.kw):
                runs[:, i, j] += gcol[:, i, j]
        return self.interior(buffer)


class Conv2d(Function):
    """Forward lays the windows out channels-first as a (C·kh·kw, N·OH·OW) matrix, so the
    copy reads whole rows of the image, and computes W (O, C·kh·kw) @ col in one GEMM.
    Stride-1 convolutions (the common case) use :class:`_RowLayout`.  On NumPy with the
    kernels on, a stride-1 convolution runs in chunks of images on the kernel threads
    (copies and GEMMs alike, one BLAS thread each), as Winograd F(2×2, 3×3) where it fits
    (:class:`~.winograd_conv.WinogradConv`: 3×3, padding 1, even sizes; chunks of about
    1 MB of tiles) and as im2col GEMMs otherwise (chunks of :data:`CHUNK` images), keeps its
    input rather than the columns or tiles (9× or 4× larger) and lays them out again in
    backward; the chunks' weight gradients are added in chunk order, so the result does
    not depend on the thread count."""

    CHUNK = 32  # images

    def __init__(self, stride, padding):
        self.stride, self.padding = _pair(stride), _pair(padding)

    def forward(self, x, W, b=None):
        xp = get_array_module(x)
        n, c, h, w = x.shape
        o, c_w, kh, kw = W.shape
        if c != c_w:
            raise ValueError(f"conv2d: input has {c} channels but weight expects {c_w} ({W.shape})")
        oh = _out_size(h, kh, self.stride[0], self.padding[0])
        ow = _out_size(w, kw, self.stride[1], self.padding[1])
        self.kernel, self.W = (kh, kw), W
        self.chunked = self.stride == (1, 1) and use_compiled(x, W)
        if self.chunked:
            return self._forward_chunks(x, W, b, (oh, ow))
        self.rows = _RowLayout(x.shape, self.kernel, self.padding) if self.stride == (1, 1) else None
        if self.rows:
            self.col = self.rows.im2col(x)
        else:
            xpad = _pad(x, self.padding)
            self.padded_shape = xpad.shape
            windows = _windows(xpad, self.kernel, self.stride)  # (N, C, OH, OW, kh, kw)
            self.col = xp.ascontiguousarray(windows.transpose(1, 4, 5, 0, 2, 3)).reshape(c * kh * kw, -1)
        y = W.reshape(o, -1) @ self.col
        if b is not None:
            y += b[:, None]
        y = y.reshape(o, n, oh, -1)[..., :ow]  # drops the junk columns of the row layout
        return y.transpose(1, 0, 2, 3)

    def backward(self, gy):
        if self.chunked:
            return self._backward_chunks(gy)
        xp = get_array_module(gy)
        o = gy.shape[1]
        c, kh, kw = self.W.shape[1:]
        if self.rows:
            gy2 = self.rows.widen(gy)
        else:
            gy2 = xp.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(o, -1)
        need_x, need_W = self.needs_input_grad[:2]
        # (col @ gy2ᵀ)ᵀ, not gy2 @ colᵀ: OpenBLAS runs this long-K product much faster so
        gW = (self.col @ gy2.T).T.reshape(self.W.shape) if need_W else None
        gb = self._bias_grad(gy)
        gx = None
        if need_x:
            gcol = self.W.reshape(o, -1).T @ gy2
            if self.rows:
                gx = self.rows.col2im(gcol)
            else:
                gcol = gcol.reshape(c, kh, kw, *gy.shape[:1], *gy.shape[2:])
                gx = _scatter_windows(lambda i, j: gcol[:, i, j], self.padded_shape, self.kernel, self.stride,
                                      self.padding, gy.dtype, xp, channels_first=True)
        return gx, gW, gb

    def _forward_chunks(self, x, W, b, out_size):
        self.x = x
        o = W.shape[0]
        y = np.empty((x.shape[0], o, *out_size), x.dtype)
        self.winograd = WinogradConv(W, b) if winograd_conv_fits(x, W, self.stride, self.padding) else None
        self.chunks = fixed_chunks(len(x), self.winograd.images_per_chunk(x) if self.winograd else self.CHUNK)

        def forward(s):
            if self.winograd:
                return self.winograd.forward(x[s], y[s])
            rows = _RowLayout(x[s].shape, self.kernel, self.padding)
            out = W.reshape(o, -1) @ rows.im2col(x[s])
            if b is not None:
                out += b[:, None]
            y[s] = out.reshape(o, -1, rows.oh, rows.wp)[..., :rows.ow].transpose(1, 0, 2, 3)

        map_chunks(forward, self.chunks)
        return y

    def _backward_chunks(self, gy):
        need_x, need_W = self.needs_input_grad[:2]
        W2 = self.W.reshape(self.W.shape[0], -1)
        gx = np.empty(self.x.shape, gy.dtype) if need_x else None

        def backward(s):
            if self.winograd:
                return self.winograd.backward(self.x[s], gy[s], None if gx is None else gx[s], need_W)
            rows = _RowLayout(self.x[s].shape, self.kernel, self.padding)
            gy2 = rows.widen(gy[s])
            if need_x:
                gx[s] = rows.col2im(W2.T @ gy2)
            # (col @ gy2ᵀ)ᵀ, not gy2 @ colᵀ: OpenBLAS runs this long-K product much faster so
            return (rows.im2col(self.x[s]) @ gy2.T).T if need_W else None

        parts = map_chunks(backward, self.chunks)
        gW = functools.reduce(np.add, parts) if need_W else None
        if gW is not None:
            gW = self.winograd.weight_grad(gW) if self.winograd else gW.reshape(self.W.shape)
        return gx, gW, self._bias_grad(gy)

    def _bias_grad(self, gy):
        return gy.sum(axis=(0, 2, 3)) if len(self.needs_input_grad) == 3 and self.needs_input_grad[2] else None


def conv2d(x, W, b=None, stride=1, padding=0):
    """2-D cross-correlation: x (N, C, H, W), W (O, C, kh, kw), b (O,) -> (N, O, OH, OW)."""
    function = Conv2d(stride, padding)
    return function(x, W) if b is None else function(x, W, b)
