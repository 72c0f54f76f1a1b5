"""Optimizers, learning-rate schedules and gradient clipping: ``import nnpipe.optim as optim``.

How to add an optimizer: write ``optim/<name>.py`` with a subclass of :class:`Optimizer`
decorated ``@OPTIMIZERS.register("<name>")`` whose ``__init__(self, params, lr: float = ...,
<option>: <type> = <default>)`` lists its options and whose ``update(param, grad, state)``
changes the arrays in place; every module here is imported, so a config can then say
``optimizer: {name: <name>, <option>: ...}``.  A schedule is the same with
``@SCHEDULES.register`` on a curve ``lr(t, span, base_lr, <option>=...)`` (see
``schedules.py``).
"""
from ..registry import import_submodules
from .clip import clip_grad_norm, clip_grad_value
from .optimizers import OPTIMIZERS, SGD, AdaGrad, Adam, AdamW, Momentum, Optimizer, RMSProp
from .schedules import SCHEDULES, Schedule


def build_optimizer(name, params, **options):
    """An optimizer by its config name, e.g. build_optimizer('adam', model.parameters(), lr=1e-3)."""
    return OPTIMIZERS.get(name).builder(params, **OPTIMIZERS.options(name, options))


__all__ = [
    "OPTIMIZERS", "SCHEDULES", "SGD", "AdaGrad", "Adam", "AdamW", "Momentum", "Optimizer", "RMSProp", "Schedule",
    "build_optimizer", "clip_grad_norm", "clip_grad_value",
]

import_submodules(__name__)  # each optimizer and schedule file registers itself
