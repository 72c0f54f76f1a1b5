"""Multi-layer perceptron: Flatten → [Linear → (BatchNorm) → act → (Dropout)]* → Linear."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import nn
from .registry import MODELS


@dataclass
class MLPOptions:
    hidden: list = field(default_factory=lambda: [256, 128])
    activation: str = "relu"
    dropout: float = 0.0
    batch_norm: bool = False
    init: str = "kaiming_uniform"


@MODELS.register("mlp", MLPOptions, tags=("classifier",))
def build_mlp(options: MLPOptions, rng, input_shape, num_classes, **_):
    nonlinearity = options.activation if options.activation in nn.init.GAINS else "relu"
    layers = [nn.Flatten()]
    width = math.prod(input_shape)
    for size in options.hidden:
        layers.append(nn.Linear(width, size, rng=rng, init_name=options.init, nonlinearity=nonlinearity))
        if options.batch_norm:
            layers.append(nn.BatchNorm1d(size))
        layers.append(nn.activation(options.activation))
        if options.dropout:
            layers.append(nn.Dropout(options.dropout, rng=rng))
        width = size
    layers.append(nn.Linear(width, num_classes, rng=rng, init_name=options.init, nonlinearity="linear"))
    return nn.Sequential(*layers)
