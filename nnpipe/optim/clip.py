"""Gradient clipping over a list of parameters (dense or sparse-row gradients)."""
from __future__ import annotations

import math

from ..autograd import SparseRows


def _grad_arrays(params):
    for p in params:
        if isinstance(p.grad, SparseRows):
            p.grad = p.grad.coalesce()  # repeated rows must be summed before measuring
            yield p.grad.values
        elif p.grad is not None:
            yield p.grad


def clip_grad_norm(params, max_norm):
    """Scale all gradients so their global L2 norm is at most ``max_norm``; return the norm
    before clipping."""
    params = list(params)
    total = math.sqrt(sum(float((g.astype("float64") ** 2).sum()) for g in _grad_arrays(params)))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in _grad_arrays(params):
            g *= g.dtype.type(scale)
    return total


def clip_grad_value(params, limit):
    """Clamp every gradient entry to [-limit, limit]."""
    for g in _grad_arrays(params):
        g.clip(-limit, limit, out=g)
