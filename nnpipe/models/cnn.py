"""A configurable convolutional network: [[Conv → (BatchNorm) → act] × convs_per_block →
MaxPool]* then an MLP head (a non-decreasing activation runs after the pooling, which gives
the same result); ``convs_per_block: 2`` is VGG's conv-conv-pool.

The defaults suit 28×28 grey (MNIST) and 32×32 RGB (CIFAR-10) images alike; the input
shape comes from the data.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import nn
from ..autograd.ops.conv import conv_output_size
from ..options import AtLeastOne, NonNegativeInt, Sizes
from .dense import DenseOptions, dense_layers, gain_name
from .model_registry import MODELS


@dataclass
class CNNOptions(DenseOptions):
    hidden: Sizes = field(default_factory=lambda: [128])  # the head's hidden layers
    channels: Sizes = field(default_factory=lambda: [32, 64])  # one conv block per entry
    convs_per_block: AtLeastOne = 1  # convolutions of a block's width before its pooling (2: conv-conv-pool)
    kernel_size: AtLeastOne = 3
    stride: AtLeastOne = 1
    padding: NonNegativeInt = 1
    pool: AtLeastOne = 2  # max-pooling window after each convolution (1: none)


MONOTONIC = ("relu", "leaky_relu", "sigmoid", "tanh")  # activations that commute with max


@MODELS.register("cnn", CNNOptions, tags=("classifier",))
def build_cnn(options: CNNOptions, rng, input_shape, num_classes, **_):
    if len(input_shape) != 3:
        raise ValueError(f"cnn needs image input (C, H, W), got shape {tuple(input_shape)}")
    channels, height, width = input_shape
    layers = []
    for out_channels in options.channels:
        for position in range(options.convs_per_block):  # the last one ends the block with the pooling
            conv_args = (channels, out_channels, options.kernel_size, options.stride, options.padding)
            height, width = (conv_output_size(size, *conv_args[2:]) for size in (height, width))
            channels = out_channels
            if position < options.convs_per_block - 1:
                layers += _conv_block(conv_args, options, rng, pooled=False)
            elif options.activation == "relu" and options.pool == 2 and not options.batch_norm:
                # the common block as one op: bias, ReLU and pooling fused into the convolution
                layers.append(nn.Conv2dReLUPool(*conv_args, rng=rng, init_name=options.init))
            else:
                layers += _conv_block(conv_args, options, rng)
        if options.pool > 1:
            height, width = height // options.pool, width // options.pool
        if height < 1 or width < 1:
            raise ValueError(f"cnn: {len(options.channels)} conv/pool blocks shrink a {input_shape[1:]} image "
                             "to nothing")
    head = dense_layers(channels * height * width, options, rng, num_classes)
    return nn.Sequential(*layers, nn.Flatten(), *head)


def _conv_block(conv_args, options, rng, pooled=True):
    """Conv2d → (BatchNorm2d) → activation → (pooling, when ``pooled``) as separate layers."""
    layers = [nn.Conv2d(*conv_args, rng=rng, init_name=options.init, nonlinearity=gain_name(options))]
    if options.batch_norm:
        layers.append(nn.BatchNorm2d(conv_args[1]))
    block = [nn.activation(options.activation)]
    if pooled and options.pool > 1:
        # max pooling commutes with a non-decreasing activation (values and gradients
        # alike), so such an activation runs after it, on a quarter of the values
        pool = nn.MaxPool2d(options.pool)
        block = block + [pool] if options.activation not in MONOTONIC else [pool] + block
    return layers + block
