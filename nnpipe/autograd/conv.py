"""Convolution and pooling over NCHW images, vectorised with strided window views.

Forward builds a read-only (N, C, OH, OW, kh, kw) view of every window with
``as_strided`` (no copy).  Convolution then contracts that view with the weights as a
single matrix product: the windows are laid out (N·OH·OW, C·kh·kw) once (im2col) and
multiplied by the (C·kh·kw, O) weight matrix, which is the contraction order that
``tensordot`` would plan, done explicitly so backward can reuse the laid-out windows.
Backward scatters window gradients back with one strided add per kernel offset
(kh·kw adds), never a loop over pixels or samples.
"""
from __future__ import annotations

from ..backend import get_array_module
from .core import Function


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _out_size(size, kernel, stride, padding):
    out = (size + 2 * padding - kernel) // stride + 1
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
    return xp.lib.stride_tricks.as_strided(
        x, (n, c, oh, ow, kh, kw), (s0, s1, s2 * sh, s3 * sw, s2, s3), writeable=False
    )


def _scatter_windows(window_grad, padded_shape, kernel, stride, padding, dtype, xp):
    """Sum per-window gradients back onto the (unpadded) input.

    ``window_grad(i, j)`` gives the (N, C, OH, OW) gradient of kernel offset (i, j).
    """
    (kh, kw), (sh, sw) = kernel, stride
    gx = xp.zeros(padded_shape, dtype=dtype)
    for i in range(kh):
        for j in range(kw):
            g = window_grad(i, j)
            oh, ow = g.shape[2:]
            gx[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw] += g
    (ph, pw), (hp, wp) = padding, padded_shape[2:]
    return gx[:, :, ph : hp - ph, pw : wp - pw]


class Conv2d(Function):
    def __init__(self, stride, padding):
        self.stride, self.padding = _pair(stride), _pair(padding)

    def forward(self, x, W, b=None):
        n, c, h, w = x.shape
        o, c_w, kh, kw = W.shape
        if c != c_w:
            raise ValueError(f"conv2d: input has {c} channels but weight expects {c_w} ({W.shape})")
        oh = _out_size(h, kh, self.stride[0], self.padding[0])
        ow = _out_size(w, kw, self.stride[1], self.padding[1])
        xpad = _pad(x, self.padding)
        self.padded_shape, self.kernel = xpad.shape, (kh, kw)
        windows = _windows(xpad, self.kernel, self.stride)
        self.col = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
        self.W = W
        y = self.col @ W.reshape(o, -1).T
        if b is not None:
            y += b
        return y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)

    def backward(self, gy):
        xp = get_array_module(gy)
        n, o, oh, ow = gy.shape
        c, kh, kw = self.W.shape[1:]
        gy2 = gy.transpose(0, 2, 3, 1).reshape(-1, o)
        need_x, need_W = self.needs_input_grad[:2]
        gW = (gy2.T @ self.col).reshape(self.W.shape) if need_W else None
        gb = gy2.sum(axis=0) if len(self.needs_input_grad) == 3 and self.needs_input_grad[2] else None
        gx = None
        if need_x:
            gcol = (gy2 @ self.W.reshape(o, -1)).reshape(n, oh, ow, c, kh, kw)
            gx = _scatter_windows(
                lambda i, j: gcol[:, :, :, :, i, j].transpose(0, 3, 1, 2),
                self.padded_shape, self.kernel, self.stride, self.padding, gy.dtype, xp,
            )
        return gx, gW, gb


class MaxPool2d(Function):
    """Max over each window; the gradient goes to the first maximum (as in PyTorch)."""

    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):
        xp = get_array_module(x)
        for size, k, s, p in zip(x.shape[2:], self.kernel, self.stride, self.padding):
            _out_size(size, k, s, p)
        xpad = _pad(x, self.padding, value=-xp.inf)
        self.padded_shape = xpad.shape
        windows = _windows(xpad, self.kernel, self.stride)
        flat = windows.reshape(windows.shape[:4] + (-1,))
        self.argmax = flat.argmax(axis=-1)
        return xp.take_along_axis(flat, self.argmax[..., None], axis=-1)[..., 0]

    def backward(self, gy):
        xp = get_array_module(gy)
        kw = self.kernel[1]
        return _scatter_windows(
            lambda i, j: gy * (self.argmax == i * kw + j),
            self.padded_shape, self.kernel, self.stride, self.padding, gy.dtype, xp,
        )


class AvgPool2d(Function):
    """Mean over each window, zero padding counted (PyTorch's count_include_pad=True)."""

    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):
        for size, k, s, p in zip(x.shape[2:], self.kernel, self.stride, self.padding):
            _out_size(size, k, s, p)
        xpad = _pad(x, self.padding)
        self.padded_shape = xpad.shape
        return _windows(xpad, self.kernel, self.stride).mean(axis=(4, 5))

    def backward(self, gy):
        xp = get_array_module(gy)
        share = gy / gy.dtype.type(self.kernel[0] * self.kernel[1])
        return _scatter_windows(
            lambda i, j: share,
            self.padded_shape, self.kernel, self.stride, self.padding, gy.dtype, xp,
        )


def conv2d(x, W, b=None, stride=1, padding=0):
    """2-D cross-correlation: x (N, C, H, W), W (O, C, kh, kw), b (O,) -> (N, O, OH, OW)."""
    function = Conv2d(stride, padding)
    return function(x, W) if b is None else function(x, W, b)


def _pool_args(kernel_size, stride, padding):
    kernel = _pair(kernel_size)
    return kernel, kernel if stride is None else _pair(stride), _pair(padding)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    return MaxPool2d(*_pool_args(kernel_size, stride, padding))(x)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    return AvgPool2d(*_pool_args(kernel_size, stride, padding))(x)
