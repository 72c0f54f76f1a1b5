"""The training loop end to end on real MNIST with a tiny MLP: run directory contents,
bit-exact resume, divergence, early stopping."""
import json
import os
import time

import numpy as np
import pytest

from nnpipe import backend
from nnpipe.config import load_config
from nnpipe.training import Trainer, load_checkpoint, read_state, save_checkpoint
from nnpipe.training.checkpoint import link_checkpoint

from helpers import assert_resume_is_bit_exact, assert_same_arrays, invoke, metric_rows, only_run, train, write_config


def test_run_directory_holds_everything(tmp_path):
    config = write_config(tmp_path)
    train(config, "--set", "optimizer.lr=0.003")
    run = only_run(tmp_path / "runs")
    assert run.parent.name == "tiny" and len(run.name) == len("20261125-101500-a3f9")
    for name in ["config.yaml", "overrides.yaml", "env.json", "metrics.jsonl", "metrics.csv", "summary.json",
                 "checkpoints/last.npz", "checkpoints/best.npz"]:
        assert (run / name).is_file(), name
    resolved = load_config(run / "config.yaml")
    assert resolved.optimizer.lr == 0.003 and resolved.data.mean[0] == pytest.approx(0.1307, abs=1e-3)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_completed"] == 2
    assert summary["test"]["accuracy"] > 0.85
    env = json.loads((run / "env.json").read_text())
    assert env["seed"] == 3 and env["device"] == backend.parse_device("auto") and "numpy" in env
    import csv

    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"] and "val_accuracy" in rows[0]
    _, manifest = load_checkpoint(run / "checkpoints/last.npz")
    assert manifest["epoch"] == 2 and manifest["step"] == 2 * 227


@pytest.mark.slow
def test_same_seed_same_result_and_resume_after_an_epoch_is_bit_exact(tmp_path):
    config = write_config(tmp_path, schedule={"name": "constant"})
    train(config, "--run-dir", tmp_path / "straight")
    train(config, "--run-dir", tmp_path / "again")
    train(config, "--run-dir", tmp_path / "resumed", "--set", "train.epochs=1")
    train(config, "--resume", tmp_path / "resumed", "--set", "train.epochs=2")  # its own 1 unless told
    for other in ("again", "resumed"):
        assert_same_arrays(tmp_path / "straight", tmp_path / other)
    assert metric_rows(tmp_path / "resumed") == metric_rows(tmp_path / "straight")


@pytest.mark.slow
def test_a_run_resumed_on_a_busier_machine_keeps_its_threads_and_its_bits(tmp_path, monkeypatch):
    """The thread count a run chose from the idle cores is part of its state: resumed while
    fewer cores are idle, it still runs on as many (BLAS's products round differently on
    another count), so it continues bit for bit; a count given on the resuming command wins."""
    from nnpipe.kernels import THREAD_VARIABLES, IdleCores

    for variable in THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    idle = {"cores": 2}
    monkeypatch.setattr(IdleCores, "count", lambda self, least_seconds=0.05: idle["cores"])
    config = write_config(tmp_path, schedule={"name": "constant"})
    train(config, "--run-dir", tmp_path / "straight")
    train(config, "--run-dir", tmp_path / "resumed", "--set", "train.epochs=1")
    idle["cores"] = 1  # another process took a core meanwhile
    kept = invoke("train", config, "--resume", tmp_path / "resumed", "--set", "train.epochs=2")
    assert kept.exit_code == 0 and "| 2 threads" in kept.output
    assert_same_arrays(tmp_path / "straight", tmp_path / "resumed")
    told = invoke("train", config, "--resume", tmp_path / "resumed", "--set", "train.epochs=3", "--threads", "1")
    assert told.exit_code == 0 and "| 1 thread" in told.output


@pytest.mark.slow
def test_resume_from_a_mid_epoch_step_checkpoint_is_bit_exact(tmp_path):
    config = write_config(tmp_path, train={"checkpoint_every": 100, "keep_last": 10})
    assert_resume_is_bit_exact(config, tmp_path, 300)
    steps = sorted(p.name for p in (tmp_path / "a/checkpoints").glob("step-*.npz"))
    assert steps == ["step-100.npz", "step-200.npz", "step-300.npz", "step-400.npz"]


def test_resume_latest_continues_the_newest_run_of_that_config(tmp_path):
    config = write_config(tmp_path, train={"epochs": 1})
    train(config)
    run = only_run(tmp_path / "runs")
    result = train(config, "--resume", "latest", "--set", "train.epochs=2")
    assert str(run) in result.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_completed"] == 2


def test_keep_last_limits_step_checkpoints_and_last_is_the_newest_step(tmp_path):
    config = write_config(tmp_path, train={"epochs": 1, "checkpoint_every": 50, "keep_last": 2})
    train(config)
    run = only_run(tmp_path / "runs")
    assert sorted(p.name for p in (run / "checkpoints").glob("step-*.npz")) == ["step-150.npz", "step-200.npz"]
    # the epoch's end replaced last (it was step-200's second name) and left step-200 as it was
    assert load_checkpoint(run / "checkpoints/step-200.npz")[1]["step"] == 200
    assert load_checkpoint(run / "checkpoints/last.npz")[1]["step"] == 227


