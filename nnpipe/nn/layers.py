"""Layers.  Weights are float32 unless a dtype is given; random init uses the ``rng``
(a ``numpy.random.Generator``) passed in."""
from __future__ import annotations

import numpy as np

import nnpipe.autograd.functions as F

from ..autograd import CounterRandom
from ..backend import DEFAULT_DTYPE, get_array_module
from . import init
from .module import Module, Parameter


def _rng(rng):
    return rng if rng is not None else np.random.default_rng()


class Linear(Module):
    """y = x @ W + b, W of shape (in_features, out_features); He-uniform init for ReLU nets."""

    def __init__(self, in_features, out_features, bias=True, rng=None, init_name="kaiming_uniform",
                 nonlinearity="relu", dtype=DEFAULT_DTYPE):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        shape = (in_features, out_features)
        self.weight = Parameter(init.initialise(init_name, _rng(rng), shape, in_features, out_features, nonlinearity,
                                                dtype))
        self.bias = Parameter(init.zeros(out_features, dtype)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


class LinearReLU(Linear):
    """Linear → ReLU as one op (``F.linear_relu``), the weights of a :class:`Linear`."""

    def forward(self, x):
        return F.linear_relu(x, self.weight, self.bias)


class Conv2d(Module):
    """Cross-correlation with weights (out, in, k, k); He-uniform init by default."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True, rng=None,
                 init_name="kaiming_uniform", nonlinearity="relu", dtype=DEFAULT_DTYPE):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (kh, kw), stride, padding
        shape = (out_channels, in_channels, kh, kw)
        fan_in, fan_out = in_channels * kh * kw, out_channels * kh * kw
        self.weight = Parameter(init.initialise(init_name, _rng(rng), shape, fan_in, fan_out, nonlinearity, dtype))
        self.bias = Parameter(init.zeros(out_channels, dtype)) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class Conv2dReLUPool(Conv2d):
    """Conv2d → ReLU → MaxPool2d(2) as one op (``F.conv2d_relu_pool``): the same values and
    gradients in fewer passes over memory, the weights of a :class:`Conv2d`."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, rng=None,
                 init_name="kaiming_uniform", dtype=DEFAULT_DTYPE):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, rng=rng, init_name=init_name,
                         dtype=dtype)

    def forward(self, x):
        return F.conv2d_relu_pool(x, self.weight, self.bias, self.stride, self.padding)


class _Pool2d(Module):
    pool = None  # the pooling function, set by each subclass

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return type(self).pool(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"


class MaxPool2d(_Pool2d):
    pool = staticmethod(F.max_pool2d)


class AvgPool2d(_Pool2d):
    pool = staticmethod(F.avg_pool2d)


class Flatten(Module):
    """(N, ...) -> (N, prod(...))."""

    def forward(self, x):
        return x if x.ndim == 2 else x.reshape(x.shape[0], -1)


class Dropout(Module):
    """Its masks come from a :class:`CounterRandom` of its own, spawned from ``rng``; the
    trainer checkpoints the streams of all dropout layers (:func:`dropout_streams`)."""

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p, self.random = p, CounterRandom.spawned_from(_rng(rng))

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.random)

    def extra_repr(self):
        return f"p={self.p}"


def dropout_streams(model):
    """The random stream of every dropout layer in ``model``, by dotted name."""
    return {name: module.random for name, module in model.named_modules() if isinstance(module, Dropout)}


class _BatchNorm(Module):
    """Batch statistics in training (running averages updated with ``momentum``),
    running statistics in eval mode.  The running variance is unbiased, as in PyTorch."""

    expected_ndim = None

    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=DEFAULT_DTYPE):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype))
        self.bias = Parameter(np.zeros(num_features, dtype))
        self.register_buffer("running_mean", np.zeros(num_features, dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype))

    def forward(self, x, relu=False):
        """The normalised x; with ``relu``, max(·, 0) of it (in training, within the batch
        norm's own passes: ``nn.Sequential`` fuses ``BatchNorm → ReLU`` so)."""
        if x.ndim != self.expected_ndim or x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) expects {self.expected_ndim}-D input "
                f"with {self.num_features} channels, got shape {x.shape}"
            )
        if self.training:
            y, mean, var = F.batch_norm(x, self.weight, self.bias, self.eps, relu)
            count = x.size // self.num_features
            m = var.dtype.type(self.momentum)
            self.running_mean = (1 - m) * self.running_mean + m * mean
            self.running_var = (1 - m) * self.running_var + m * var * var.dtype.type(count / max(count - 1, 1))
            return y
        shape = (1, -1) + (1,) * (x.ndim - 2)
        y = (x - self.running_mean.reshape(shape)) * self.running_scale().reshape(shape) + self.bias.reshape(shape)
        return F.relu(y) if relu else y

    def running_scale(self):
        """γ/σ of each channel from the running variance: eval mode's scale (a Tensor, so
        the weight's gradient flows through it)."""
        xp = get_array_module(self.running_var)
        return self.weight * (1 / xp.sqrt(self.running_var + self.running_var.dtype.type(self.eps)))

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    expected_ndim = 2


class BatchNorm2d(_BatchNorm):
    expected_ndim = 4


class Embedding(Module):
    """A (num_embeddings, dim) table looked up by integer index; sparse-row gradient."""

    def __init__(self, num_embeddings, dim, rng=None, scale=None, dtype=DEFAULT_DTYPE):
        super().__init__()
        self.num_embeddings, self.dim = num_embeddings, dim
        if scale == 0:
            table = np.zeros((num_embeddings, dim), dtype)
        else:
            bound = scale if scale is not None else 0.5 / dim
            table = _rng(rng).uniform(-bound, bound, (num_embeddings, dim)).astype(dtype)
        self.weight = Parameter(table)

    def forward(self, indices):
        return F.embedding(self.weight, indices)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.dim}"


class _Activation(Module):
    function = None

    def forward(self, x):
        return type(self).function(x)


class ReLU(_Activation):
    function = staticmethod(F.relu)


class Sigmoid(_Activation):
    function = staticmethod(F.sigmoid)


class Tanh(_Activation):
    function = staticmethod(F.tanh)


class GELU(_Activation):
    """GELU in its tanh form (PyTorch's ``approximate='tanh'``)."""

    function = staticmethod(F.gelu)


class LeakyReLU(Module):
    def __init__(self, slope=0.01):
        super().__init__()
        self.slope = slope

    def forward(self, x):
        return F.leaky_relu(x, self.slope)

    def extra_repr(self):
        return f"slope={self.slope}"


ACTIVATIONS = {"relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh, "gelu": GELU}


def activation(name):
    """An activation module by its config name."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}") from None
