"""Tensor and Function: the graph (the reverse-mode walk over it is in ``backward.py``).

A :class:`Function` computes on raw arrays (``forward``) and returns the gradient of each
input from the gradients of its outputs (``backward``).  Calling a function links its
output tensors to it; it holds its inputs strongly and its outputs weakly, so dropping the
last output frees the whole graph by reference counting.
"""
from __future__ import annotations

import contextlib
import weakref

import numpy as np

from .. import backend
from ..backend import DEFAULT_DTYPE, get_array_module
from .backward import backpropagate, sum_to_shape  # noqa: F401  (sum_to_shape: ops import it from here)

_grad_enabled = True


@contextlib.contextmanager
def no_grad():
    """Within this block operations record no graph (evaluation, optimizer updates)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    return _grad_enabled


def _as_array(data, dtype=None):
    """An xp array from ``data``; Python floats and lists become float32, not float64."""
    if isinstance(data, np.ndarray) or backend.is_cupy_array(data):
        return data if dtype is None else data.astype(dtype, copy=False)
    if isinstance(data, np.generic):
        return np.asarray(data, dtype=dtype)
    array = np.asarray(data, dtype=dtype)
    if dtype is None and array.dtype == np.float64:
        array = array.astype(DEFAULT_DTYPE)
    return array


class Tensor:
    """An array with an optional gradient and a link to the function that made it."""

    __array_priority__ = 1000  # numpy scalars and arrays defer to Tensor's operators
    # An optimizer that an op may apply to this leaf inside its own backward ("optimizer
    # in backward": word2vec's update, see ``ops/word_losses.py``); the op then hands back
    # no gradient.  Set by ``Optimizer.apply_in_backward``.
    update_in_backward = None

    def __init__(self, data, requires_grad=False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating tensors can require grad, got {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self.creator = None
        self.generation = 0
        self.name = None
        self.retains_grad = False

    # ---- array-like facts -------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        return backend.device_of(self.data)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.data!r}{grad})"

    def item(self):
        return self.data.item()

    def numpy(self):
        return backend.to_numpy(self.data)

    def detach(self):
        return Tensor(self.data)

    def to(self, device):
        moved = Tensor(backend.to_device(self.data, device), requires_grad=self.requires_grad)
        return moved

    def zero_grad(self):
        self.grad = None

    def retain_grad(self):
        """Keep this intermediate tensor's gradient in ``.grad`` after backward (leaves
        always keep theirs).  Returns self, so ``h = (x * 3).retain_grad()`` reads well."""
        self.retains_grad = True
        return self

    # ---- graph ------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        The walk is iterative (a heap ordered by generation), so graphs of any depth work.
        Unless ``retain_graph`` is set, each function drops what it saved once used.
        """
        backpropagate(self, grad.data if isinstance(grad, Tensor) else grad, retain_graph)

    # ---- operators (the ops live in ops/; imported at the bottom of this file) ---------
    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(other, self)

    def __sub__(self, other):
        return sub(self, other)

    def __rsub__(self, other):
        return sub(other, self)

    def __mul__(self, other):
        return mul(self, other)

    def __rmul__(self, other):
        return mul(other, self)

    def __truediv__(self, other):
        return div(self, other)

    def __rtruediv__(self, other):
        return div(other, self)

    def __neg__(self):
        return neg(self)

    def __pow__(self, exponent):
        return power(self, exponent)

    def __rpow__(self, base):
        return power(base, self)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def __getitem__(self, index):
        return getitem(self, index)

    def sum(self, axis=None, keepdims=False):
        return sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return max(self, axis, keepdims)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return reshape(self, shape)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return transpose(self, axes or None)

    @property
    def T(self):
        return transpose(self, None)

    def exp(self):
        return exp(self)

    def log(self):
        return log(self)


def as_tensor(value, like=None) -> Tensor:
    """Wrap ``value`` as a Tensor; a Python or NumPy scalar takes the floating dtype of
    ``like`` and lives on its device (as in PyTorch; a NumPy 0-d array would not combine
    with a CuPy array)."""
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, (int, float, bool, np.generic)):
        dtype = like.dtype if like.dtype.kind == "f" else DEFAULT_DTYPE
        xp = get_array_module(like.data)
        return Tensor(xp.asarray(value, dtype=dtype))
    return Tensor(value)


class Function:
    """One differentiable operation.

    Subclasses define ``forward(*arrays)`` returning an array (or a tuple of arrays) and
    ``backward(*grad_outputs)`` returning one gradient per input (``None`` where an input
    is not differentiable).  ``self.needs_input_grad`` says which inputs need one, so
    backward can skip work.  Hyperparameters go in ``__init__``.
    """

    inputs = ()
    generation = 0

    def __call__(self, *inputs):
        tensors = [x if isinstance(x, Tensor) else as_tensor(x) for x in inputs]
        arrays = [t.data for t in tensors]
        outputs = self.forward(*arrays)
        single = not isinstance(outputs, tuple)
        if single:
            outputs = (outputs,)
        outputs = tuple(_op_output(y, arrays) for y in outputs)
        needs = tuple(t.requires_grad for t in tensors)
        if _grad_enabled and True in needs:
            self.needs_input_grad = needs
            generation = 0
            for t in tensors:
                if t.generation > generation:
                    generation = t.generation
            self.generation = generation
            for output in outputs:
                output.requires_grad = True
                output.creator = self
                output.generation = generation + 1
            self.inputs = tensors
            self.outputs = tuple(weakref.ref(y) for y in outputs)
        return outputs[0] if single else outputs

    def release(self):
        """Drop inputs and saved arrays once backward has used them."""
        self.__dict__.clear()
        self.inputs = None

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, *grad_outputs):
        raise NotImplementedError


def _op_output(array, inputs):
    """Wrap a forward result as a fresh Tensor (a view if it is an input), read-only on
    NumPy so that editing it in place cannot corrupt arrays saved for backward.  CuPy
    arrays have no such flag: on a GPU that protection is absent."""
    for a in inputs:
        if array is a:
            array = array.view()
            break
    if type(array) is not np.ndarray:
        array = _as_array(array)
    if type(array) is np.ndarray:
        array.flags.writeable = False
    tensor = Tensor.__new__(Tensor)
    tensor.data = array
    tensor.requires_grad = False
    tensor.grad = tensor.creator = tensor.name = None
    tensor.generation = 0
    tensor.retains_grad = False
    return tensor


# The operator methods above call these; imported last because they subclass Function.
from .ops.arith import add, div, matmul, mul, neg, power, sub  # noqa: E402
from .ops.elementwise import exp, log  # noqa: E402
from .ops.reduce import max, mean, sum  # noqa: E402,A004
from .ops.shape import getitem, reshape, transpose  # noqa: E402