@pytest.mark.parametrize("hard_links", [True, False])
def test_a_state_saved_under_two_names_is_written_once(tmp_path, monkeypatch, hard_links):
    """best beside last (or last beside a step checkpoint) is the same file, not a second
    write; a later checkpoint under one name leaves the other as it was.  Where the
    filesystem has no hard links, the second name is a copy."""
    if not hard_links:
        def refuse(*_):
            raise PermissionError(1, "Operation not permitted")
        monkeypatch.setattr(os, "link", refuse)
    last, best = tmp_path / "last.npz", tmp_path / "best.npz"
    save_checkpoint(last, {"epoch": 1, "weights": np.arange(3.0)})
    link_checkpoint(last, best)
    assert os.path.samefile(last, best) == hard_links and best.read_bytes() == last.read_bytes()
    save_checkpoint(last, {"epoch": 2, "weights": np.arange(4.0)})
    assert read_state(best)["epoch"] == 1 and read_state(last)["epoch"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz", "last.npz"]  # no temp file left


def test_divergence_stops_keeps_last_good_checkpoint_and_exits_1(tmp_path):
    config = write_config(tmp_path, optimizer={"name": "sgd", "lr": 1e6}, model={"dropout": 0.0},
                          train={"epochs": 3, "checkpoint_every": 1})
    result = invoke("train", str(config), "--quiet")
    assert result.exit_code == 1
    assert "diverged" in result.stderr and "lower optimizer.lr" in result.stderr
    run = only_run(tmp_path / "runs")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "diverged"
    arrays, manifest = load_checkpoint(run / "checkpoints/last.npz")
    assert all(np.isfinite(a).all() for a in arrays.values())


def test_early_stopping_ends_the_run(tmp_path):
    config = write_config(tmp_path, optimizer={"name": "sgd", "lr": 1e-9},
                          train={"epochs": 6, "early_stopping": {"metric": "val_loss", "patience": 1}})
    train(config)
    summary = json.loads((only_run(tmp_path / "runs") / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_completed"] < 6


def test_trainer_stop_request_saves_a_resumable_checkpoint(tmp_path):
    config = load_config(write_config(tmp_path))
    trainer = Trainer(config, run_dir=tmp_path / "run", quiet=True)
    trainer.start_run()
    trainer.callbacks.append(lambda t: setattr(t, "stop_requested", t.step == 57))
    from nnpipe.training import Interrupted

    with pytest.raises(Interrupted):
        trainer.fit()
    _, manifest = load_checkpoint(tmp_path / "run/checkpoints/last.npz")
    assert manifest["step"] == 57 and manifest["task"]["batch_index"] == 57
    assert json.loads((tmp_path / "run/summary.json").read_text())["status"] == "interrupted"


def test_a_resumed_run_keeps_its_own_epochs_and_says_what_changed(tmp_path):
    from nnpipe.runs import prepare
    from nnpipe.training import Interrupted

    config = write_config(tmp_path, train={"epochs": 2})  # the file says 2; the run was started with 3
    trainer = prepare(config, ["train.epochs=3"])
    trainer.callbacks.append(lambda t: setattr(t, "stop_requested", t.step == 5))
    with pytest.raises(Interrupted) as stopped:
        trainer.fit()
    assert str(stopped.value).endswith(f"resume with: nnpipe train {config} --resume {trainer.run_dir}")
    result = train(config, "--resume", trainer.run_dir)
    summary = json.loads((trainer.run_dir / "summary.json").read_text())
    assert summary["epochs_completed"] == 3 and "changed on resume" not in result.output
    result = invoke("train", config, "--resume", trainer.run_dir, "--set", "train.epochs=4")
    assert result.exit_code == 0 and "changed on resume: train.epochs=4" in result.output
    assert json.loads((trainer.run_dir / "summary.json").read_text())["epochs_completed"] == 4


@pytest.mark.parametrize("busy,own,expected", [(10, 0.0, 2), (180, 0.0, 1), (180, 1.7, 2), (100, 0.0, 1)])
def test_idle_cores_are_the_cores_other_processes_leave(monkeypatch, busy, own, expected):
    """Busy ticks of the machine between two reads of /proc/stat, less this process's own
    CPU time: what is left of 2 cores (at least 1)."""
    from nnpipe.kernels import IdleCores

    readings = iter([(0, 0), (busy, 200)])
    monkeypatch.setattr(IdleCores, "_busy_and_total", staticmethod(lambda: next(readings)))
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    clock = iter([0.0, own])
    monkeypatch.setattr("time.process_time", lambda: next(clock))
    monkeypatch.setattr(IdleCores, "TICKS", 100)
    assert IdleCores().count(least_seconds=0) == expected


def test_threads_follow_the_config_then_the_environment_then_the_idle_cores(tmp_path, monkeypatch):
    import numba

    from nnpipe.kernels import THREAD_VARIABLES

    for variable in THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    config = load_config(write_config(tmp_path), ["train.threads=1"])
    assert Trainer(config, quiet=True).threads == 1 and numba.get_num_threads() == 1
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # the user's own setting wins over the measurement
    assert Trainer(load_config(write_config(tmp_path)), quiet=True).threads is None
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    assert 1 <= Trainer(load_config(write_config(tmp_path)), quiet=True).threads <= (os.cpu_count() or 1)


@pytest.mark.parametrize("wait,shown", [(0.0, True), (60.0, False)])
def test_a_slow_first_step_says_it_is_compiling(tmp_path, monkeypatch, capsys, wait, shown):
    monkeypatch.setattr(Trainer, "FIRST_STEP_WAIT", wait)
    trainer = Trainer(load_config(write_config(tmp_path, train={"epochs": 1})), echo=lambda *a: None)
    trainer.start_run()
    original = trainer.train_step
    monkeypatch.setattr(trainer, "train_step", lambda batch: time.sleep(0.05 if wait == 0 else 0) or original(batch))
    trainer.fit()
    lines = [line for line in capsys.readouterr().out.splitlines() if "compiling the kernels" in line]
    assert len(lines) == (1 if shown else 0)  # once: the first step only
