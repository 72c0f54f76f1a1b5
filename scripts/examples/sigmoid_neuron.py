"""Worked example 3: the sigmoid neuron σ(w0·x0 + w1·x1 + w2) at w0=2, x0=-1, w1=-3,
x1=-2, w2=-3, computed once with the single sigmoid op and once from its primitives
1 / (1 + exp(-s)); both give 0.73 and the same gradients."""
import numpy as np

import nnpipe.autograd.functions as F
from nnpipe.autograd import Tensor

VALUES = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}


def neuron(use_primitives):
    leaves = {k: Tensor(np.float64(v), requires_grad=True) for k, v in VALUES.items()}
    s = leaves["w0"] * leaves["x0"] + leaves["w1"] * leaves["x1"] + leaves["w2"]
    out = 1 / (1 + F.exp(-s)) if use_primitives else F.sigmoid(s)
    out.backward()
    return out.item(), {k: float(t.grad) for k, t in leaves.items()}


def main():
    results = {"sigmoid op": neuron(False), "primitives": neuron(True)}
    for name, (value, grads) in results.items():
        shown = ", ".join(f"{k} {g:+.3f}" for k, g in grads.items())
        print(f"{name:<11} output {value:.3f}; gradients {shown}")
    return results


if __name__ == "__main__":
    main()
