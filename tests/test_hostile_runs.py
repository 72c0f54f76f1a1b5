"""Runs under hostile conditions (#25): the same sweep twice at once, a resumed sweep's
--set, SIGTERM while starting, a run stopped while its files are written, no writable
kernel cache and a non-editable install (a last MPI batch smaller than the ranks is in
test_distributed.py).  Each case reproduced a reported failure first."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nnpipe.training.rundir import RunLock
from nnpipe.training.sweep import Sweep, parse_grid

from helpers import assert_clean_failure, invoke, write_config

ROOT = Path(__file__).resolve().parent.parent


def test_the_same_sweep_twice_at_once_is_refused_and_destroys_nothing(tmp_path):
    config = write_config(tmp_path, train={"epochs": 1})
    plan = Sweep(config, parse_grid(["optimizer.lr=0.001,0.002"]))
    live = plan.trial_dir(0)  # a trial that the first sweep is training, before its first checkpoint
    (live / "checkpoints").mkdir(parents=True)
    (live / "config.yaml").write_text("seed: 3\n")
    sweep_lock, trial_lock = RunLock(plan.dir), RunLock(live)
    try:
        result = invoke("sweep", config, "--grid", "optimizer.lr=0.001,0.002")
        assert_clean_failure(result, 2, "is being written by another nnpipe process")
        sweep_lock.release()
        assert [index for index, _ in plan.pending()] == [0, 1] and (live / "config.yaml").is_file()  # kept
    finally:
        sweep_lock.release()
        trial_lock.release()


def test_a_resumed_sweep_trial_keeps_the_sweeps_set(tmp_path):
    config = write_config(tmp_path, train={"epochs": 1})
    plan = Sweep(config, parse_grid(["optimizer.lr=0.001,0.002"]), base=["train.epochs=5", "model.dropout=0.0"])
    stopped = plan.trial_dir(1)
    (stopped / "checkpoints").mkdir(parents=True)
    (stopped / "checkpoints/last.npz").write_bytes(b"as if interrupted after an epoch")
    commands = dict(plan.pending())
    assert commands[1][commands[1].index("--resume") + 1] == str(stopped.resolve()) and "--run-dir" not in commands[1]
    # what a resume reads from the config file comes from the same --set; the rest is the run's own
    assert [commands[1][i + 1] for i, arg in enumerate(commands[1]) if arg == "--set"] == ["train.epochs=5"]
    assert "--run-dir" in commands[0] and "model.dropout=0.0" in commands[0]


@pytest.mark.slow
def test_sigterm_while_starting_is_one_line_and_130(tmp_path):
    config = write_config(tmp_path, train={"epochs": 1})
    for delay in (0.8, 2.0):  # while the modules load; while the data loads or the run starts
        job = subprocess.Popen([sys.executable, "-m", "nnpipe", "train", str(config), "--quiet"], cwd=tmp_path,
                               stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        job.send_signal(signal.SIGTERM)
        _, stderr = job.communicate(timeout=60)
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert job.returncode == 130 and len(lines) == 1 and "interrupted" in lines[0], (delay, stderr)
    table = invoke("runs", "--root", tmp_path / "runs")
    assert table.exit_code == 0 and " ? " not in table.output  # nothing half-made shows as "? ? ?/?"


def test_a_run_stopped_while_its_files_are_written_leaves_nothing(tmp_path, monkeypatch):
    from nnpipe.runs import prepare
    from nnpipe.training import rundir

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt  # SIGTERM arriving while env.json is written

    monkeypatch.setattr("nnpipe.training.records.environment", stopped)
    with pytest.raises(KeyboardInterrupt):
        prepare(write_config(tmp_path))
    assert not list((tmp_path / "runs").rglob("*.*")) and not list((tmp_path / "runs").glob("*/*"))
    assert rundir.find_runs(tmp_path / "runs") == []


def test_no_writable_kernel_cache_compiles_without_one(monkeypatch, capsys):
    from numba.core import caching

    from nnpipe import kernels

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])  # read-only package, HOME unwritable
    monkeypatch.setattr(kernels, "_told_uncached", False)

    @kernels.jit
    def plus_one(x):
        return x + 1

    @kernels.jit(parallel=True)
    def twice(x):
        return x * 2

    assert plus_one(np.ones(2)).tolist() == [2, 2] and twice(np.ones(2)).tolist() == [2, 2]
    warnings = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: Numba cannot cache the kernels here")


@pytest.mark.slow
def test_a_wheel_installed_elsewhere_trains_the_shipped_config(tmp_path):
    """``pip install .`` (a wheel, not editable) carries data/ and configs/: from another
    folder, ``nnpipe config copy`` then ``nnpipe train configs/mlp.yaml`` work."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "runs", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("nnpipe-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(tmp_path / "site"),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}

    def nnpipe(*args):
        return subprocess.run([sys.executable, "-m", "nnpipe", *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300)

    where = subprocess.run([sys.executable, "-c", "import nnpipe; print(nnpipe.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True)
    assert where.stdout.startswith(str(tmp_path / "site")), where.stdout  # the wheel, not the checkout
    missing = nnpipe("train", "configs/mlp.yaml")
    assert missing.returncode == 2 and "nnpipe config copy mlp" in missing.stderr
    assert nnpipe("config", "copy", "mlp").returncode == 0 and (work / "configs/mlp.yaml").is_file()
    assert nnpipe("data", "verify").returncode == 0
    trained = nnpipe("train", "configs/mlp.yaml", "--quiet", "--set", "train.epochs=1", "--set", "model.hidden=[16]")
    assert trained.returncode == 0, trained.stderr
    assert "test accuracy" in trained.stdout
