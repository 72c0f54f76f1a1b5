"""Check backward rules against central differences in float64."""
from __future__ import annotations

import numpy as np

from .. import backend
from .core import Tensor, no_grad
from .sparse import SparseRows


def _weighted_output(fn, tensors, weights):
    return float(backend.to_numpy((fn(*tensors).data * weights).sum()))


def numerical_grad(fn, arrays, weights, eps=1e-6):
    """d/dx Σ(fn(*arrays) · weights) for each array, by central differences."""
    grads = []
    for array in arrays:
        grad = np.zeros(array.shape, dtype=np.float64)
        for position in np.ndindex(array.shape):
            original = array[position]
            values = []
            for delta in (eps, -eps):
                array[position] = original + delta
                with no_grad():
                    values.append(_weighted_output(fn, [Tensor(a) for a in arrays], weights))
            array[position] = original
            grad[position] = (values[0] - values[1]) / (2 * eps)
        grads.append(grad)
    return grads


def gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4, seed=0):
    """Compare ``fn``'s backward with central differences; raise AssertionError on mismatch.

    ``inputs`` are float arrays (copied to float64).  The output is projected on fixed
    random weights so every output element takes part.  Returns True when all agree.
    """
    arrays = [np.array(backend.to_numpy(a), dtype=np.float64) for a in inputs]
    tensors = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    (out * Tensor(weights)).sum().backward()
    numeric = numerical_grad(fn, arrays, weights, eps)
    for index, (tensor, expected) in enumerate(zip(tensors, numeric)):
        grad = tensor.grad
        if grad is None:
            grad = np.zeros_like(expected)
        if isinstance(grad, SparseRows):
            grad = grad.to_dense()
        grad = backend.to_numpy(grad)
        if grad.shape != expected.shape:
            raise AssertionError(f"input {index}: gradient shape {grad.shape} != {expected.shape}")
        if not np.allclose(grad, expected, atol=atol, rtol=rtol):
            worst = np.unravel_index(np.argmax(abs(grad - expected)), grad.shape)
            raise AssertionError(
                f"input {index}: backward {grad[worst]:.8g} vs numerical {expected[worst]:.8g} "
                f"at {worst} (max abs diff {abs(grad - expected).max():.3g})"
            )
    return True
