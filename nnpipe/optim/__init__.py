"""Optimizers, learning-rate schedules and gradient clipping: ``import nnpipe.optim as optim``."""
from .clip import clip_grad_norm, clip_grad_value
from .optimizers import OPTIMIZERS, SGD, AdaGrad, Adam, AdamW, Momentum, Optimizer, RMSProp
from .schedules import Schedule


def build_optimizer(name, params, **options):
    """An optimizer by its config name, e.g. build_optimizer('adam', model.parameters(), lr=1e-3)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](params, **options)


__all__ = [
    "OPTIMIZERS", "SGD", "AdaGrad", "Adam", "AdamW", "Momentum", "Optimizer", "RMSProp", "Schedule",
    "build_optimizer", "clip_grad_norm", "clip_grad_value",
]
