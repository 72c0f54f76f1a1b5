"""A small reverse-mode autograd engine over NumPy (or CuPy) arrays."""
from .core import Function, Tensor, as_tensor, is_grad_enabled, no_grad
from .gradcheck import gradcheck, numerical_grad
from .random import CounterRandom
from .sparse import SparseRows

__all__ = [
    "CounterRandom", "Function", "SparseRows", "Tensor", "as_tensor", "gradcheck", "is_grad_enabled",
    "no_grad", "numerical_grad",
]
