"""Training steps of the shipped CNN (configs/cnn.yaml: conv 3x3 32 → ReLU → pool 2, conv
3x3 64 → ReLU → pool 2, linear 128, dropout, linear 10; Adam) against the same
architecture in PyTorch CPU, on the same MNIST batches of 128; plus peak memory.  The same
network written as ``nn.Sequential`` of plain layers (nnpipe fuses them itself), and with
batch norm after each convolution, against PyTorch's of the same; and the network of
configs/cifar10_cnn.yaml on random 3×32×32 batches of 128 (no download needed), against
PyTorch's layers of the same shapes (``nn.plain_layers`` of the nnpipe model).

Each contender runs in its own process (one library's spinning threads slow the next),
alternating over rounds, at 1 and at 2 threads each (BLAS, torch and Numba alike);
nnpipe runs with its compiled kernels and with NNPIPE_KERNELS=reference."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchlib import compile_seconds, header, kernel_threads, write_section

STEPS, ROUNDS = 10, 3
# (name, the PyTorch row it is compared with)
CONTENDERS = (("PyTorch CPU", None), ("nnpipe (configs/cnn.yaml, fused blocks)", "PyTorch CPU"),
              ("nnpipe nn.Sequential of plain layers", "PyTorch CPU"),
              ("nnpipe reference (NNPIPE_KERNELS=reference)", "PyTorch CPU"),
              ("PyTorch CPU, batch norm after each conv", None),
              ("nnpipe nn.Sequential, batch norm after each conv", "PyTorch CPU, batch norm after each conv"),
              ("PyTorch CPU, the configs/cifar10_cnn.yaml network", None),
              ("nnpipe configs/cifar10_cnn.yaml", "PyTorch CPU, the configs/cifar10_cnn.yaml network"))
CIFAR = "configs/cifar10_cnn.yaml"


THREAD_VARIABLES = ("NNPIPE_BENCH_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")


def plain_layers(nn, config, batch_norm):
    """The configured network as plain layers of ``nn`` (torch.nn or nnpipe.nn)."""
    layers, channels = [], 1
    for out in config.model.channels:
        layers += [nn.Conv2d(channels, out, 3, 1, 1)] + ([nn.BatchNorm2d(out)] if batch_norm else [])
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
        channels = out
    hidden = config.model.hidden[0]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * 49, hidden), nn.ReLU(),
                         nn.Dropout(config.model.dropout), nn.Linear(hidden, 10))


def child(name, threads):
    """Time STEPS training steps 5 times in this process; print JSON (ms/step, peak MB).
    Every thread count comes from the environment the parent set before any import."""
    import numpy as np
    from benchlib import measure_peak, pin_threads

    pin_threads()
    from nnpipe.config import load_config
    from nnpipe.data import BatchLoader, load_image_data
    from nnpipe.models import build_model

    cifar = CIFAR in name
    config = load_config(CIFAR if cifar else "configs/cnn.yaml")
    if cifar:  # random images: the step's cost does not depend on the pixels
        rng = np.random.default_rng(0)
        batches = [(rng.standard_normal((128, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, 128))
                   for _ in range(STEPS)]
    else:
        data = load_image_data("mnist")
        batches = [batch for _, batch in zip(range(STEPS), BatchLoader(data.train_x, data.train_y, 128, seed=0))]
    batch_norm = "batch norm" in name
    if name.startswith("PyTorch"):
        import torch

        torch.set_num_threads(threads)
        if cifar:
            from nnpipe.nn.plain_layers import plain_layers as as_torch

            twin = build_model(config.model, np.random.default_rng(0), (3, 32, 32), 10)
            net = torch.nn.Sequential(*[getattr(torch.nn, layer.kind)(**layer.args) for layer in as_torch(twin)])
        else:
            net = plain_layers(torch.nn, config, batch_norm)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        tensors = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]

        def steps():
            for x, y in tensors:
                loss = torch.nn.functional.cross_entropy(net(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
    else:
        import nnpipe.nn as nn
        import nnpipe.optim as optim
        from nnpipe import kernels
        from nnpipe.autograd import Tensor
        from nnpipe.nn import build_loss

        kernels.set_mode("reference" if "reference" in name else "auto")
        model = (plain_layers(nn, config, batch_norm) if "nn.Sequential" in name
                 else build_model(config.model, np.random.default_rng(0), (3, 32, 32) if cifar else (1, 28, 28), 10))
        opt = optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = build_loss("cross_entropy")

        def steps():
            for x, y in batches:
                loss = loss_fn(model(Tensor(x)), y)
                opt.zero_grad()
                loss.backward()
                opt.step()

    peak = measure_peak(steps)  # the first steps: memory this process had not reached before
    steps()  # warm-up
    times = []
    for _ in range(5):
        start = time.perf_counter()
        steps()
        times.append((time.perf_counter() - start) / STEPS * 1e3)
    print(json.dumps({"ms": statistics.median(times), "peak_mb": peak}))


# one training step of the configs/cnn.yaml network on a small batch: every kernel the step calls
COMPILE_CODE = ("import numpy as np; from nnpipe.config import load_config; from nnpipe.models import build_model;"
                "from nnpipe.nn import build_loss; import nnpipe.optim as optim; from nnpipe.autograd import Tensor;"
                "model = build_model(load_config('configs/cnn.yaml').model, np.random.default_rng(0), (1, 28, 28), 10);"
                "opt = optim.Adam(model.parameters(), lr=1e-3);"
                "build_loss('cross_entropy')(model(Tensor(np.ones((2, 1, 28, 28), np.float32))), np.zeros(2, int))"
                ".backward(); opt.step()")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print the section, leave BENCHMARKS.md")
    args = parser.parse_args()
    started = time.time()
    cold, warm = compile_seconds(COMPILE_CODE)
    results = {(name, threads): [] for threads in (1, 2) for name, _ in CONTENDERS}
    memory = {}
    for _ in range(ROUNDS):
        for (name, threads), samples in results.items():
            env = dict(os.environ, **{variable: str(threads) for variable in THREAD_VARIABLES})
            out = subprocess.run([sys.executable, __file__, "--child", name, str(threads)], capture_output=True,
                                 text=True, check=True, env=env)
            report = json.loads(out.stdout.strip().splitlines()[-1])
            samples.append(report["ms"])
            memory[name] = report["peak_mb"]
    lines = [
        header("1 or 2 for everything in each row (BLAS, torch, Numba), each contender in its own process") +
        f" Kernels: {kernel_threads().split(' ', 1)[1]} in the parent; a row's count in each child. A fresh "
        f"process's first step compiles the step's kernels in {cold:.1f} s (all of it: imports, model, one step), "
        f"or loads them from Numba's cache in {warm:.1f} s.",
        "",
        f"Training steps (forward, loss, backward, Adam) of the configs/cnn.yaml network on MNIST batches of 128, "
        f"median ms per step over {ROUNDS} alternating rounds of 5 × {STEPS} steps [range], each nnpipe row against "
        "the PyTorch row of the same network (the CIFAR rows: random batches of 3×32×32). Targets: the configured CNN "
        "≤ 0.7×, nn.Sequential of plain layers, with batch norm and the CIFAR network ≤ 1.0× (the CIFAR network's "
        "peak memory ≤ PyTorch's), at 1 thread each and at 2 threads each.",
        "",
        "| implementation | 1 thread | ratio | 2 threads | ratio | peak MB (1 thread) |",
        "|---|---|---|---|---|---|",
    ]
    for name, baseline in CONTENDERS:
        cells = []
        for threads in (1, 2):
            samples = results[(name, threads)]
            ms = statistics.median(samples)
            base = statistics.median(results[(baseline or name, threads)])
            cells.append(f"{ms:.1f} ms [{min(samples):.1f}–{max(samples):.1f}] | {ms / base:.2f}×")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {memory[name]:.0f} |")
    lines += ["", "Peak memory: resident memory added by the first steps of a fresh process.",
              "", f"Run took {time.time() - started:.0f} s."]
    write_section("cnn", "CNN training steps (scripts/bench_cnn.py)", lines, print_only=args.no_write)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
