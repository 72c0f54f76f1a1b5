"""Modules, layers, losses and initialisers: ``import nnpipe.nn as nn``.

How to add a loss: write ``nn/<name>.py`` with a function ``loss(output, target,
<option>=<default>)`` decorated ``@LOSSES.register("<name>", tags=("classification",))``
(its op, if it needs a new one, goes in ``autograd/ops/loss_functions.py``, or
``word_losses.py`` for a word-vector loss); every module
here is imported, so a config can then say ``loss: {name: <name>, <option>: ...}``.
"""
from ..registry import import_submodules
from . import init
from .layers import (
    ACTIVATIONS,
    GELU,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Conv2dReLUPool,
    Dropout,
    Embedding,
    Flatten,
    LeakyReLU,
    Linear,
    LinearReLU,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Tanh,
    activation,
    dropout_streams,
)
from .losses import LOSSES, build_loss
from .module import Module, Parameter, StateDictError
from .sequential import Sequential

__all__ = [
    "ACTIVATIONS", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "Conv2dReLUPool", "Dropout", "Embedding",
    "Flatten", "GELU", "LOSSES", "LeakyReLU", "Linear", "LinearReLU", "MaxPool2d", "Module", "Parameter", "ReLU",
    "Sequential", "Sigmoid", "StateDictError", "Tanh", "activation", "build_loss", "dropout_streams", "init",
]

import_submodules(__name__)  # each loss file registers itself
