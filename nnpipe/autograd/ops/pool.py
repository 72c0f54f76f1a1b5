"""Max and average pooling over NCHW images: reductions over the kernel offsets, each a
strided view of the (padded) input, so no window array is ever copied out; max pooling
runs as compiled kernels on NumPy (``nnpipe.kernels.pooling``)."""
from __future__ import annotations

import numpy as np

from ...backend import get_array_module
from ...kernels import fixed_chunks, lazy, map_chunks, use_compiled
from ..core import Function
from .conv import _out_size, _pad, _pair, _scatter_windows

pooling = lazy("pooling")
POOL_CHUNK = 16  # images per call of the pooling kernels on the kernel threads

__all__ = ["max_pool2d", "avg_pool2d"]  # F gathers them


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
