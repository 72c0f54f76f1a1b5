"""Training steps of the shipped CNN (configs/cnn.yaml: conv 3x3 32 → ReLU → pool 2, conv
3x3 64 → ReLU → pool 2, linear 128, dropout, linear 10; Adam) against the same
architecture in PyTorch CPU, on the same MNIST batches; plus peak memory."""
from __future__ import annotations

import statistics
import time

from benchlib import header, peak_child, pin_threads, ratio_table, time_and_memory, write_section

import numpy as np

import nnpipe.optim as optim
from nnpipe.autograd import Tensor
from nnpipe.config import load_config
from nnpipe.data import BatchLoader, load_image_data
from nnpipe.models import build_model
from nnpipe.nn import build_loss

STEPS = 40


def step_runners():
    config = load_config("configs/cnn.yaml")
    data = load_image_data("mnist")
    loader = BatchLoader(data.train_x, data.train_y, config.data.batch_size, seed=0)
    batches = [batch for _, batch in zip(range(STEPS), loader)]
    model = build_model(config.model, np.random.default_rng(0), (1, 28, 28), 10)
    opt = optim.Adam(model.parameters(), lr=config.optimizer.lr)
    loss_fn = build_loss("cross_entropy")

    def nnpipe_steps():
        for x, y in batches:
            loss = loss_fn(model(Tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    import torch

    options = config.model
    layers, channels = [], 1
    for out in options["channels"]:
        layers += [torch.nn.Conv2d(channels, out, options["kernel_size"], options["stride"], options["padding"]),
                   torch.nn.ReLU(), torch.nn.MaxPool2d(options["pool"])]
        channels = out
    layers += [torch.nn.Flatten(), torch.nn.Linear(channels * 7 * 7, options["hidden"][0]), torch.nn.ReLU(),
               torch.nn.Dropout(options["dropout"]), torch.nn.Linear(options["hidden"][0], 10)]
    net = torch.nn.Sequential(*layers)
    topt = torch.optim.Adam(net.parameters(), lr=config.optimizer.lr)
    tbatches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]

    def torch_steps():
        for x, y in tbatches:
            loss = torch.nn.functional.cross_entropy(net(x), y)
            topt.zero_grad()
            loss.backward()
            topt.step()

    return {"PyTorch CPU": torch_steps, "nnpipe": nnpipe_steps}


def main():
    threads = pin_threads()
    started = time.time()
    times, memory = time_and_memory(__file__, step_runners(), repeats=5)
    per_step = {name: statistics.median(samples) / STEPS * 1e3 for name, samples in times.items()}
    lines = [
        header(threads),
        "",
        f"{STEPS} training steps (forward, loss, backward, Adam) of the configs/cnn.yaml network on MNIST batches "
        "of 128. Target: ≤ 1.0× PyTorch CPU (1.5× is the floor).",
        "",
        *ratio_table(times, "PyTorch CPU"),
        "",
        "Per step: " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in per_step.items()) + ". "
        "Peak resident memory added by the steps (fresh process each): "
        + ", ".join(f"{name} {mb:.0f} MB" for name, mb in memory.items()) + ".",
        "",
        f"5 interleaved repeats after a warm-up; run took {time.time() - started:.0f} s.",
    ]
    write_section("cnn", "CNN training steps (scripts/bench_cnn.py)", lines)


if __name__ == "__main__" and not peak_child(step_runners):
    main()
