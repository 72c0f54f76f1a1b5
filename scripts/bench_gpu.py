"""On a GPU: one training epoch of the shipped MLP and CNN (configs/mlp.yaml, configs/cnn.yaml
without augmentation) through nnpipe's trainer against the same networks in PyTorch CUDA
(data on the device, the same batch size and optimizer), and skip-gram words/s on the GPU
(configs/skipgram.yaml's model on text8).

    python scripts/bench_gpu.py            # on a machine with CuPy and a CUDA GPU
    NNPIPE_FAKE_GPU=1 python scripts/bench_gpu.py --check   # a few steps of each, no timings kept

Each figure is the median of 3 epochs (skip-gram: 3 runs of 200 steps) after a warm-up,
each ended by a device synchronisation.
"""
from __future__ import annotations

import statistics
import sys
import time

from nnpipe import backend
from nnpipe.config import load_config
from nnpipe.training import Trainer

CHECK = "--check" in sys.argv
REPEATS = 1 if CHECK else 3


def synchronize():
    cupy = backend.cupy_module()
    cupy.cuda.Device().synchronize()


def nnpipe_epoch(config_path, overrides, steps=None):
    """Seconds per epoch (or per ``steps`` steps) and the samples (words) per epoch."""
    trainer = Trainer(load_config(config_path, ["device=cuda", *overrides]), quiet=True)
    trainer.model.train()

    def run():
        batches = trainer.task.batches()
        seen = 0
        for index, (batch, count) in enumerate(batches):
            if (steps is not None and index == steps) or (CHECK and index == 3):
                break
            trainer.train_step(batch)
            seen += count
        synchronize()
        trainer.task.loader.epoch, trainer.task.loader.batch_index = 0, 0
        return seen

    run()  # warm-up: CuPy compiles its kernels on first use
    times, seen = [], 0
    for _ in range(REPEATS):
        start = time.perf_counter()
        seen = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), seen


def torch_epoch(config_path):
    """The same network, optimizer and batch size in PyTorch CUDA, data on the device."""
    import torch

    from nnpipe.data import load_image_data

    config = load_config(config_path)
    data = load_image_data("mnist")
    x, y = torch.from_numpy(data.train_x).cuda(), torch.from_numpy(data.train_y).cuda()
    m = config.model
    if m.name == "mlp":
        layers, width = [torch.nn.Flatten()], 784
        for size in m.hidden:
            layers += [torch.nn.Linear(width, size), torch.nn.ReLU(), torch.nn.Dropout(m.dropout)]
            width = size
    else:
        layers, channels = [], 1
        for out in m.channels:
            layers += [torch.nn.Conv2d(channels, out, m.kernel_size, m.stride, m.padding), torch.nn.ReLU(),
                       torch.nn.MaxPool2d(m.pool)]
            channels = out
        layers += [torch.nn.Flatten(), torch.nn.Linear(channels * 49, m.hidden[0]), torch.nn.ReLU(),
                   torch.nn.Dropout(m.dropout)]
        width = m.hidden[0]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(width, 10)).cuda()
    opt = torch.optim.Adam(net.parameters(), lr=config.optimizer.lr)
    batch = config.data.batch_size

    def run():
        order = torch.randperm(len(x), device="cuda")
        for step, start in enumerate(range(0, len(x), batch)):
            if CHECK and step == 3:
                break
            chosen = order[start:start + batch]
            loss = torch.nn.functional.cross_entropy(net(x[chosen]), y[chosen])
            opt.zero_grad()
            loss.backward()
            opt.step()
        torch.cuda.synchronize()

    run()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    cupy = backend.cupy_module()
    card = "fake device" if backend.fake_gpu() else cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    rows = []
    for name, path, overrides in (("MLP epoch", "configs/mlp.yaml", []),
                                  ("CNN epoch", "configs/cnn.yaml", ["data.augment=false"])):
        seconds, samples = nnpipe_epoch(path, overrides)
        torch_seconds = None
        try:
            torch_seconds = torch_epoch(path)
        except (ImportError, AssertionError, RuntimeError) as exc:  # no CUDA build of torch here
            if not CHECK:
                raise
            print(f"PyTorch CUDA skipped in --check: {exc}")
        rows.append((name, seconds, samples, torch_seconds))
    seconds, words = nnpipe_epoch("configs/skipgram.yaml", [], steps=200)
    lines = [f"Card: {card}. CuPy {getattr(cupy, '__version__', '-')}.", "",
             "| benchmark | nnpipe | PyTorch CUDA | ratio |", "|---|---|---|---|"]
    for name, seconds_, samples, torch_seconds in rows:
        torch_text = f"{torch_seconds:.2f} s" if torch_seconds else "-"
        ratio = f"{seconds_ / torch_seconds:.2f}×" if torch_seconds else "-"
        lines.append(f"| {name} ({samples:,} images) | {seconds_:.2f} s | {torch_text} | {ratio} |")
    lines.append(f"| skip-gram (200 steps) | {words / seconds:,.0f} words/s | - | - |")
    lines += ["", f"Median of {REPEATS} after a warm-up; CNN without augmentation for both."]
    if CHECK:
        print("\n".join(lines))
        return
    from benchlib import write_section

    write_section("gpu", "GPU (scripts/bench_gpu.py)", lines)


if __name__ == "__main__":
    main()
