"""One epoch of an MLP 784-256-10 on MNIST (batch 128, float32, SGD lr 0.1): nnpipe
against the same network hand-written in NumPy and against PyTorch CPU, all fed the same
shuffled batches; plus the peak memory of each epoch."""
from __future__ import annotations

import time

import numpy as np
from benchlib import compile_seconds, header, peak_child, pin_threads, ratio_table, time_and_memory, write_section

import nnpipe.autograd.functions as F
import nnpipe.optim as optim
from nnpipe import kernels
from nnpipe.autograd import Tensor
from nnpipe.data import BatchLoader, load_image_data
from nnpipe.models import build_model

BATCH, HIDDEN, LR = 128, 256, 0.1
COMPILE_CODE = ("import numpy as np; from nnpipe.models import build_model; import nnpipe.optim as optim;"
                "import nnpipe.autograd.functions as F; from nnpipe.autograd import Tensor;"
                "model = build_model({'name': 'mlp', 'hidden': [256]}, np.random.default_rng(0), (784,), 10);"
                "opt = optim.SGD(model.parameters(), lr=0.1);"
                "F.cross_entropy(model(Tensor(np.ones((2, 784), np.float32))), np.zeros(2, int)).backward();"
                "opt.step()")


def epoch_runners():
    data = load_image_data("mnist")
    x_all = data.train_x.reshape(len(data.train_x), -1)
    y_all = data.train_y
    order = BatchLoader(x_all, y_all, BATCH, seed=0).order(0)
    batches = [order[i:i + BATCH] for i in range(0, len(order), BATCH)]
    def nnpipe_runner(mode):
        """An epoch of the registry's MLP (as configs/mlp.yaml builds it, Linear → ReLU fused,
        one hidden layer) with the compiled kernels ("auto") or the reference path."""
        model = build_model({"name": "mlp", "hidden": [HIDDEN]}, np.random.default_rng(0), (784,), 10)
        opt = optim.SGD(model.parameters(), lr=LR)

        def epoch():
            kernels.set_mode(mode)
            try:
                for chosen in batches:
                    loss = F.cross_entropy(model(Tensor(x_all[chosen])), y_all[chosen])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            finally:
                kernels.set_mode("auto")

        return model, epoch

    model, nnpipe_epoch = nnpipe_runner("auto")
    _, nnpipe_reference_epoch = nnpipe_runner("reference")
    start = [p.data.copy() for p in model.parameters()]

    W1, b1, W2, b2 = (a.copy() for a in start)
    lr = np.float32(LR)

    def numpy_epoch():
        nonlocal W1, b1, W2, b2
        for chosen in batches:
            x, y = x_all[chosen], y_all[chosen]
            h = x @ W1
            h += b1
            np.maximum(h, 0, out=h)
            z = h @ W2
            z += b2
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(y)), y] -= 1
            p /= np.float32(len(y))
            gW2, gb2 = h.T @ p, p.sum(axis=0)
            gh = p @ W2.T
            gh *= h > 0
            gW1, gb1 = x.T @ gh, gh.sum(axis=0)
            W1 -= lr * gW1
            b1 -= lr * gb1
            W2 -= lr * gW2
            b2 -= lr * gb2

    import torch

    tW1, tb1, tW2, tb2 = (torch.tensor(a, requires_grad=True) for a in start)
    topt = torch.optim.SGD([tW1, tb1, tW2, tb2], lr=LR)
    tx, ty = torch.from_numpy(x_all), torch.from_numpy(y_all)

    def torch_epoch():
        for chosen in batches:
            index = torch.from_numpy(chosen)
            logits = torch.relu(tx[index] @ tW1 + tb1) @ tW2 + tb2
            loss = torch.nn.functional.cross_entropy(logits, ty[index])
            topt.zero_grad()
            loss.backward()
            topt.step()

    return {"hand-written NumPy": numpy_epoch, "PyTorch CPU": torch_epoch, "nnpipe": nnpipe_epoch,
            "nnpipe reference": nnpipe_reference_epoch}


def main():
    threads = pin_threads()
    started = time.time()
    cold, warm = compile_seconds(COMPILE_CODE)
    times, memory = time_and_memory(__file__, epoch_runners(), repeats=11)
    lines = [
        header(threads) + f" Kernels: the dense SGD update (serial); a fresh process's first step compiles it in "
        f"{cold:.1f} s (all of it: imports, model, one step), or loads it from Numba's cache in {warm:.1f} s.",
        "",
        "One epoch (430 steps: forward, loss, backward, SGD update) of MLP 784-256-10 on the 55,000 MNIST "
        "training images, batch 128, float32, the same shuffled batches for all. "
        "Targets: ≤ 1.10× hand-written NumPy and faster than PyTorch CPU.",
        "",
        *ratio_table(times, "hand-written NumPy"),
        "",
        "| ratio | value |", "|---|---|",
        f"| nnpipe / hand-written NumPy | {_ratio(times, 'nnpipe', 'hand-written NumPy'):.2f}× |",
        f"| nnpipe / PyTorch CPU | {_ratio(times, 'nnpipe', 'PyTorch CPU'):.2f}× |",
        "",
        "Peak resident memory added by one epoch (fresh process each, data already loaded): "
        + ", ".join(f"{name} {mb:.0f} MB" for name, mb in memory.items())
        + " (nnpipe's first epoch also loads Numba and its cached optimizer kernels, once per process).",
        "",
        f"11 interleaved repeats after a warm-up; spread = (max - min) / median; "
        f"run took {time.time() - started:.0f} s.",
    ]
    write_section("mlp", "MLP epoch (scripts/bench_mlp.py)", lines)


def _ratio(times, a, b):
    import statistics

    return statistics.median(times[a]) / statistics.median(times[b])


if __name__ == "__main__" and not peak_child(epoch_runners):
    main()
