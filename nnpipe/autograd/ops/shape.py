"""Shape and indexing: reshape, transpose, getitem, gather, concat, stack."""
from __future__ import annotations

import numpy as np

from ...backend import get_array_module
from ..core import Function, Tensor, as_tensor

__all__ = ["reshape", "transpose", "getitem", "gather", "concat", "stack"]  # the wrappers; F gathers them


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.input_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return gy.reshape(self.input_shape)


def reshape(x, shape):
    return Reshape(tuple(shape))(x)


class Transpose(Function):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        xp = get_array_module(gy)
        if self.axes is None:
            return gy.transpose()
        return gy.transpose(xp.argsort(xp.asarray(self.axes)).tolist())


def transpose(x, axes=None):
    return Transpose(None if axes is None else tuple(axes))(x)


def _module_of(x):
    return get_array_module(x.data if isinstance(x, Tensor) else x)


def _plain_index(index, xp):
    """Unwrap Tensor indices into arrays, on the indexed array's device (a NumPy index
    array of a GPU tensor is uploaded: CuPy refuses host arrays)."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i, xp) for i in index)
    index = index.data if isinstance(index, Tensor) else index
    return xp.asarray(index) if isinstance(index, (np.ndarray, list)) else index


def _is_basic(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


class GetItem(Function):
    """x[index]; basic indexing scatters back by assignment, advanced indexing by add.at
    (repeated indices must accumulate)."""

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.input_shape, self.input_dtype = x.shape, x.dtype
        return x[self.index]

    def backward(self, gy):
        xp = get_array_module(gy)
        gx = xp.zeros(self.input_shape, dtype=gy.dtype)
        if _is_basic(self.index):
            gx[self.index] = gy
        else:
            xp.add.at(gx, self.index, gy)
        return gx


def getitem(x, index):
    return GetItem(_plain_index(index, _module_of(x)))(x)


class Gather(Function):
    """``take_along_axis(x, indices, axis)``: pick one entry per position along ``axis``."""

    def __init__(self, indices, axis):
        self.indices, self.axis = indices, axis

    def forward(self, x):
        self.input_shape = x.shape
        return get_array_module(x).take_along_axis(x, self.indices, self.axis)

    def backward(self, gy):
        xp = get_array_module(gy)
        gx = xp.zeros(self.input_shape, dtype=gy.dtype)
        ndim = self.indices.ndim
        grid = [xp.arange(size).reshape([size if k == d else 1 for k in range(ndim)])
                for d, size in enumerate(self.indices.shape)]  # an open grid (CuPy's indices has no sparse=)
        grid[self.axis] = self.indices
        xp.add.at(gx, tuple(grid), gy)
        return gx


def gather(x, indices, axis=-1):
    return Gather(_plain_index(indices, _module_of(x)), axis)(x)


class Concat(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        return get_array_module(*xs).concatenate(xs, axis=self.axis)

    def backward(self, gy):
        xp = get_array_module(gy)
        bounds = [sum(self.sizes[: i + 1]) for i in range(len(self.sizes) - 1)]
        return tuple(xp.split(gy, bounds, axis=self.axis))


def concat(tensors, axis=0):
    return Concat(axis)(*[as_tensor(t) for t in tensors])


class Stack(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        return get_array_module(*xs).stack(xs, axis=self.axis)

    def backward(self, gy):
        xp = get_array_module(gy)
        count = gy.shape[self.axis]
        return tuple(xp.take(gy, i, axis=self.axis) for i in range(count))


def stack(tensors, axis=0):
    return Stack(axis)(*[as_tensor(t) for t in tensors])
