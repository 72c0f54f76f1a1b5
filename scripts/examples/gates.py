"""Worked example 2: gradient patterns of gates, on f = (x + y)·z at x=-2, y=5, z=-4 and
on a max gate m = max(x, y)·z.

An add gate distributes its upstream gradient unchanged, a mul gate switches its inputs
(each input's gradient is upstream × the other input), a max gate routes the whole
upstream gradient to the larger input.
"""
import numpy as np

import nnpipe.autograd.functions as F
from nnpipe.autograd import Tensor


def leaf(value, name):
    tensor = Tensor(np.float64(value), requires_grad=True)
    tensor.name = name
    return tensor


def gate_rows(x_value=-2.0, y_value=5.0, z_value=-4.0):
    """{gate: (upstream, local gradients, downstream gradients)} from real backward passes."""
    x, y, z = leaf(x_value, "x"), leaf(y_value, "y"), leaf(z_value, "z")
    q = (x + y).retain_grad()
    f = q * z
    f.backward()
    rows = {
        "add  q = x + y": (float(q.grad), (1.0, 1.0), (float(x.grad), float(y.grad))),
        "mul  f = q * z": (1.0, (z_value, q.item()), (float(q.grad), float(z.grad))),
    }
    x, y, z = leaf(x_value, "x"), leaf(y_value, "y"), leaf(z_value, "z")
    m = F.maximum(x, y).retain_grad()
    (m * z).backward()
    local = (float(x_value > y_value), float(y_value > x_value))
    rows["max  m = max(x, y)"] = (float(m.grad), local, (float(x.grad) + 0.0, float(y.grad) + 0.0))
    return rows


def main():
    rows = gate_rows()
    print(f"{'gate':<22}{'upstream':>10}  {'local':<16}{'downstream':<16}")
    for gate, (upstream, local, downstream) in rows.items():
        print(f"{gate:<22}{upstream:>10.1f}  {str(local):<16}{str(downstream):<16}")
    return rows


if __name__ == "__main__":
    main()
