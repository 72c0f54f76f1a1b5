"""A model as the plain PyTorch layers it computes: the names, layouts and architecture
that ``nnpipe export`` writes and ``model.init_from`` reads.

A :class:`Sequential` of nnpipe layers becomes a list of ``torch.nn`` layers by class name
and constructor arguments; a fused layer becomes the layers it fuses (``LinearReLU`` →
``Linear``, ``ReLU``; ``Conv2dReLUPool`` → ``Conv2d``, ``ReLU``, ``MaxPool2d(2)``), so the
state-dict names are those of ``torch.nn.Sequential(*layers)`` (``3.weight``) and a
``Linear`` weight is stored (out, in) as PyTorch keeps it (nnpipe's is (in, out)).  Any
other model (the word-vector tables) keeps its own names.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import backend
from . import layers as L
from .module import StateDictError
from .sequential import Sequential


@dataclass
class PlainLayer:
    kind: str  # the torch.nn class
    args: dict = field(default_factory=dict)  # its constructor's keyword arguments
    params: list = field(default_factory=list)  # its parameters' and buffers' names (the nnpipe layer's too)


def _plain(module) -> list:
    """The plain layers of one nnpipe layer."""
    if isinstance(module, L.Linear):
        linear = PlainLayer("Linear", {"in_features": module.in_features, "out_features": module.out_features,
                                       "bias": module.bias is not None}, _own_params(module))
        return [linear, PlainLayer("ReLU")] if isinstance(module, L.LinearReLU) else [linear]
    if isinstance(module, L.Conv2d):
        conv = PlainLayer("Conv2d", {"in_channels": module.in_channels, "out_channels": module.out_channels,
                                     "kernel_size": _pair(module.kernel_size), "stride": _pair(module.stride),
                                     "padding": _pair(module.padding), "bias": module.bias is not None},
                          _own_params(module))
        if isinstance(module, L.Conv2dReLUPool):
            return [conv, PlainLayer("ReLU"), _pool("MaxPool2d", 2, 2, 0)]
        return [conv]
    if isinstance(module, (L.MaxPool2d, L.AvgPool2d)) and (isinstance(module, L.MaxPool2d) or not module.padding):
        return [_pool(type(module).__name__, module.kernel_size, module.stride or module.kernel_size, module.padding)]
    if isinstance(module, L._BatchNorm):
        return [PlainLayer(type(module).__name__, {"num_features": module.num_features, "eps": module.eps,
                                                   "momentum": module.momentum}, _own_params(module))]
    if isinstance(module, L.Dropout):
        return [PlainLayer("Dropout", {"p": module.p})]
    if isinstance(module, L.LeakyReLU):
        return [PlainLayer("LeakyReLU", {"negative_slope": module.slope})]
    if isinstance(module, L.GELU):
        return [PlainLayer("GELU", {"approximate": "tanh"})]
    if isinstance(module, (L.Flatten, L.ReLU, L.Sigmoid, L.Tanh)):
        return [PlainLayer(type(module).__name__)]
    raise ValueError(f"{type(module).__name__} has no plain PyTorch layer")


def _pair(value):
    return list(value) if isinstance(value, (list, tuple)) else [value, value]


def _pool(kind, kernel_size, stride, padding):
    return PlainLayer(kind, {"kernel_size": _pair(kernel_size), "stride": _pair(stride), "padding": _pair(padding)})


def _own_params(module):
    return [*module._parameters, *module._buffers]


def plain_layers(model) -> list:
    """``model`` (a Sequential) as PyTorch layers; ValueError for anything else."""
    if not isinstance(model, Sequential):
        raise ValueError(f"{type(model).__name__} is not a Sequential of layers")
    return [plain for module in model for plain in _plain(module)]


def _name_map(model):
    """PyTorch state-dict name -> (nnpipe state-dict name, stored transposed)."""
    if not isinstance(model, Sequential):  # word tables and other models keep their names
        return {name: (name, False) for name in model.state_dict()}
    names, position = {}, 0
    for index, module in enumerate(model):
        for plain in _plain(module):
            for name in plain.params:
                names[f"{position}.{name}"] = (f"{index}.{name}", plain.kind == "Linear" and name == "weight")
            position += 1
    return names


def torch_state_dict(model) -> dict:
    """The model's parameters and buffers as NumPy arrays under PyTorch's names and layouts."""
    own = model.state_dict()
    return {name: np.ascontiguousarray(backend.to_numpy(own[source]).T if transposed
                                       else backend.to_numpy(own[source]))
            for name, (source, transposed) in _name_map(model).items()}


def load_torch_state_dict(model, arrays: dict):
    """Set the model's weights from PyTorch-named ``arrays`` (every name, each shape checked)."""
    names = _name_map(model)
    missing = [name for name in names if name not in arrays]
    unexpected = [name for name in arrays if name not in names]
    if missing or unexpected:
        parts = (["missing " + ", ".join(missing)] if missing else []) + (
            ["unexpected " + ", ".join(unexpected)] if unexpected else [])
        raise StateDictError("; ".join(parts))
    model.load_state_dict({source: np.asarray(arrays[name]).T if transposed else arrays[name]
                           for name, (source, transposed) in names.items()})
