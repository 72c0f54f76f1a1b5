"""Small configs and helpers shared by the tests (fixtures are in conftest.py)."""
import gzip
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import yaml
from typer.testing import CliRunner

from nnpipe.cli import app

TIMING = ("time_s", "samples_per_s", "words_per_s")
MOBY = "corpus/melville-moby-dick.txt.gz"  # the shipped corpus the word-vector tests train on
runner = CliRunner()


def invoke(*args):
    """``nnpipe *args`` in this process; the result has exit_code, output and stderr."""
    return runner.invoke(app, [str(a) for a in args], prog_name="nnpipe")


def assert_clean_failure(result, code, fragment):
    """The error contract: exit ``code``, one stderr line starting with ``error:`` that holds
    ``fragment``, no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output + result.stderr


def train(config, *args):
    """``nnpipe train config *args --quiet``, which must succeed."""
    result = invoke("train", config, "--quiet", *args)
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return result


def write_config(folder: Path, **sections):
    """A fast MNIST MLP config (one small hidden layer) with ``sections`` merged in."""
    config = {
        "seed": 3,
        "model": {"name": "mlp", "hidden": [16], "dropout": 0.1},
        "data": {"name": "mnist", "batch_size": 256, "val_split": 2000},
        "optimizer": {"name": "adam", "lr": 0.002},
        "schedule": {"name": "cosine"},
        "train": {"epochs": 2, "log_every": 20},
        "device": "auto",  # the fake GPU under NNPIPE_FAKE_GPU=1
        "run": {"root": str(folder / "runs")},
    }
    for key, value in sections.items():
        if isinstance(value, dict):
            config.setdefault(key, {}).update(value)
        else:
            config[key] = value
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def skipgram_config(folder: Path, **train):
    """A small skip-gram run on Moby-Dick (24 dimensions, 3 negatives, one epoch)."""
    config = {
        "seed": 1, "model": {"name": "skipgram", "dim": 24},
        "data": {"name": "text", "corpus": [MOBY], "batch_size": 1000, "min_count": 5, "negatives": 3},
        "loss": {"name": "sgns"}, "optimizer": {"name": "sgd", "lr": 0.025},
        "schedule": {"name": "linear", "min_lr": 0.0001},
        "train": {"epochs": 1, "log_every": 50, "early_stopping": {"metric": "val_ws353"}, **train},
        "device": "auto", "run": {"root": str(folder / "runs")},
    }
    path = folder / "sg.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def idx_bytes(array, type_code=0x08):
    header = struct.pack(">HBB", 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(">u1" if type_code == 0x08 else ">i4").tobytes()


def write_idx_set(folder: Path, n_train=6, n_test=4, size=5, gz=True):
    """A tiny MNIST-shaped IDX set (3 classes) named like the shipped files, in ``folder``."""
    from nnpipe.data.mnist import MNIST_FILES

    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, size, size)), "train_labels": rng.integers(0, 3, n_train),
        "test_images": rng.integers(0, 256, (n_test, size, size)), "test_labels": rng.integers(0, 3, n_test),
    }
    for role, array in arrays.items():
        raw = idx_bytes(array)
        (folder / MNIST_FILES[role]).write_bytes(gzip.compress(raw) if gz else raw)
    return arrays


def only_run(root: Path) -> Path:
    runs = [p.parent for p in root.glob("*/*/config.yaml")]
    assert len(runs) == 1, runs
    return runs[0]


def checkpoint_arrays(path):
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files if k != "__manifest__"}


def metric_rows(run: Path):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in TIMING and not k.endswith("_per_s")} for row in rows]


def snapshot(folder: Path):
    """Bytes of every file under ``folder``: to prove a failed command changed nothing."""
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_resume_is_bit_exact(config, folder: Path, step: int):
    """Train ``config`` into folder/a, resume a copy (folder/b) from its ``step-N``
    checkpoint, and check both end with the same arrays and metrics (timings aside)."""
    train(config, "--run-dir", str(folder / "a"))
    shutil.copytree(folder / "a", folder / "b")
    (folder / "b/checkpoints/last.npz").unlink()
    train(config, "--resume", str(folder / f"b/checkpoints/step-{step}.npz"))
    assert_same_arrays(folder / "a", folder / "b")
    assert metric_rows(folder / "a") == metric_rows(folder / "b")


def assert_same_arrays(run: Path, other: Path):
    """The two runs' last checkpoints hold the same arrays, bit for bit."""
    mine, theirs = (checkpoint_arrays(r / "checkpoints/last.npz") for r in (run, other))
    assert mine.keys() == theirs.keys()
    for key in mine:
        assert np.array_equal(mine[key], theirs[key]), (other, key)


def word_batch(seed, vocab=37, windows=23, k=4, shared=True):
    """Windows with 0 to 5 pairs each (some without any), as the text task makes them."""
    rng = np.random.default_rng(seed)
    pairs_per_window = rng.integers(0, 6, windows) if shared else np.ones(windows, np.int64)
    pair_window = np.repeat(np.arange(windows), pairs_per_window)
    return (rng.integers(0, vocab, windows), rng.integers(0, vocab, len(pair_window)), pair_window,
            rng.integers(0, vocab, (windows, k)))


def cifar_batch(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    pixels = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
    return np.concatenate([labels[:, None], pixels], axis=1).tobytes(), labels, pixels


def write_cifar(folder, per_batch=3):
    """The five CIFAR-10 training batches and the test batch, ``per_batch`` random images each."""
    from nnpipe.data import cifar

    expected = {}
    for i, name in enumerate(cifar.TRAIN_FILES + [cifar.TEST_FILE]):
        raw, labels, pixels = cifar_batch(per_batch, i)
        (folder / name).write_bytes(raw)
        expected[name] = (labels, pixels)
    return expected
