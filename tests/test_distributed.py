"""Data-parallel training over real MPI ranks (mpiexec from the mpich wheel) and
hyperparameter sweeps on local subprocesses and on a local Ray instance."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nnpipe.training import load_checkpoint

from helpers import checkpoint_arrays, invoke, write_config


def mpiexec():
    pytest.importorskip("mpi4py")
    beside_python = Path(sys.executable).parent / "mpiexec"
    found = str(beside_python) if beside_python.exists() else shutil.which("mpiexec")
    assert found, "the mpi extra installs mpich, which provides mpiexec"
    return found


def train_ranks(ranks, config, run_dir, cwd, timeout=240):
    command = [sys.executable, "-m", "nnpipe", "train", str(config), "--distributed", "mpi", "--quiet",
               "--run-dir", str(run_dir)]
    if ranks > 1:
        command = [mpiexec(), "-n", str(ranks)] + command
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def assert_ranks_agree(tmp_path, batch_size):
    """One epoch of the tiny MLP on one rank and on two: the same parameters, both runs
    completed without an error line."""
    config = write_config(tmp_path, model={"dropout": 0.0}, train={"epochs": 1}, data={"batch_size": batch_size})
    for ranks in (1, 2):
        result = train_ranks(ranks, config, tmp_path / f"ranks{ranks}", tmp_path)
        assert result.returncode == 0 and "error" not in result.stderr, result.stderr
        assert json.loads((tmp_path / f"ranks{ranks}/summary.json").read_text())["status"] == "completed"
    one, two = (checkpoint_arrays(tmp_path / f"ranks{r}/checkpoints/last.npz") for r in (1, 2))
    for key in one:
        if key.startswith("model/"):
            np.testing.assert_allclose(two[key], one[key], rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_two_ranks_give_the_one_rank_parameters_and_accuracy(tmp_path):
    assert_ranks_agree(tmp_path, batch_size=250)
    _, manifest = load_checkpoint(tmp_path / "ranks2/checkpoints/last.npz")
    assert manifest["world_size"] == 2
    accuracy = [json.loads((tmp_path / f"ranks{r}/summary.json").read_text())["test"]["accuracy"] for r in (1, 2)]
    assert accuracy[0] > 0.85 and abs(accuracy[0] - accuracy[1]) < 0.005


@pytest.mark.slow
def test_a_last_batch_smaller_than_the_ranks(tmp_path):
    # 58,000 training images in batches of 19,333: the last batch holds one image for two
    # ranks (#25: a rank with nothing to compute failed reshaping an empty batch)
    assert_ranks_agree(tmp_path, batch_size=19333)


@pytest.mark.slow
def test_resuming_with_another_world_size_continues_the_same_training(tmp_path):
    config = write_config(tmp_path, model={"dropout": 0.0}, train={"epochs": 2}, data={"batch_size": 250},
                          schedule={"name": "constant"})
    assert train_ranks(1, config, tmp_path / "straight", tmp_path).returncode == 0
    first = write_config(tmp_path, model={"dropout": 0.0}, train={"epochs": 1}, data={"batch_size": 250},
                         schedule={"name": "constant"})
    assert train_ranks(1, first, tmp_path / "grown", tmp_path).returncode == 0
    config = write_config(tmp_path, model={"dropout": 0.0}, train={"epochs": 2}, data={"batch_size": 250},
                          schedule={"name": "constant"})
    command = [mpiexec(), "-n", "2", sys.executable, "-m", "nnpipe", "train", str(config), "--distributed", "mpi",
               "--quiet", "--resume", str(tmp_path / "grown"), "--set", "train.epochs=2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    straight, grown = (checkpoint_arrays(tmp_path / f"{r}/checkpoints/last.npz") for r in ("straight", "grown"))
    for key in straight:
        if key.startswith("model/"):
            # an epoch of Adam steps on differently-ordered float32 sums drifts by ~1e-6
            np.testing.assert_allclose(grown[key], straight[key], rtol=1e-4, atol=1e-5)
    _, manifest = load_checkpoint(tmp_path / "grown/checkpoints/last.npz")
    assert manifest["world_size"] == 2 and manifest["epoch"] == 2


@pytest.mark.slow
def test_a_killed_rank_ends_the_job_without_corrupting_checkpoints(tmp_path):
    config = write_config(tmp_path, model={"hidden": [256], "dropout": 0.0}, data={"batch_size": 32},
                          train={"epochs": 3, "log_every": 5, "checkpoint_every": 40})
    with open(tmp_path / "job.log", "w") as log:
        job = subprocess.Popen([mpiexec(), "-n", "2", sys.executable, "-m", "nnpipe", "train", str(config),
                                "--distributed", "mpi", "--quiet", "--run-dir", str(tmp_path / "run")],
                               stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        deadline = time.time() + 90
        while time.time() < deadline and not list((tmp_path / "run/checkpoints").glob("step-*.npz")):
            time.sleep(0.2)
        assert list((tmp_path / "run/checkpoints").glob("step-*.npz")), (tmp_path / "job.log").read_text()
        ranks = [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _is_rank(int(pid), str(config))]
        assert len(ranks) == 2
        os.kill(max(ranks), signal.SIGKILL)
        job.wait(timeout=60)
    assert job.returncode != 0
    for checkpoint in (tmp_path / "run/checkpoints").glob("*.npz"):
        load_checkpoint(checkpoint)  # every checkpoint left behind is whole


def _is_rank(pid, config):
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return config.encode() in command and b"--distributed" in command and not any(b"mpiexec" in c for c in command)


@pytest.mark.slow
def test_skipgram_sparse_rows_are_allgathered_not_densified(tmp_path):
    import yaml

    config = tmp_path / "sg.yaml"
    config.write_text(yaml.safe_dump({
        "seed": 1, "model": {"name": "skipgram", "dim": 16},
        "data": {"name": "text", "corpus": ["corpus/melville-moby-dick.txt.gz"], "batch_size": 2000, "negatives": 3},
        "loss": {"name": "sgns"}, "optimizer": {"name": "sgd", "lr": 0.025},
        "schedule": {"name": "linear", "min_lr": 0.0001},
        # ranks sum gradients, so one process must take the same path (not word2vec's fused update)
        "train": {"epochs": 1, "fused_update": False, "early_stopping": {"metric": "val_ws353"}}, "device": "auto"}))
    for ranks in (1, 2):
        result = train_ranks(ranks, config, tmp_path / f"ranks{ranks}", tmp_path)
        assert result.returncode == 0, result.stderr
    one, two = (checkpoint_arrays(tmp_path / f"ranks{r}/checkpoints/last.npz") for r in (1, 2))
    for key in ("model/center.weight", "model/context.weight"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-4, atol=1e-6)


def test_distributed_without_a_known_backend_is_a_clear_error(tmp_path):
    result = invoke("train", str(write_config(tmp_path)), "--distributed", "gloo")
    assert result.exit_code == 2 and "unknown --distributed 'gloo'; valid: mpi" in result.stderr


def sweep(*args):
    return invoke("sweep", *map(str, args))


@pytest.mark.slow
def test_local_sweep_runs_ranks_and_resumes(tmp_path):
    config = write_config(tmp_path, train={"epochs": 1})
    args = (config, "--grid", "optimizer.lr=0.0005,0.005", "--grid", "model.hidden=[8],[16]", "--random", "3",
            "--parallel", "2")
    result = sweep(*args)
    assert result.exit_code == 0, result.output + result.stderr
    folder = next((tmp_path / "runs/tiny").glob("sweep-*"))
    report = json.loads((folder / "sweep.json").read_text())
    values = [row["val_accuracy"] for row in report["trials"]]
    assert len(values) == 3 and values == sorted(values, reverse=True)
    assert all(row["status"] == "completed" for row in report["trials"])
    assert "| trial |" in (folder / "results.md").read_text() and (folder / "results.csv").is_file()
    assert f"best: trial {report['trials'][0]['trial']}" in result.output
    # interrupt one trial (as if the machine had stopped) and drop another: a rerun redoes only those
    first, second = (folder / f"trial-{row['trial']:03d}" for row in report["trials"][:2])
    summary = json.loads((first / "summary.json").read_text())
    (first / "summary.json").write_text(json.dumps(dict(summary, status="interrupted")))
    shutil.rmtree(second)
    untouched = folder / f"trial-{report['trials'][2]['trial']:03d}" / "checkpoints/last.npz"
    stamp = untouched.stat().st_mtime_ns
    result = sweep(*args)
    assert result.exit_code == 0, result.output + result.stderr
    assert json.loads((first / "summary.json").read_text())["status"] == "completed"
    assert (second / "summary.json").is_file() and untouched.stat().st_mtime_ns == stamp


def test_sweep_refuses_bad_grids_before_running(tmp_path):
    config = write_config(tmp_path)
    for grid, message in [("optimizer.lr", "expected key.path=value1,value2"),
                          ("optimizer.lerning_rate=0.1,0.2", "optimizer.lerning_rate: unknown key"),
                          ("optimizer.lr=-1,0.1", "optimizer.lr: must be > 0")]:
        result = sweep(config, "--grid", grid)
        assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_ray_backend_runs_trials_as_ray_tasks(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    config = write_config(tmp_path, train={"epochs": 1})
    result = sweep(config, "--grid", "optimizer.lr=0.0005,0.005", "--backend", "ray")
    assert result.exit_code == 0, result.output + result.stderr
    report = json.loads(next((tmp_path / "runs/tiny").glob("sweep-*/sweep.json")).read_text())
    assert [row["status"] for row in report["trials"]] == ["completed", "completed"]
