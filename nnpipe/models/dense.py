"""What the MLP and the CNN share: the options of their dense layers, and those layers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .. import nn
from ..options import Fraction, Sizes

Activation = Literal[tuple(nn.ACTIVATIONS)]
Initialiser = Literal[tuple(nn.init.INITIALISERS)]


@dataclass
class DenseOptions:
    hidden: Sizes = field(default_factory=lambda: [256, 128])  # one hidden layer per entry
    activation: Activation = "relu"
    dropout: Fraction = 0.0  # after each hidden layer
    batch_norm: bool = False  # after each hidden layer's Linear (and each convolution)
    init: Initialiser = "kaiming_uniform"


def gain_name(options):
    """The nonlinearity whose gain the initialiser uses (ReLU's for one without a gain, GELU)."""
    return options.activation if options.activation in nn.init.GAINS else "relu"


def dense_layers(width, options, rng, num_classes):
    """[Linear → (BatchNorm) → act → (Dropout)] for each of ``options.hidden`` (Linear → ReLU
    as one :class:`nn.LinearReLU`), then the Linear to ``num_classes`` scores: the MLP, and
    the CNN's head."""
    layers = []
    for size in options.hidden:
        fused = options.activation == "relu" and not options.batch_norm  # Linear → ReLU as one op
        layers.append((nn.LinearReLU if fused else nn.Linear)(width, size, rng=rng, init_name=options.init,
                                                               nonlinearity=gain_name(options)))
        if options.batch_norm:
            layers.append(nn.BatchNorm1d(size))
        if not fused:
            layers.append(nn.activation(options.activation))
        if options.dropout:
            layers.append(nn.Dropout(options.dropout, rng=rng))
        width = size
    layers.append(nn.Linear(width, num_classes, rng=rng, init_name=options.init, nonlinearity="linear"))
    return layers
