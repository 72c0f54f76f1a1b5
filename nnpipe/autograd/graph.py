"""The computational graph behind a tensor, as data and as Graphviz DOT, and a small
safe expression language for drawing the graphs of the course's worked examples."""
from __future__ import annotations

import ast
import math

import numpy as np

from .. import backend
from .core import Tensor


def walk(*outputs):
    """(tensors, functions) reachable from ``outputs`` by following creators, each in
    the order first met; iterative, so deep graphs are fine.  Call before backward (or
    backward with retain_graph=True): backward releases the graph."""
    tensors, functions, seen = [], [], set()
    stack = list(outputs)
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        tensors.append(tensor)
        function = tensor.creator
        if function is not None and function.inputs and id(function) not in seen:
            seen.add(id(function))
            functions.append(function)
            stack.extend(function.inputs)
    return tensors, functions


def _describe(tensor):
    parts = [tensor.name] if tensor.name else []
    parts.append(f"{tuple(tensor.shape)} {tensor.dtype}")
    if tensor.size == 1:
        parts.append(f"value {float(backend.to_numpy(tensor.data).ravel()[0]):.4g}")
        if tensor.grad is not None and not hasattr(tensor.grad, "rows"):
            parts.append(f"grad {float(backend.to_numpy(tensor.grad).ravel()[0]):.4g}")
    return "\\n".join(parts)


def to_dot(*outputs, title="nnpipe"):
    """Graphviz DOT text: ellipses for tensors (name, shape, dtype, and value/grad when
    scalar), boxes for operations, arrows in the direction of the forward pass."""
    tensors, functions = walk(*outputs)
    lines = [f'digraph "{title}" {{', "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for tensor in tensors:
        style = ', style=filled, fillcolor="#dbe9f6"' if tensor.creator is None else ""
        lines.append(f'  t{id(tensor)} [shape=ellipse, label="{_describe(tensor)}"{style}];')
    for function in functions:
        lines.append(f'  f{id(function)} [shape=box, style=rounded, label="{type(function).__name__}"];')
        for tensor in function.inputs:
            lines.append(f"  t{id(tensor)} -> f{id(function)};")
        for ref in function.outputs:
            output = ref()
            if output is not None:
                lines.append(f"  f{id(function)} -> t{id(output)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


class ExpressionError(ValueError):
    """An expression outside the small grammar nnpipe draws."""


def _functions():
    import nnpipe.autograd.functions as F

    return {"exp": F.exp, "log": F.log, "sqrt": F.sqrt, "tanh": F.tanh, "sigmoid": F.sigmoid, "relu": F.relu,
            "max": F.maximum, "abs": F.abs}


_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a**b}


def parse_expression(text, variables):
    """Build the graph of an arithmetic expression such as ``3*sqrt(x)*(log(x) + 1/x**2)``.

    Grammar: numbers, the names in ``variables`` (floats, made float64 leaf tensors),
    + - * / **, unary minus, parentheses and exp log sqrt tanh sigmoid relu max abs.
    Parsed with ``ast`` and walked by hand: no Python code is ever run.  Returns
    (output tensor, {name: leaf tensor}).
    """
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse {text!r}: {exc.msg}") from None
    leaves = {name: Tensor(np.float64(value), requires_grad=True) for name, value in variables.items()}
    for name, leaf in leaves.items():
        leaf.name = name
    functions = _functions()

    def build(node):
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id in leaves:
                return leaves[node.id]
            if node.id in ("pi", "e"):
                return getattr(math, node.id)
            raise ExpressionError(f"unknown name {node.id!r}: give it a value with --var {node.id}=...")
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = build(node.left), build(node.right)
            if not isinstance(left, Tensor) and not isinstance(right, Tensor):
                return _BINARY[type(node.op)](left, right)
            return _BINARY[type(node.op)](left if isinstance(left, Tensor) else Tensor(np.float64(left)), right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = build(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions \
                and not node.keywords:
            args = [build(a) for a in node.args]
            args = [a if isinstance(a, Tensor) else Tensor(np.float64(a)) for a in args]
            return functions[node.func.id](*args)
        raise ExpressionError(f"{ast.dump(node)[:40]}… is outside the expression grammar "
                              "(numbers, variables, + - * / **, exp log sqrt tanh sigmoid relu max abs)")

    output = build(tree)
    if not isinstance(output, Tensor):
        raise ExpressionError(f"{text!r} uses no variable, so it has no graph to draw")
    output.name = output.name or "out"
    return output, leaves
