"""The iterative reverse-mode walk: gradients flow from a tensor back to every leaf.

Functions are visited in decreasing generation from a heap (no recursion, so graphs of
any depth work); each leaf's ``.grad`` accumulates an array of its own.
"""
from __future__ import annotations

import heapq
import itertools

import numpy as np

from ..backend import get_array_module
from .sparse import SparseRows


def backpropagate(root, grad=None, retain_graph=False):
    """Accumulate d(root)/d(leaf) into ``.grad`` of every leaf that requires grad (what
    ``Tensor.backward`` does; ``grad`` is an array or None)."""
    if not root.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require grad")
    xp = get_array_module(root.data)
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() needs a grad argument for a non-scalar tensor of shape {root.shape}"
            )
        grad = xp.ones_like(root.data)
    if root.creator is None:
        root.grad = _accumulate(root.grad, grad)
        return
    pending = {root: grad}
    handed_out = set()  # ids of arrays already stored as some leaf's .grad
    counter = itertools.count()
    heap = [(-root.creator.generation, next(counter), root.creator)]
    queued = {id(root.creator)}
    while heap:
        _, _, function = heapq.heappop(heap)
        if function.inputs is None:
            raise RuntimeError(
                "the graph was already freed by an earlier backward(); "
                "pass retain_graph=True to backward twice"
            )
        grad_outputs = []
        for ref in function.outputs:
            output = ref()
            grad_output = None if output is None else pending.pop(output, None)
            if grad_output is not None and output.retains_grad:
                output.grad = grad_output
            grad_outputs.append(grad_output)
        grad_inputs = function.backward(*grad_outputs)
        if not isinstance(grad_inputs, tuple):
            grad_inputs = (grad_inputs,)
        for tensor, grad_input in zip(function.inputs, grad_inputs):
            if grad_input is None or not tensor.requires_grad:
                continue
            if grad_input.shape != tensor.shape:
                grad_input = sum_to_shape(grad_input, tensor.shape)
            if tensor.creator is None:
                tensor.grad = _accumulate(tensor.grad, _owned(grad_input, handed_out))
                continue
            pending[tensor] = _accumulate(pending.get(tensor), grad_input)
            if id(tensor.creator) not in queued:
                queued.add(id(tensor.creator))
                heapq.heappush(heap, (-tensor.creator.generation, next(counter), tensor.creator))
        if not retain_graph:
            function.release()


def _owned(grad, handed_out):
    """``grad`` itself if no other leaf holds it and it owns its memory, else a copy.

    Backward rules may hand the same array (or a read-only broadcast view) to several
    inputs; a leaf's ``.grad`` must be its own, since optimizers and clipping edit it.
    """
    if isinstance(grad, SparseRows):
        return grad
    if isinstance(grad, np.generic):  # NumPy turns 0-d results into scalars
        return np.asarray(grad)
    flags = grad.flags
    if id(grad) in handed_out or not flags.owndata or not getattr(flags, "writeable", True):
        grad = grad.copy()
    handed_out.add(id(grad))
    return grad


def _accumulate(current, new):
    if current is None:
        return new
    if isinstance(new, SparseRows):
        return new + current
    return current + new  # a SparseRows ``current`` adds itself into the dense ``new``


def sum_to_shape(array, shape):
    """Sum ``array`` down to ``shape``: the one place broadcast gradients are reduced."""
    if isinstance(array, SparseRows) or array.shape == shape:
        return array
    lead = array.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, size in enumerate(shape) if size == 1 and array.shape[lead + i] != 1
    )
    summed = array.sum(axis=axes, keepdims=True) if axes else array
    return summed.reshape(shape) if lead or summed.shape != shape else summed
