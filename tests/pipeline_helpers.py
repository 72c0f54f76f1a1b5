"""Small configs and helpers shared by the pipeline tests."""
import json
import shutil
from pathlib import Path

import numpy as np
import yaml

TIMING = ("time_s", "samples_per_s", "words_per_s")


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


def assert_resume_is_bit_exact(train, config, folder: Path, step: int):
    """Train ``config`` into folder/a, resume a copy (folder/b) from its ``step-N``
    checkpoint, and check both end with the same arrays and metrics (timings aside).
    ``train(config, *args)`` runs ``nnpipe train``."""
    train(config, "--run-dir", str(folder / "a"))
    shutil.copytree(folder / "a", folder / "b")
    (folder / "b/checkpoints/last.npz").unlink()
    train(config, "--resume", str(folder / f"b/checkpoints/step-{step}.npz"))
    straight, resumed = (checkpoint_arrays(folder / f"{r}/checkpoints/last.npz") for r in "ab")
    for key in straight:
        assert np.array_equal(straight[key], resumed[key]), key
    assert metric_rows(folder / "a") == metric_rows(folder / "b")
