"""Convolution and pooling over NCHW images, vectorised with strided window views.

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
from ...kernels import fixed_chunks, lazy, map_chunks, use_compiled
from ..core import Function

pooling = lazy("pooling")
POOL_CHUNK = 16  # images per call of the pooling kernels on the kernel threads

__all__ = ["conv_output_size", "conv2d", "max_pool2d", "avg_pool2d"]  # F gathers them


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
    kernels on, a stride-1 convolution runs in chunks of :data:`CHUNK` images on the kernel
    threads (copies and GEMMs alike, one BLAS thread each), keeps its input rather than the
    columns (9× larger for a 3×3 kernel) and lays them out again in backward; the chunks'
    weight gradients are added in chunk order, so the result does not depend on the thread
    count."""

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

        def forward(s):
            rows = _RowLayout(x[s].shape, self.kernel, self.padding)
            out = W.reshape(o, -1) @ rows.im2col(x[s])
            if b is not None:
                out += b[:, None]
            y[s] = out.reshape(o, -1, rows.oh, rows.wp)[..., :rows.ow].transpose(1, 0, 2, 3)

        map_chunks(forward, fixed_chunks(len(x), self.CHUNK))
        return y

    def _backward_chunks(self, gy):
        need_x, need_W = self.needs_input_grad[:2]
        W2 = self.W.reshape(self.W.shape[0], -1)
        gx = np.empty(self.x.shape, gy.dtype) if need_x else None

        def backward(s):
            rows = _RowLayout(self.x[s].shape, self.kernel, self.padding)
            gy2 = rows.widen(gy[s])
            if need_x:
                gx[s] = rows.col2im(W2.T @ gy2)
            # (col @ gy2ᵀ)ᵀ, not gy2 @ colᵀ: OpenBLAS runs this long-K product much faster so
            return (rows.im2col(self.x[s]) @ gy2.T).T if need_W else None

        parts = map_chunks(backward, fixed_chunks(len(gy), self.CHUNK))
        gW = functools.reduce(np.add, parts).reshape(self.W.shape) if need_W else None
        return gx, gW, self._bias_grad(gy)

    def _bias_grad(self, gy):
        return gy.sum(axis=(0, 2, 3)) if len(self.needs_input_grad) == 3 and self.needs_input_grad[2] else None


def conv2d(x, W, b=None, stride=1, padding=0):
    """2-D cross-correlation: x (N, C, H, W), W (O, C, kh, kw), b (O,) -> (N, O, OH, OW)."""
    function = Conv2d(stride, padding)
    return function(x, W) if b is None else function(x, W, b)


def _offset_views(x, kernel, stride, out_shape):
    """For each kernel offset (i, j), in row-major order, the (N, C, OH, OW) strided view
    of the element at that offset in every window."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_shape
    for i in range(kh):
        for j in range(kw):
            yield i, j, x[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw]


class _Pool2d(Function):
    """Pooling as a reduction over kernel offsets: each offset is a strided view of the
    (padded) input, so no window array is ever copied out."""

    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def _prepare(self, x, pad_value):
        sizes = [_out_size(size, k, s, p) for size, k, s, p in zip(x.shape[2:], self.kernel, self.stride, self.padding)]
        self.xpad = _pad(x, self.padding, value=pad_value)
        return list(_offset_views(self.xpad, self.kernel, self.stride, sizes))


class MaxPool2d(_Pool2d):
    """Max over each window; the gradient goes to the first maximum in row-major order
    (as in PyTorch).  Forward records which kernel offset won in a small integer array;
    non-overlapping windows (stride = kernel, no padding) then write each offset's share
    of the gradient straight into place, others add theirs up with a scatter."""

    def forward(self, x):
        self.input_shape = x.shape
        self.compiled = use_compiled(x)
        return self._forward_kernel(x) if self.compiled else self._forward_reference(x)

    def backward(self, gy):
        return self._backward_kernel(gy) if self.compiled else self._backward_reference(gy)

    def _forward_kernel(self, x):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        oh, ow = (_out_size(size, k, s, p) for size, k, s, p in zip(x.shape[2:], self.kernel, self.stride,
                                                                    self.padding))
        self.winner = np.empty((x.shape[0], x.shape[1], oh, ow), np.int8 if kh * kw < 128 else np.int32)
        self.padded_shape = x.shape[:2] + (x.shape[2] + 2 * ph, x.shape[3] + 2 * pw)
        y = np.empty(self.winner.shape, x.dtype)
        map_chunks(lambda s: pooling.max_pool_forward(x[s], kh, kw, sh, sw, ph, pw, y[s], self.winner[s]),
                   fixed_chunks(len(x), POOL_CHUNK))
        return y

    def _backward_kernel(self, gy):
        (sh, sw), (ph, pw) = self.stride, self.padding
        gx = np.empty(self.input_shape, gy.dtype)
        map_chunks(lambda s: pooling.max_pool_backward(gy[s], self.winner[s], self.kernel[1], sh, sw, ph, pw, gx[s]),
                   fixed_chunks(len(gy), POOL_CHUNK))
        return gx

    def _forward_reference(self, x):
        xp = get_array_module(x)
        views = [view for _, _, view in self._prepare(x, -xp.inf)]
        self.padded_shape = self.xpad.shape
        del self.xpad
        y = views[0].copy()
        self.winner = xp.zeros(y.shape, dtype=xp.int8 if len(views) < 128 else xp.int32)
        for offset, view in enumerate(views[1:], 1):
            better = view > y  # strictly: a tie keeps the earlier offset
            self.winner += better * (self.winner.dtype.type(offset) - self.winner)  # masked copies are slow
            xp.maximum(y, view, out=y)
        return y

    def _backward_reference(self, gy):
        xp = get_array_module(gy)
        kw = self.kernel[1]
        if self.stride != self.kernel or self.padding != (0, 0):
            return _scatter_windows(lambda i, j: gy * (self.winner == i * kw + j), self.padded_shape, self.kernel,
                                    self.stride, self.padding, gy.dtype, xp)
        covered = all(size == out * k for size, out, k in zip(self.input_shape[2:], gy.shape[2:], self.kernel))
        gx = (xp.empty if covered else xp.zeros)(self.input_shape, dtype=gy.dtype)
        for i, j, view in _offset_views(gx, self.kernel, self.stride, gy.shape[2:]):
            xp.multiply(gy, self.winner == i * kw + j, out=view)
        return gx


def max_pool2d(x, kernel_size, stride=None, padding=0):
    return MaxPool2d(*_pool_args(kernel_size, stride, padding))(x)


class AvgPool2d(_Pool2d):
    """Mean over each window, zero padding counted (PyTorch's count_include_pad=True)."""

    def forward(self, x):
        views = self._prepare(x, 0)
        self.padded_shape = self.xpad.shape
        del self.xpad  # backward needs only the shape
        total = views[0][2].copy()
        for _, _, view in views[1:]:
            total += view
        return total / total.dtype.type(self.kernel[0] * self.kernel[1])

    def backward(self, gy):
        xp = get_array_module(gy)
        share = gy / gy.dtype.type(self.kernel[0] * self.kernel[1])
        return _scatter_windows(lambda i, j: share, self.padded_shape, self.kernel, self.stride, self.padding,
                                gy.dtype, xp)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    return AvgPool2d(*_pool_args(kernel_size, stride, padding))(x)


def _pool_args(kernel_size, stride, padding):
    kernel = _pair(kernel_size)
    return kernel, kernel if stride is None else _pair(stride), _pair(padding)
