"""``Sequential``: layers applied in order, where runs of plain layers that a fused op
computes in fewer passes over memory run as that op, with the layers' own weights.

A model written layer by layer so gets the fast path without naming it, and keeps the
module tree and state-dict names of its layers (checkpoints load either way):

- ``Conv2d → ReLU → MaxPool2d(2)``, or ``Conv2d → MaxPool2d(2) → ReLU`` (max pooling and
  ReLU commute): ``F.conv2d_relu_pool``, the convolution block's kernels;
- ``Conv2d → BatchNorm2d`` in eval mode: one convolution whose weights and bias carry the
  normalisation (w·γ/σ, (b - μ)·γ/σ + β, as differentiable ops), then fused as above when
  ReLU and pooling follow: inference makes no pass over memory for the batch norm;
- ``Linear → ReLU``: ``F.linear_relu``, the ReLU in place on the GEMM's output;
- ``BatchNorm → ReLU`` and ``BatchNorm → MaxPool2d → ReLU`` (in training, where the batch
  norm is not folded): the ReLU within the batch norm's passes (``F.batch_norm(relu=True)``),
  then the pooling;
- any other ``ReLU → MaxPool2d``: the pooling first, then the ReLU on its fewer values (the
  same values and gradients: a window's maximum is the maximum of its ReLUs, and where
  ReLU ties values they are ≤ 0, whose gradient is 0 either way).
"""
from __future__ import annotations

import nnpipe.autograd.functions as F

from ..autograd.ops.conv import _pair
from .layers import BatchNorm1d, BatchNorm2d, Conv2d, Linear, MaxPool2d, ReLU
from .module import Module


def _halving_pool(layer):
    """A 2×2 max pooling with stride 2 and no padding, as the block fuses."""
    return (type(layer) is MaxPool2d and _pair(layer.kernel_size) == (2, 2)
            and _pair(layer.stride or layer.kernel_size) == (2, 2) and _pair(layer.padding) == (0, 0))


def _folded_conv(layers, i):
    """(weight, bias, layers used) of the convolution ``layers[i]``, with an eval-mode
    ``BatchNorm2d`` right after it folded in."""
    conv = layers[i]
    norm = layers[i + 1] if i + 1 < len(layers) else None
    if type(norm) is not BatchNorm2d or norm.training or norm.num_features != conv.out_channels:
        return conv.weight, conv.bias, 1  # (a mismatch: the layers one by one, whose error names it)
    scale = norm.running_scale()
    shift = norm.bias - norm.running_mean * scale if conv.bias is None else (
        (conv.bias - norm.running_mean) * scale + norm.bias)
    return conv.weight * scale.reshape(-1, 1, 1, 1), shift, 2


def fused_run(layers, i):
    """(a function that computes ``layers[i:i + n]``, n): the fused op of a run that starts
    at ``i``, or the layer itself (n = 1)."""
    layer = layers[i]
    if type(layer) is Conv2d:
        weight, bias, used = _folded_conv(layers, i)
        following = layers[i + used:i + used + 2]
        if bias is not None and len(following) == 2 and ReLU in map(type, following) and (
                _halving_pool(following[0]) or _halving_pool(following[1])):
            return (lambda x: F.conv2d_relu_pool(x, weight, bias, layer.stride, layer.padding)), used + 2
        if used > 1:
            return (lambda x: F.conv2d(x, weight, bias, layer.stride, layer.padding)), used
        return layer, 1
    following = [type(other) for other in layers[i + 1:i + 3]]
    if type(layer) in (BatchNorm1d, BatchNorm2d) and following[:1] == [ReLU]:
        return (lambda x: layer(x, relu=True)), 2
    if type(layer) in (BatchNorm1d, BatchNorm2d) and following == [MaxPool2d, ReLU]:  # ReLU and max commute
        return (lambda x: layers[i + 1](layer(x, relu=True))), 3
    if type(layer) is Linear and following[:1] == [ReLU]:
        return (lambda x: F.linear_relu(x, layer.weight, layer.bias)), 2
    if type(layer) is ReLU and following[:1] == [MaxPool2d]:
        return (lambda x: F.relu(layers[i + 1](x))), 2
    return layer, 1


class Sequential(Module):
    def __init__(self, *layers):
        super().__init__()
        for index, layer in enumerate(layers):
            setattr(self, str(index), layer)

    def __iter__(self):
        return iter(self._modules.values())

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def forward(self, x):
        layers, i = list(self._modules.values()), 0
        while i < len(layers):
            step, count = fused_run(layers, i)
            x, i = step(x), i + count
        return x
