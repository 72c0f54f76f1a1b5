"""Gradient clipping over a list of parameters (dense or sparse-row gradients)."""
from __future__ import annotations

from ..autograd import SparseRows
from ..backend import get_array_module


def _grad_arrays(params):
    for p in params:
        if isinstance(p.grad, SparseRows):
            p.grad = p.grad.coalesce()  # repeated rows must be summed before measuring
            yield p.grad.values
        elif p.grad is not None:
            yield p.grad


def clip_grad_norm(params, max_norm):
    """Scale all gradients so their global L2 norm is at most ``max_norm``; return the norm
    before clipping, as a 0-d array on the gradients' device.  The decision to scale is
    taken there too (a factor of exactly 1 within the limit), so clipping never waits for
    the host."""
    grads = list(_grad_arrays(params))
    if not grads:
        return 0.0
    xp = get_array_module(grads[0])
    total = xp.sqrt(sum((g.astype(xp.float64) ** 2).sum() for g in grads))
    scale = xp.minimum(1.0, max_norm / (total + 1e-6))
    for g in grads:
        g *= scale.astype(g.dtype)
    return total


def clip_grad_value(params, limit):
    """Clamp every gradient entry to [-limit, limit]."""
    for g in _grad_arrays(params):
        g.clip(-limit, limit, out=g)
