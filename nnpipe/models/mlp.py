"""Multi-layer perceptron: Flatten → [Linear → (BatchNorm) → act → (Dropout)]* → Linear."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import nn
from .dense import dense_layers
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
    return nn.Sequential(nn.Flatten(), *dense_layers(math.prod(input_shape), options, rng, num_classes, nonlinearity,
                                                     options.batch_norm))
