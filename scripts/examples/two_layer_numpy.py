"""Worked example 4: the classic two-layer network trained by hand in NumPy beside the
same network on nnpipe's autograd, from the same seed.

N=64 inputs of D_in=1000, a sigmoid hidden layer of H=100, D_out=10 outputs, summed
squared error, plain gradient descent with lr 1e-4 for 2,000 steps.  The two loss curves
agree to float64 round-off; the plot shows both.
"""
from pathlib import Path

import numpy as np

import nnpipe.autograd.functions as F
from nnpipe.autograd import Tensor, no_grad

N, D_IN, H, D_OUT, LR, STEPS = 64, 1000, 100, 10, 1e-4, 2000
HERE = Path(__file__).resolve().parent


def problem(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, D_IN)), rng.standard_normal((N, D_OUT)),
            rng.standard_normal((D_IN, H)), rng.standard_normal((H, D_OUT)))


def by_hand(steps=STEPS, seed=0):
    x, y, w1, w2 = problem(seed)
    losses = []
    for _ in range(steps):
        h = 1 / (1 + np.exp(-(x @ w1)))
        y_pred = h @ w2
        losses.append(float(((y_pred - y) ** 2).sum()))
        grad_y_pred = 2 * (y_pred - y)
        grad_w2 = h.T @ grad_y_pred
        grad_h = grad_y_pred @ w2.T
        grad_w1 = x.T @ (grad_h * h * (1 - h))
        w1 -= LR * grad_w1
        w2 -= LR * grad_w2
    return losses


def with_autograd(steps=STEPS, seed=0):
    x, y, w1, w2 = problem(seed)
    w1, w2 = Tensor(w1, requires_grad=True), Tensor(w2, requires_grad=True)
    losses = []
    for _ in range(steps):
        loss = ((F.sigmoid(x @ w1) @ w2 - y) ** 2).sum()
        losses.append(loss.item())
        w1.grad = w2.grad = None
        loss.backward()
        with no_grad():
            w1.data -= LR * w1.grad
            w2.data -= LR * w2.grad
    return losses


def main():
    numpy_losses, autograd_losses = by_hand(), with_autograd()
    gap = max(abs(a - b) / abs(a) for a, b in zip(numpy_losses, autograd_losses))
    for step in (0, 1, 10, 100, 1000, STEPS - 1):
        print(f"step {step:>5}: NumPy {numpy_losses[step]:14.6f}   nnpipe {autograd_losses[step]:14.6f}")
    print(f"largest relative difference over {STEPS} steps: {gap:.2e}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(6, 3.5))
        axis.semilogy(numpy_losses, label="NumPy by hand", linewidth=3, alpha=0.5)
        axis.semilogy(autograd_losses, "--", label="nnpipe autograd")
        axis.set_xlabel("step")
        axis.set_ylabel("summed squared error")
        axis.legend()
        figure.tight_layout()
        figure.savefig(HERE / "images" / "two_layer_numpy.png", dpi=110)
        print("plot: scripts/examples/images/two_layer_numpy.png")
    except ImportError:
        print('plot skipped: pip install -e ".[plot]"')
    return numpy_losses, autograd_losses


if __name__ == "__main__":
    main()
