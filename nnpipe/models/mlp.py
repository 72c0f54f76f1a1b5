"""Multi-layer perceptron: Flatten → [Linear → (BatchNorm) → act → (Dropout)]* → Linear."""
from __future__ import annotations

import math

from .. import nn
from .dense import DenseOptions, dense_layers
from .model_registry import MODELS


@MODELS.register("mlp", DenseOptions, tags=("classifier",))
def build_mlp(options: DenseOptions, rng, input_shape, num_classes, **_):
    return nn.Sequential(nn.Flatten(), *dense_layers(math.prod(input_shape), options, rng, num_classes))
