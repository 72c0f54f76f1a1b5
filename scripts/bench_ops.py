"""Forward + backward of single ops against PyTorch CPU, to locate the gaps: matmul,
conv2d, the fused conv2d+ReLU+max_pool2d block, max_pool2d, embedding lookup, the skip-gram loss, softmax cross-entropy
(float32); nnpipe with its compiled kernels and with its reference path beside them."""
from __future__ import annotations

import statistics
import time

import numpy as np
from benchlib import compile_seconds, header, interleaved, kernel_threads, pin_threads, write_section

import nnpipe.autograd.functions as F
from nnpipe import kernels
from nnpipe.autograd import Tensor

REPEAT = 10


def cases():
    import torch

    rng = np.random.default_rng(0)

    def pair(shape):
        array = rng.standard_normal(shape).astype(np.float32)
        return Tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)

    a, ta = pair((512, 784))
    b, tb = pair((784, 256))
    x, tx = pair((128, 1, 28, 28))
    w, tw = pair((32, 1, 3, 3))
    x2, tx2 = pair((128, 32, 14, 14))
    w2, tw2 = pair((64, 32, 3, 3))
    b1, tb1 = pair((32,))
    b2, tb2 = pair((64,))
    p, tp = pair((128, 32, 28, 28))
    table, ttable = pair((30000, 100))
    ids = rng.integers(0, 30000, (4096, 6))
    tids = torch.from_numpy(ids)
    w_in, tw_in = pair((30000, 100))
    w_out, tw_out = pair((30000, 100))
    pairs, negatives = 3500, 5  # a 1,000-word step: per-pair negatives
    centers, contexts = rng.integers(0, 30000, pairs), rng.integers(0, 30000, pairs)
    noise = rng.integers(0, 30000, (pairs, negatives))
    tcenters, tcontexts, tnoise = (torch.from_numpy(a) for a in (centers, contexts, noise))

    def torch_sgns():
        v = tF.embedding(tcenters, tw_in, sparse=True)
        u = tF.embedding(tcontexts, tw_out, sparse=True)
        n = tF.embedding(tnoise, tw_out, sparse=True)
        return -(tF.logsigmoid((v * u).sum(1)).sum() + tF.logsigmoid(-(n @ v[:, :, None]).squeeze(-1)).sum())

    z, tz = pair((1024, 10))
    labels = rng.integers(0, 10, 1024)
    tlabels = torch.from_numpy(labels)
    tF = torch.nn.functional
    return {
        "matmul 512×784 @ 784×256": ((a, b), lambda: (a @ b).sum(), lambda: (ta @ tb).sum()),
        "conv2d 128×1×28×28, 32 3×3, pad 1": ((x, w), lambda: F.conv2d(x, w, padding=1).sum(),
                                               lambda: tF.conv2d(tx, tw, padding=1).sum()),
        "conv2d 128×32×14×14, 64 3×3, pad 1": ((x2, w2), lambda: F.conv2d(x2, w2, padding=1).sum(),
                                                lambda: tF.conv2d(tx2, tw2, padding=1).sum()),
        "conv2d+ReLU+max_pool2d 128×1×28×28 → 32 (fused block)": (
            (x, w, b1), lambda: F.conv2d_relu_pool(x, w, b1, padding=1).sum(),
            lambda: tF.max_pool2d(tF.relu(tF.conv2d(tx, tw, tb1, padding=1)), 2).sum()),
        "conv2d+ReLU+max_pool2d 128×32×14×14 → 64 (fused block, Winograd)": (
            (x2, w2, b2), lambda: F.conv2d_relu_pool(x2, w2, b2, padding=1).sum(),
            lambda: tF.max_pool2d(tF.relu(tF.conv2d(tx2, tw2, tb2, padding=1)), 2).sum()),
        "max_pool2d 2×2 on 128×32×28×28": ((p,), lambda: F.max_pool2d(p, 2).sum(), lambda: tF.max_pool2d(tp, 2).sum()),
        "embedding 4096×6 rows of 30000×100": ((table,), lambda: F.embedding(table, ids).sum(),
                                               lambda: tF.embedding(tids, ttable, sparse=True).sum()),
        "skip-gram loss, 3,500 pairs × 5 negatives, 30000×100 tables": (
            (w_in, w_out), lambda: F.skipgram_ns(w_in, w_out, centers, contexts, np.arange(pairs), noise, "sum"),
            torch_sgns),
        "softmax cross-entropy 1024×10": ((z,), lambda: F.cross_entropy(z, labels),
                                          lambda: tF.cross_entropy(tz, tlabels)),
    }


# every compiled op of the table once, forward and backward, on small inputs
COMPILE_CODE = ("import numpy as np; import nnpipe.autograd.functions as F; from nnpipe.autograd import Tensor;"
                "T = lambda *s: Tensor(np.ones(s, np.float32), requires_grad=True);"
                "F.conv2d_relu_pool(T(2, 1, 4, 4), T(3, 1, 3, 3), T(3), padding=1).sum().backward();"
                "F.conv2d_relu_pool(T(2, 4, 4, 4), T(3, 4, 3, 3), T(3), padding=1).sum().backward();"
                "F.max_pool2d(T(2, 2, 4, 4), 2).sum().backward(); W = T(9, 4);"
                "F.skipgram_ns(W, W, np.arange(3), np.arange(4), np.array([0, 0, 1, 2]), "
                "np.ones((3, 2), int)).backward()")


def main():
    threads = pin_threads()
    started = time.time()
    cold, warm = compile_seconds(COMPILE_CODE)
    rows = ["| op (forward + backward) | nnpipe | nnpipe reference | PyTorch CPU | ratio | reference ratio |",
            "|---|---|---|---|---|---|"]
    for name, (inputs, ours, theirs) in cases().items():
        def run_ours(mode):
            kernels.set_mode(mode)
            for _ in range(REPEAT):
                ours().backward()
                for t in inputs:
                    t.grad = None
            kernels.set_mode("auto")

        def run_theirs():
            for _ in range(REPEAT):
                theirs().backward()

        times = interleaved({"nnpipe": lambda: run_ours("auto"), "reference": lambda: run_ours("reference"),
                             "torch": run_theirs}, repeats=7, warmup=1)
        mine, reference, base = (statistics.median(times[k]) / REPEAT for k in ("nnpipe", "reference", "torch"))
        rows.append(f"| {name} | {mine * 1e3:.3f} ms | {reference * 1e3:.3f} ms | {base * 1e3:.3f} ms | "
                    f"{mine / base:.2f}× | {reference / base:.2f}× |")
        print(rows[-1], flush=True)
    lines = [header(threads) + f" Kernels: {kernel_threads()}; a fresh process compiles those of the table in "
             f"{cold:.1f} s (all of it: imports and one call of each op), or loads them from Numba's cache in "
             f"{warm:.1f} s.", "",
             "Median time per forward + backward over 7 interleaved repeats of 10 calls (float32).", "", *rows, "",
             f"Run took {time.time() - started:.0f} s."]
    write_section("ops", "Single ops vs PyTorch (scripts/bench_ops.py)", lines)


if __name__ == "__main__":
    main()
