"""``nnpipe graph``: the computational graph of a model's forward pass and loss, or of an
arithmetic expression in a small safe grammar, as Graphviz DOT (or PNG/SVG via ``dot``)."""
from __future__ import annotations

import ast
import math
from pathlib import Path
from typing import List

import numpy as np
import typer

import nnpipe.autograd.functions as F

from ..autograd import Tensor
from ..autograd.graph import render_dot, to_dot
from ..config import ConfigError, load_config
from ..data.user_files import write_output
from ..nn import build_loss
from ..runs import model_from_config
from .common import DebugOption, SetOption, guarded


class ExpressionError(ValueError):
    """An expression outside the small grammar nnpipe draws."""


def _functions():
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
    shown = text if len(text) <= 60 else text[:59] + "…"
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, RecursionError, MemoryError) as exc:
        reason = exc.msg if isinstance(exc, SyntaxError) else "nested too deeply"
        raise ExpressionError(f"cannot parse {shown!r}: {reason}") from None
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
            wanted = 2 if node.func.id == "max" else 1
            if len(node.args) != wanted:
                raise ExpressionError(f"{node.func.id}() takes {wanted} argument{'s' * (wanted > 1)}, "
                                      f"got {len(node.args)}")
            args = [build(a) for a in node.args]
            args = [a if isinstance(a, Tensor) else Tensor(np.float64(a)) for a in args]
            return functions[node.func.id](*args)
        raise ExpressionError(f"{ast.dump(node)[:40]}… is outside the expression grammar "
                              "(numbers, variables, + - * / **, exp log sqrt tanh sigmoid relu max abs)")

    try:
        with np.errstate(all="raise"):  # a division by zero or an overflow is the input's fault
            output = build(tree)
            if isinstance(output, Tensor):
                output.backward(retain_graph=True)  # the gradients are drawn too
    except RecursionError:
        raise ExpressionError(f"{shown!r} is nested too deeply to draw") from None
    except (OverflowError, ZeroDivisionError, FloatingPointError) as exc:
        raise ExpressionError(f"{shown!r} has no finite value at {variables} ({exc})") from None
    if not isinstance(output, Tensor):
        raise ExpressionError(f"{shown!r} uses no variable, so it has no graph to draw")
    output.name = output.name or "out"
    return output, leaves


def _model_graph(path, overrides):
    config = load_config(path, overrides)
    model, batch, labels = model_from_config(config)
    loss_fn = build_loss(config.loss.name, **config.loss.options())
    loss = loss_fn(model(batch), labels)
    loss.name = f"loss ({config.loss.name})"
    return loss, config.run.name


def _expression_graph(text, assignments):
    variables = {}
    for item in assignments:
        name, _, value = item.partition("=")
        try:
            variables[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--var {item!r}: expected name=number") from None
    try:
        output, _ = parse_expression(text, variables)
    except ExpressionError as exc:
        raise ConfigError(str(exc)) from None
    return output, "expression"


def _is_file(text):
    try:
        return Path(text).is_file()
    except OSError:  # longer than a file name can be: an expression
        return False


@guarded
def graph(
    target: str = typer.Argument(..., help="A YAML config, or an expression such as '3*sqrt(x)*(log(x)+1/x**2)'."),
    var: List[str] = typer.Option([], "--var", help="A variable of the expression: --var x=1.2 (repeatable)."),
    out: Path = typer.Option(Path("graph.dot"), help="graph.dot, or .png/.svg (needs Graphviz's dot)."),
    set_: List[str] = SetOption,
    debug: bool = DebugOption,
):
    """Draw the computational graph of a model's forward pass and loss, or of an expression.

    Examples:

      nnpipe graph configs/mlp.yaml --out mlp.dot

      nnpipe graph '3*sqrt(x)*(log(x) + 1/x**2)' --var x=1.2 --out example.png
    """
    if Path(target).suffix in (".yaml", ".yml") or _is_file(target):
        output, title = _model_graph(Path(target), set_)
    else:
        output, title = _expression_graph(target, var)
    dot = to_dot(output, title=title)
    image = dot.encode() if out.suffix == ".dot" else render_dot(dot, out)
    write_output(out, lambda handle: handle.write(image), "--out")
    typer.echo(f"wrote {out}")
