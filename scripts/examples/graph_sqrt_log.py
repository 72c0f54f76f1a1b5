"""Worked example 1: the computational graph of y = 3·sqrt(x)·(log x + 1/x²) at x = 1.2.

Prints every node's forward value and its gradient dy/d(node) from the backward pass,
and writes the graph as DOT (and PNG when Graphviz's dot is installed).
"""
from pathlib import Path

import numpy as np

import nnpipe.autograd.functions as F
from nnpipe.autograd import Tensor
from nnpipe.autograd.graph import GraphvizError, render_dot, to_dot

HERE = Path(__file__).resolve().parent


def named(tensor, name):
    tensor.name = name
    return tensor.retain_grad()


def run(x_value=1.2):
    """[(node, forward value, dy/dnode)] in forward order, and the graph as DOT text."""
    x = named(Tensor(np.float64(x_value), requires_grad=True), "x")
    sqrt_x = named(F.sqrt(x), "√x")
    three_sqrt_x = named(3 * sqrt_x, "3√x")
    log_x = named(F.log(x), "log x")
    inverse = named(1 / x, "1/x")
    inverse_squared = named(inverse**2, "(1/x)²")
    bracket = named(log_x + inverse_squared, "log x + (1/x)²")
    y = named(three_sqrt_x * bracket, "y")
    y.backward(retain_graph=True)  # keep the graph to draw it with its gradients
    dot = to_dot(y, title="y = 3 sqrt(x) (log x + 1/x^2)")
    nodes = [x, sqrt_x, three_sqrt_x, log_x, inverse, inverse_squared, bracket, y]
    return [(n.name, n.item(), float(n.grad)) for n in nodes], dot


def main():
    rows, dot = run()
    print(f"{'node':<16}{'forward':>10}{'dy/dnode':>12}")
    for name, value, grad in rows:
        print(f"{name:<16}{value:>10.4f}{grad:>12.4f}")
    (HERE / "images" / "graph_sqrt_log.dot").write_text(dot)
    try:
        render_dot(dot, HERE / "images" / "graph_sqrt_log.png")
        print("graph: scripts/examples/images/graph_sqrt_log.png")
    except GraphvizError as exc:  # Graphviz is optional
        print(f"graph: scripts/examples/images/graph_sqrt_log.dot ({exc})")
    return rows


if __name__ == "__main__":
    main()
