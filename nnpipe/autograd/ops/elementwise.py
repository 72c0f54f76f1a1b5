"""Elementwise functions and activations.  Each keeps the input dtype and saves only what
its backward needs (an output or a mask)."""
from __future__ import annotations

import math

import numpy as np

from ...backend import get_array_module
from ..core import Function
from ..random import CounterRandom

__all__ = [  # the wrappers; F gathers them
    "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "leaky_relu", "gelu", "softplus", "softmax",
    "log_softmax", "dropout", "log_sigmoid",
]


class Exp(Function):
    def forward(self, x):
        self.y = get_array_module(x).exp(x)
        return self.y

    def backward(self, gy):
        return gy * self.y


def exp(x):
    return Exp()(x)


class Log(Function):
    def forward(self, x):
        self.x = x
        return get_array_module(x).log(x)

    def backward(self, gy):
        return gy / self.x


def log(x):
    return Log()(x)


class Sqrt(Function):
    def forward(self, x):
        self.y = get_array_module(x).sqrt(x)
        return self.y

    def backward(self, gy):
        return gy / (2 * self.y)


def sqrt(x):
    return Sqrt()(x)


class Tanh(Function):
    def forward(self, x):
        self.y = get_array_module(x).tanh(x)
        return self.y

    def backward(self, gy):
        return gy * (1 - self.y * self.y)


def tanh(x):
    return Tanh()(x)


def _stable_sigmoid(x):
    """σ(x) = ½(1 + tanh(x/2)): no overflow for large |x|."""
    xp = get_array_module(x)
    half = x.dtype.type(0.5)
    return half * xp.tanh(half * x) + half


class Sigmoid(Function):
    def forward(self, x):
        self.y = _stable_sigmoid(x)
        return self.y

    def backward(self, gy):
        return gy * self.y * (1 - self.y)


def sigmoid(x):
    return Sigmoid()(x)


class ReLU(Function):
    """max(x, 0); the gradient at exactly 0 is 0 (as in PyTorch)."""

    def forward(self, x):
        self.y = get_array_module(x).maximum(x, 0)
        return self.y

    def backward(self, gy):
        return gy * (self.y > 0)


def relu(x):
    return ReLU()(x)


class LeakyReLU(Function):
    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        self.scale = get_array_module(x).where(x > 0, x.dtype.type(1), x.dtype.type(self.slope))
        return x * self.scale

    def backward(self, gy):
        return gy * self.scale


def leaky_relu(x, slope=0.01):
    return LeakyReLU(slope)(x)


class GELU(Function):
    """Gaussian error linear unit, tanh form: ½x(1 + tanh(√(2/π)(x + 0.044715x³)))."""

    def forward(self, x):
        xp = get_array_module(x)
        c = x.dtype.type(math.sqrt(2 / math.pi))
        k = x.dtype.type(0.044715)
        self.x = x
        self.t = xp.tanh(c * (x + k * x**3))
        self.c, self.k = c, k
        return x.dtype.type(0.5) * x * (1 + self.t)

    def backward(self, gy):
        x, t, c, k = self.x, self.t, self.c, self.k
        half = x.dtype.type(0.5)
        dt = (1 - t * t) * c * (1 + 3 * k * x * x)
        return gy * (half * (1 + t) + half * x * dt)


def gelu(x):
    return GELU()(x)


class Softplus(Function):
    """log(1 + exp(x)) computed as max(x, 0) + log1p(exp(-|x|))."""

    def forward(self, x):
        xp = get_array_module(x)
        self.x = x
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-abs(x)))

    def backward(self, gy):
        return gy * _stable_sigmoid(self.x)


def softplus(x):
    return Softplus()(x)


class Softmax(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        self.y = e / e.sum(axis=self.axis, keepdims=True)
        return self.y

    def backward(self, gy):
        y = self.y
        return y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))


def softmax(x, axis=-1):
    return Softmax(axis)(x)


def _log_softmax_array(x, axis):
    """x - logsumexp(x) on a raw array, shifted by the max."""
    xp = get_array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class LogSoftmax(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        self.y = _log_softmax_array(x, self.axis)
        return self.y

    def backward(self, gy):
        xp = get_array_module(gy)
        return gy - xp.exp(self.y) * gy.sum(axis=self.axis, keepdims=True)


def log_softmax(x, axis=-1):
    return LogSoftmax(axis)(x)


class Dropout(Function):
    """Inverted dropout: zero each entry with probability p, scale the rest by 1/(1-p)."""

    def __init__(self, p, random):
        self.p, self.random = p, random

    def forward(self, x):
        xp = get_array_module(x)
        keep = self.random.random(x.shape, xp) >= np.float32(self.p)  # drawn where x lives
        self.scale = keep.astype(x.dtype) * x.dtype.type(1 / (1 - self.p))
        return x * self.scale

    def backward(self, gy):
        return gy * self.scale


def dropout(x, p=0.5, training=True, rng=None):
    """Inverted dropout with its mask from ``rng``: a :class:`CounterRandom` (the same masks
    on every device), or a ``numpy.random.Generator`` that one is spawned from."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    if rng is None:
        raise ValueError("dropout in training mode needs rng (a CounterRandom or numpy.random.Generator)")
    if isinstance(rng, np.random.Generator):
        rng = CounterRandom.spawned_from(rng)
    return Dropout(p, rng)(x)


def log_sigmoid(x):
    """log σ(x) = -softplus(-x), stable for large |x|."""
    return -softplus(-x)
