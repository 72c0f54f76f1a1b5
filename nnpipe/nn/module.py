"""Module: a tree of layers that registers parameters and sub-modules by attribute."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import backend
from ..autograd import Tensor


class Parameter(Tensor):
    """A leaf tensor that a Module owns and an optimizer updates; requires grad."""

    def __init__(self, data):
        super().__init__(data, requires_grad=True)


class StateDictError(ValueError):
    """A state dict does not fit the module it is loaded into."""


class Module:
    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self._buffers:
            self._buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def __getattr__(self, name):  # only reached for buffers
        buffers = self.__dict__.get("_buffers", {})
        if name in buffers:
            return buffers[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def register_buffer(self, name, array):
        """State that is saved and moved with the module but not trained (running stats)."""
        self._buffers[name] = array

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError

    # ---- traversal --------------------------------------------------------------------
    def named_modules(self, prefix=""):
        yield prefix, self
        for name, module in self._modules.items():
            yield from module.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return [module for _, module in self.named_modules()]

    def _named(self, registry):
        """(dotted name, value) for every entry of ``registry`` in the whole tree."""
        for prefix, module in self.named_modules():
            for name, value in getattr(module, registry).items():
                yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self):
        """(dotted name, Parameter) pairs in registration order."""
        return self._named("_parameters")

    def parameters(self):
        return [parameter for _, parameter in self.named_parameters()]

    def named_buffers(self):
        return self._named("_buffers")

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    # ---- modes and devices ------------------------------------------------------------
    def train(self, mode=True):
        """Training mode (dropout active, batch statistics) for the whole tree."""
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """Evaluation mode (no dropout, running statistics) for the whole tree."""
        return self.train(False)

    def zero_grad(self):
        for parameter in self.parameters():
            parameter.grad = None

    def to(self, device):
        for module in self.modules():
            for parameter in module._parameters.values():
                parameter.data = backend.to_device(parameter.data, device)
                parameter.grad = None
            for name, array in module._buffers.items():
                module._buffers[name] = backend.to_device(array, device)
        return self

    # ---- state ------------------------------------------------------------------------
    def state_dict(self):
        """Parameters and buffers by dotted name, as the arrays themselves (not copies)."""
        state = OrderedDict((name, p.data) for name, p in self.named_parameters())
        state.update(self.named_buffers())
        return state

    def load_state_dict(self, state, strict=True):
        """Copy arrays into this module's parameters and buffers, checking names and shapes."""
        own = self.state_dict()
        missing = [name for name in own if name not in state]
        unexpected = [name for name in state if name not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing keys: " + ", ".join(missing))
            if unexpected:
                parts.append("unexpected keys: " + ", ".join(unexpected))
            raise StateDictError("; ".join(parts))
        for name, current in own.items():
            if name not in state:
                continue
            value = np.asarray(backend.to_numpy(state[name]))
            if value.shape != current.shape:
                raise StateDictError(f"{name}: shape {value.shape} in the state, {current.shape} in the model")
            xp = backend.get_array_module(current)
            current[...] = xp.asarray(value.astype(current.dtype, copy=False))

    # ---- printing ---------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        own = sum(p.size for p in self._parameters.values())
        head = f"{type(self).__name__}({self.extra_repr()})"
        if not self._modules:
            return head + (f"  # {own:,} params" if own else "")
        lines = [f"{type(self).__name__}(  # {self.num_parameters():,} params"]
        for name, module in self._modules.items():
            body = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)
