"""Arithmetic: + - * / ** @, maximum and abs.  Broadcast gradients are reduced centrally."""
from __future__ import annotations

from ...backend import get_array_module
from ..core import Function, Tensor, as_tensor

__all__ = [  # the wrappers; F gathers them
    "add", "sub", "mul", "div", "neg", "power", "matmul", "maximum", "abs_",
]


def _operands(a, b):
    """Both operands as tensors.  A Python scalar takes the other operand's float dtype and
    an integer operand takes the float operand's dtype, so nothing drifts to float64."""
    if isinstance(a, Tensor):
        b = as_tensor(b, like=a)
    else:
        b = as_tensor(b)
        a = as_tensor(a, like=b)
    if a.dtype.kind in "biu" and b.dtype.kind == "f":
        a = Tensor(a.data.astype(b.dtype))
    elif b.dtype.kind in "biu" and a.dtype.kind == "f":
        b = Tensor(b.data.astype(a.dtype))
    return a, b


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy


def add(a, b):
    return Add()(*_operands(a, b))


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        return gy, -gy


def sub(a, b):
    return Sub()(*_operands(a, b))


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, gy):
        need_a, need_b = self.needs_input_grad
        return (gy * self.b if need_a else None), (gy * self.a if need_b else None)


def mul(a, b):
    return Mul()(*_operands(a, b))


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, gy):
        ga = gy / self.b
        need_a, need_b = self.needs_input_grad
        return (ga if need_a else None), (-ga * self.a / self.b if need_b else None)


def div(a, b):
    return Div()(*_operands(a, b))


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


def neg(x):
    return Neg()(x)


class PowScalar(Function):
    """x ** c for a constant exponent c."""

    def __init__(self, exponent):
        self.exponent = exponent

    def forward(self, x):
        self.x = x
        return x ** x.dtype.type(self.exponent)

    def backward(self, gy):
        c = self.x.dtype.type(self.exponent)
        return gy * c * self.x ** (c - 1)


class Pow(Function):
    """a ** b for tensors: d/da = b a^(b-1), d/db = a^b log a."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = a ** b
        return self.y

    def backward(self, gy):
        xp = get_array_module(gy)
        need_a, need_b = self.needs_input_grad
        ga = gy * self.b * self.a ** (self.b - 1) if need_a else None
        gb = gy * self.y * xp.log(self.a) if need_b else None
        return ga, gb


def power(a, b):
    """a ** b; a constant Python exponent uses the cheaper scalar rule."""
    if isinstance(a, Tensor) and isinstance(b, (int, float)):
        return PowScalar(b)(a)
    return Pow()(*_operands(a, b))


class MatMul(Function):
    """a @ b with NumPy's rules for 1-D operands and broadcast batch dimensions."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, gy):
        a, b = self.a, self.b
        xp = get_array_module(gy)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        gy2 = gy
        if a.ndim == 1:
            gy2 = xp.expand_dims(gy2, -2)
        if b.ndim == 1:
            gy2 = xp.expand_dims(gy2, -1)
        need_a, need_b = self.needs_input_grad
        ga = gb = None
        if need_a:
            ga = gy2 @ xp.swapaxes(b2, -1, -2)
            ga = ga[..., 0, :] if a.ndim == 1 else ga
        if need_b:
            gb = xp.swapaxes(a2, -1, -2) @ gy2
            gb = gb[..., 0] if b.ndim == 1 else gb
        return ga, gb


def matmul(a, b):
    return MatMul()(*_operands(a, b))


class Maximum(Function):
    """Elementwise max; a tie sends half of the gradient to each side."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return get_array_module(a).maximum(a, b)

    def backward(self, gy):
        a_wins = (self.a > self.b).astype(gy.dtype) + (self.a == self.b).astype(gy.dtype) / 2
        return gy * a_wins, gy * (1 - a_wins)


def maximum(a, b):
    return Maximum()(*_operands(a, b))


class Abs(Function):
    def forward(self, x):
        self.x = x
        return abs(x)

    def backward(self, gy):
        return gy * get_array_module(gy).sign(self.x)


def abs_(x):
    return Abs()(x)
