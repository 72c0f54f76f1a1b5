"""Reductions: sum, mean, max, logsumexp, and the broadcast pair broadcast_to / sum_to."""
from __future__ import annotations

from ...backend import get_array_module
from ..core import Function, sum_to_shape

__all__ = ["sum", "mean", "max", "logsumexp", "broadcast_to", "sum_to"]  # the wrappers; F gathers them


def _normalise_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(a % ndim for a in axes)


def _expand(gy, axes, keepdims):
    """Re-insert the reduced axes so ``gy`` broadcasts against the input."""
    if keepdims:
        return gy
    xp = get_array_module(gy)
    return xp.expand_dims(gy, tuple(sorted(axes))) if axes else gy


class _Reduction(Function):
    """A reduction over ``axis`` (None: every axis); ``keepdims`` keeps them as size 1."""

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def _shaped(self, y):
        """``y``, reduced with its axes kept, shaped as asked."""
        return y if self.keepdims else y.squeeze(self.axes) if self.axes else y


class Sum(_Reduction):
    def forward(self, x):
        self.shape = x.shape
        self.axes = _normalise_axes(self.axis, x.ndim)
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        xp = get_array_module(gy)
        return xp.broadcast_to(_expand(gy, self.axes, self.keepdims), self.shape)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return Sum(axis, keepdims)(x)


class Mean(Sum):
    def forward(self, x):
        y = super().forward(x)
        self.count = x.size // y.size if y.size else 1
        return y / x.dtype.type(self.count)

    def backward(self, gy):
        return super().backward(gy / gy.dtype.type(self.count))


def mean(x, axis=None, keepdims=False):
    return Mean(axis, keepdims)(x)


class Max(_Reduction):
    """Max over axes; tied maxima share the gradient equally (like ``torch.amax``)."""

    def forward(self, x):
        self.x = x
        self.axes = _normalise_axes(self.axis, x.ndim)
        self.y = x.max(axis=self.axes, keepdims=True)
        return self._shaped(self.y)

    def backward(self, gy):
        mask = (self.x == self.y).astype(gy.dtype)
        mask /= mask.sum(axis=self.axes, keepdims=True)
        return _expand(gy, self.axes, self.keepdims) * mask


def max(x, axis=None, keepdims=False):  # noqa: A001
    return Max(axis, keepdims)(x)


class LogSumExp(_Reduction):
    """log Σ exp(x), shifted by the max for stability."""

    def forward(self, x):
        xp = get_array_module(x)
        self.x = x
        self.axes = _normalise_axes(self.axis, x.ndim)
        shift = x.max(axis=self.axes, keepdims=True)
        self.y = shift + xp.log(xp.exp(x - shift).sum(axis=self.axes, keepdims=True))
        return self._shaped(self.y)

    def backward(self, gy):
        xp = get_array_module(gy)
        return _expand(gy, self.axes, self.keepdims) * xp.exp(self.x - self.y)


def logsumexp(x, axis=-1, keepdims=False):
    return LogSumExp(axis, keepdims)(x)


class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.input_shape = x.shape
        return get_array_module(x).broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to_shape(gy, self.input_shape)


def broadcast_to(x, shape):
    return BroadcastTo(shape)(x)


class SumTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.input_shape = x.shape
        return sum_to_shape(x, self.shape)

    def backward(self, gy):
        return get_array_module(gy).broadcast_to(gy, self.input_shape)


def sum_to(x, shape):
    return SumTo(shape)(x)
