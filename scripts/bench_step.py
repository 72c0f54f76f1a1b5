"""Per-step speed of the engine: an MLP 784-256-10 training step at batch 128 (float32)
against the same step hand-written in NumPy, and conv2d forward+backward on a
128×1×28×28 batch with 32 3×3 filters against PyTorch CPU."""
from __future__ import annotations

import time

from benchlib import interleaved, machine_facts, pin_threads, ratio_table, write_section

import numpy as np

import nnpipe.autograd.functions as F
import nnpipe.nn as nn
import nnpipe.optim as optim
from nnpipe.autograd import Tensor

BATCH, IN, HIDDEN, OUT, LR = 128, 784, 256, 10, 0.1


def mlp_candidates(steps):
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, IN), dtype=np.float32)
    y = rng.integers(0, OUT, BATCH)

    model = nn.Sequential(nn.Linear(IN, HIDDEN, rng=rng), nn.ReLU(), nn.Linear(HIDDEN, OUT, rng=rng))
    opt = optim.SGD(model.parameters(), lr=LR)

    def nnpipe_steps():
        for _ in range(steps):
            loss = F.cross_entropy(model(Tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    W1, b1 = model[0].weight.data.copy(), model[0].bias.data.copy()
    W2, b2 = model[2].weight.data.copy(), model[2].bias.data.copy()
    lr = np.float32(LR)
    rows = np.arange(BATCH)

    def numpy_steps():
        nonlocal W1, b1, W2, b2
        for _ in range(steps):
            h = x @ W1
            h += b1
            np.maximum(h, 0, out=h)
            z = h @ W2
            z += b2
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            p[rows, y] -= 1
            p /= np.float32(BATCH)
            gW2, gb2 = h.T @ p, p.sum(axis=0)
            gh = p @ W2.T
            gh *= h > 0
            gW1, gb1 = x.T @ gh, gh.sum(axis=0)
            W1 -= lr * gW1
            b1 -= lr * gb1
            W2 -= lr * gW2
            b2 -= lr * gb2

    return {"hand-written NumPy": numpy_steps, "nnpipe": nnpipe_steps}


def conv_candidates(steps):
    import torch

    rng = np.random.default_rng(0)
    x = rng.random((128, 1, 28, 28), dtype=np.float32)
    W = Tensor(rng.standard_normal((32, 1, 3, 3)).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(32, np.float32), requires_grad=True)
    tx = torch.tensor(x)
    tW = torch.tensor(W.data.copy(), requires_grad=True)
    tb = torch.zeros(32, requires_grad=True)

    def nnpipe_steps():
        for _ in range(steps):
            F.conv2d(Tensor(x), W, b, padding=1).sum().backward()
            W.grad = b.grad = None

    def torch_steps():
        for _ in range(steps):
            torch.nn.functional.conv2d(tx, tW, tb, padding=1).sum().backward()
            tW.grad = tb.grad = None

    return {"PyTorch CPU": torch_steps, "nnpipe": nnpipe_steps}


def main():
    threads = pin_threads()
    started = time.time()
    mlp = interleaved(mlp_candidates(steps=20), repeats=15, warmup=2)
    conv = interleaved(conv_candidates(steps=10), repeats=15, warmup=2)
    lines = [
        f"Machine: {machine_facts()}. Threads: {threads}.",
        "",
        "MLP 784-256-10 training step (forward, loss, backward, SGD update), batch 128, float32; "
        "time for 20 steps. Target: ≤ 1.15× hand-written NumPy.",
        "",
        *ratio_table(mlp, "hand-written NumPy"),
        "",
        "conv2d forward + backward, 128×1×28×28 input, 32 filters 3×3, padding 1; time for 10 steps. "
        "Target: ≤ 1.5× PyTorch CPU.",
        "",
        *ratio_table(conv, "PyTorch CPU"),
        "",
        f"15 interleaved repeats after 2 warm-ups; spread = (max - min) / median; run took {time.time() - started:.0f} s.",
    ]
    write_section("step", "Engine step speed (scripts/bench_step.py)", lines)


if __name__ == "__main__":
    main()
