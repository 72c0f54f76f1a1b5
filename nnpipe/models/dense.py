"""Building blocks shared by the models."""
from __future__ import annotations

from .. import nn


def dense_layers(width, options, rng, num_classes, nonlinearity="relu", batch_norm=False):
    """[Linear → (BatchNorm) → act → (Dropout)] for each of ``options.hidden`` (Linear → ReLU
    as one :class:`nn.LinearReLU`), then the Linear to ``num_classes`` scores: the MLP, and
    the CNN's head."""
    layers = []
    for size in options.hidden:
        fused = options.activation == "relu" and not batch_norm  # Linear → ReLU as one op
        layers.append((nn.LinearReLU if fused else nn.Linear)(width, size, rng=rng, init_name=options.init,
                                                               nonlinearity=nonlinearity))
        if batch_norm:
            layers.append(nn.BatchNorm1d(size))
        if not fused:
            layers.append(nn.activation(options.activation))
        if options.dropout:
            layers.append(nn.Dropout(options.dropout, rng=rng))
        width = size
    layers.append(nn.Linear(width, num_classes, rng=rng, init_name=options.init, nonlinearity="linear"))
    return layers
