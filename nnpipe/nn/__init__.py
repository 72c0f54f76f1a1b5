"""Modules, layers, losses and initialisers: ``import nnpipe.nn as nn``.

How to add a loss: write a function ``loss(output, target, <option>=<default>)`` (its
differentiable op, if it needs one, goes in ``autograd/ops/loss_functions.py``) and
register it in ``losses.py`` with ``LOSSES.register("<name>", tags=("classification",))``;
a config then says ``loss: {name: <name>, <option>: ...}``.
"""
from . import init
from .layers import (
    ACTIVATIONS, GELU, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Embedding, Flatten,
    LeakyReLU, Linear, MaxPool2d, ReLU, Sequential, Sigmoid, Tanh, activation,
)
from .losses import LOSSES, build_loss
from .module import Module, Parameter, StateDictError

__all__ = [
    "ACTIVATIONS", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "Dropout", "Embedding",
    "Flatten", "GELU", "LOSSES", "LeakyReLU", "Linear", "MaxPool2d", "Module", "Parameter", "ReLU",
    "Sequential", "Sigmoid", "StateDictError", "Tanh", "activation", "build_loss", "init",
]
