"""Bad input gets one ``error:`` line, exit 2 and no change to the workspace; runs are
never clobbered or written by two processes.  Each case reproduces a reported failure."""
import json
import math
import os
import shutil
import time

import pytest

from nnpipe.config import load_config, load_yaml
from nnpipe.training import Trainer
from nnpipe.training.rundir import RunError, RunLock, write_json

from helpers import invoke, only_run, snapshot, write_config, write_idx_set

CASES = [  # (name, arguments after the config, words expected in the error line)
    ("existing --run-dir", lambda run: ["--run-dir", run, "--set", "model.hidden=[8]"],
     "already holds files; continue that run with --resume"),
    ("run.name with a path", lambda run: ["--set", "run.name=../../../x"], "run.name: must be a plain folder name"),
    ("absolute run.name", lambda run: ["--set", "run.name=/tmp/x"], "run.name: must be a plain folder name"),
    ("a value that is no number", lambda run: ["--set", "optimizer.lr=1e-3e"], "optimizer.lr: expected a number"),
    ("embed -k 0", None, "-k must be at least 1"),
    ("embed --nearest ''", None, "--nearest needs a word"),
    ("embed --export onto a folder", None, "is a folder; give a file name"),
]


@pytest.mark.parametrize("name,arguments,words", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_one_line_and_changes_nothing(workspace, name, arguments, words):
    ws, config, run = workspace
    before = snapshot(ws)
    if arguments is None:
        command = {"embed -k 0": ["embed", run, "-k", "0", "--nearest", "the"],
                   "embed --nearest ''": ["embed", run, "--nearest", ""],
                   "embed --export onto a folder": ["embed", run, "--export", ws]}[name]
    else:
        command = ["train", config, "--quiet", *arguments(run)]
    result = invoke(*command)
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert snapshot(ws) == before


@pytest.mark.parametrize("written,text,value", [
    ("lr: 0.002", "1e-3", 0.001), ("lr: 0.002", "5E-4", 0.0005), ("lr: 0.002", "1e+2", 100.0),
    ("lr: 0.002", "3e-4", 0.0003),
    # YAML 1.2's integers, where YAML 1.1 read 010 as octal 8 (#25)
    ("epochs: 2", "010", 10), ("epochs: 2", "0x10", 16), ("epochs: 2", "0o10", 8), ("epochs: 2", "+3", 3),
])
def test_numbers_are_yaml_1_2_numbers_in_files_overrides_and_grids(tmp_path, written, text, value):
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace(written, f"{written.split(':')[0]}: {text}"))
    key = "optimizer.lr" if written.startswith("lr") else "train.epochs"
    section, name = key.split(".")
    assert getattr(load_config(path)[section], name) == value
    assert getattr(load_config(write_config(tmp_path), [f"{key}={text}"])[section], name) == value
    from nnpipe.training.sweep import parse_grid

    assert parse_grid([f"{key}={text},{text}"]) == {key: [value, value]}


def test_duplicate_yaml_keys_name_the_line(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("seed: 1\nmodel: {name: mlp}\nseed: 2\n")
    result = invoke("train", path)
    assert result.exit_code == 2 and "dup.yaml:3:1: malformed YAML: duplicate key 'seed'" in result.stderr


def test_a_second_writer_of_a_run_is_refused(tmp_path):
    lock = RunLock(tmp_path)
    try:
        with pytest.raises(RunError, match="being written by another nnpipe process"):
            RunLock(tmp_path)
    finally:
        lock.release()
    RunLock(tmp_path).release()  # free again once the first is done
    assert (tmp_path / ".lock").read_text().split()[0].isdigit()  # the pid of the writer


def test_epoch_time_covers_the_whole_epoch_with_step_checkpoints(tmp_path):
    config = load_config(write_config(tmp_path, train={"epochs": 1, "checkpoint_every": 20}))
    trainer = Trainer(config, quiet=True)
    trainer.start_run()
    started = time.perf_counter()
    trainer.fit()
    elapsed = time.perf_counter() - started
    row = json.loads((trainer.run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["kind"] == "epoch" and len(list(trainer.run_dir.glob("checkpoints/step-*.npz"))) == 3
    # the epoch is most of fit(); before the fix the timer restarted at every step
    # checkpoint, so it reported the last 7 of 227 steps
    assert row["time_s"] > 0.4 * elapsed


def test_summary_files_are_strict_json(tmp_path):
    write_json(tmp_path / "s.json", {"best": {"value": float("nan")}, "loss": [1.0, math.inf]})
    text = (tmp_path / "s.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"best": {"value": None}, "loss": [1.0, None]}


@pytest.mark.parametrize("arguments,words", [
    (["--random", "-1"], "--random must be at least 1"),
    (["--backend", "slurm"], "unknown --backend 'slurm'"),
    (["--parallel", "0"], "--parallel must be at least 1"),
])
def test_sweep_arguments_are_checked_before_anything_is_made(tmp_path, arguments, words):
    config = write_config(tmp_path)
    result = invoke("sweep", config, "--grid", "optimizer.lr=1e-3,1e-2", *arguments)
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and words in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("damage", [lambda raw: b"", lambda raw: raw[: len(raw) // 2], lambda raw: b"not a zip"])
def test_a_damaged_decode_cache_is_named_and_rebuilt(tmp_path, fresh_cache, damage, capsys):
    from nnpipe.data.images import load_image_data

    write_idx_set(tmp_path, n_train=12)  # a tiny MNIST: what is cached does not matter here
    first = load_image_data("mnist", root=tmp_path, val_split=2)
    cache = next(fresh_cache.glob("idx-*.npz"))
    cache.write_bytes(damage(cache.read_bytes()))
    again = load_image_data("mnist", root=tmp_path, val_split=2)
    assert (again.train_y == first.train_y).all() and cache.is_file()
    assert "unreadable" in capsys.readouterr().err
    assert load_image_data("mnist", root=tmp_path, val_split=2).train_x.shape == first.train_x.shape  # rebuilt


def test_an_unwritable_cache_falls_back_to_memory(tmp_path, monkeypatch, capsys):
    from nnpipe.data.images import load_image_data

    (tmp_path / "data").mkdir()
    write_idx_set(tmp_path / "data", n_train=12)
    (tmp_path / "a-file").write_text("the cache would have to be a folder inside this file")
    monkeypatch.setenv("NNPIPE_CACHE", str(tmp_path / "a-file" / "cache"))
    data = load_image_data("mnist", root=tmp_path / "data", val_split=2)
    assert len(data.train_y) == 10 and "decoding in memory only" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "data"]


def test_labels_out_of_range_name_the_file_and_index(tmp_path):
    import gzip

    from nnpipe.data import DataError
    from nnpipe.data.files import REPO_DATA
    from nnpipe.data.mnist import MNIST_FILES, load_idx_dataset

    for name in MNIST_FILES.values():
        shutil.copy(REPO_DATA / name, tmp_path / name)
    labels = tmp_path / MNIST_FILES["test_labels"]
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[8 + 17] = 200  # header of 8 bytes, then one byte per label
    labels.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: label 200 at index 17 is out of range"):
        load_idx_dataset(tmp_path)


def test_yaml_alias_bombs_and_huge_values_give_a_short_error(tmp_path):
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for previous, name in zip("abcdefgh", "bcdefghi"):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(levels) + "\n")
    assert len(bomb.read_bytes()) < 800
    result = invoke("train", bomb)
    assert result.exit_code == 2 and "aliases expand to more than 100,000 values" in result.stderr
    config = write_config(tmp_path)
    result = invoke("train", config, "--set", "model.hidden=[" + ", ".join(["'wide'"] * 5000) + "]")
    assert result.exit_code == 2 and len(result.stderr) < 300 and "model.hidden" in result.stderr


@pytest.mark.parametrize("override,words", [
    ("model.hidden=[0]", "model.hidden: must be >= 1"),
    ("data.std=[0]", "data.std: must be > 0"),
    ("optimizer.betas=[0.9, 1.0]", "optimizer.betas: must be in [0, 1)"),
    ("schedule.warmup=-1", "schedule.warmup: must be >= 0"),
])
def test_numeric_ranges_are_checked_entry_by_entry(tmp_path, override, words):
    result = invoke("train", write_config(tmp_path), "--set", override)
    assert result.exit_code == 2 and words in result.stderr and not (tmp_path / "runs").exists()


def test_plot_writes_into_the_run_directory_by_default(workspace):
    ws, _, run = workspace
    result = invoke("plot", run, "--metric", "loss")
    assert result.exit_code == 0 and (run / "curves.png").is_file() and not (ws / "curves.png").exists()


def test_a_dead_run_shows_as_stale_and_latest_skips_it(workspace, monkeypatch):
    ws, config, run = workspace
    dead = run.parent / "29991231-235959-dead"  # newer than the real run, killed before any checkpoint
    dead.mkdir()
    (dead / "config.yaml").write_text((run / "config.yaml").read_text())
    (dead / "summary.json").write_text(json.dumps({"status": "running", "model": "mlp"}))
    table = invoke("runs", "--root", ws / "runs")
    assert table.exit_code == 0
    assert [line.split()[2] for line in table.output.splitlines() if "dead" in line] == ["stale"]
    monkeypatch.chdir(ws)
    assert invoke("eval").exit_code == 0 and (run / "eval.json").is_file() and not (dead / "eval.json").exists()
    lock = RunLock(dead)  # while a process writes it, it is running, not stale
    try:
        line = [line for line in invoke("runs", "--root", ws / "runs").output.splitlines() if "dead" in line][0]
        assert line.split()[2] == "running"
    finally:
        lock.release()


@pytest.mark.slow
def test_resume_continues_the_run_as_configured(tmp_path):
    config = write_config(tmp_path, train={"epochs": 1})
    result = invoke("train", config, "--quiet", "--run-dir", tmp_path / "run", "--set", "optimizer.lr=0.003")
    assert result.exit_code == 0
    before = snapshot(tmp_path / "run")
    refused = invoke("train", config, "--quiet", "--resume", tmp_path / "run", "--set", "data.batch_size=1000")
    assert refused.exit_code == 2 and "data.batch_size cannot change" in refused.stderr
    assert snapshot(tmp_path / "run") == before
    resumed = invoke("train", config, "--quiet", "--resume", tmp_path / "run", "--set", "train.epochs=2")
    assert resumed.exit_code == 0, resumed.output
    saved = load_config(tmp_path / "run" / "config.yaml")
    assert saved.optimizer.lr == 0.003 and saved.train.epochs == 2  # its own lr kept, only epochs changed
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["epochs_completed"] == 2
    assert load_yaml((tmp_path / "run" / "overrides.yaml").read_text()) == {"set": ["optimizer.lr=0.003"],
                                                                            "resumed_with": [["train.epochs=2"]]}


@pytest.mark.parametrize("expression,words", [
    ("9**9**9**9", "has no finite value"),
    ("sqrt(x,x,x)", "sqrt() takes 1 argument, got 3"),
    ("1/x", "has no finite value at {'x': 0.0}"),
    ("+".join(["x"] * 1500), "nested too deeply"),
    ("x*" * 300 + "x", None),  # longer than a file name may be, and fine
])
def test_graph_expressions_fail_as_input_errors(tmp_path, expression, words):
    result = invoke("graph", expression, "--var", "x=0", "--out", tmp_path / "g.dot")
    if words is None:
        assert result.exit_code == 0 and (tmp_path / "g.dot").is_file()
        return
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and words in result.stderr
    assert len(result.stderr) < 300 and "Warning" not in result.stderr and not (tmp_path / "g.dot").exists()


@pytest.fixture
def starting(monkeypatch):
    """nnpipe's signal handling as the command line sets it up, undone afterwards; yields a
    function that sends this process a SIGTERM."""
    import os
    import signal

    from nnpipe import interrupts

    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(interrupts, "_state", {"deferring": False, "noted": False, "raised": False})
    try:
        yield lambda: os.kill(os.getpid(), signal.SIGTERM)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def test_a_signal_while_starting_is_noted_and_raised_when_the_command_runs(starting, tmp_path):
    """No KeyboardInterrupt inside a library's import (it can be swallowed there, or leave
    CPython exiting by SIGINT): the command's wrapper raises it, one line and 130."""
    from nnpipe import interrupts

    interrupts.defer()
    starting()  # noted only: nothing is raised here
    result = invoke("runs", "--root", tmp_path)
    assert result.exit_code == 130 and result.output.strip() == "interrupted"


def test_a_signal_before_any_command_runs_is_one_line_and_130(starting, monkeypatch, capsys):
    import sys

    import nnpipe.__main__ as entry
    import nnpipe.settings

    def problem_free():
        starting()  # while the modules load
        return None

    monkeypatch.setattr(nnpipe.settings, "environment_problem", problem_free)
    monkeypatch.setattr(sys, "argv", ["nnpipe", "--help"])
    with pytest.raises(SystemExit) as stopped:
        entry.main()
    assert stopped.value.code == 130 and capsys.readouterr().err.strip() == "interrupted while starting"


def test_random_sweeps_draw_from_huge_grids_without_building_them():
    from nnpipe.training.sweep import trials

    grid = {f"key{i}": list(range(30)) for i in range(5)}  # 24.3 million combinations
    drawn = trials(grid, random=4, seed=1)
    assert len(drawn) == 4 and drawn == trials(grid, random=4, seed=1)
    assert all(set(trial) == set(grid) for trial in drawn)
    small = {"a": [1, 2], "b": ["x", "y", "z"]}
    assert trials(small) == [{"a": a, "b": b} for a in (1, 2) for b in ("x", "y", "z")]


def test_sweep_set_applies_to_every_trial(tmp_path):
    from nnpipe.training.sweep import Sweep, parse_grid

    plan = Sweep(write_config(tmp_path), parse_grid(["optimizer.lr=1e-3,1e-2"]), base=["train.epochs=3"])
    assert plan.config.train.epochs == 3
    commands = [command for _, command in plan.pending()]
    assert all(command.count("--set") == 2 and "train.epochs=3" in command for command in commands)
    with pytest.raises(Exception, match="train.epoch: unknown key"):
        Sweep(write_config(tmp_path), parse_grid(["optimizer.lr=1e-3"]), base=["train.epoch=3"])


def run_beside_a_precious_file(tmp_path):
    """(an empty run folder, a file outside it for links planted in the run to point at)."""
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    return run, outside


def test_run_files_never_write_through_a_planted_link(tmp_path):
    from nnpipe.loggers.jsonl import JsonlLogger
    from nnpipe.training.rundir import write_text

    run, outside = run_beside_a_precious_file(tmp_path)
    (run / "config.yaml").symlink_to(outside)
    write_text(run / "config.yaml", "seed: 1\n")  # the link is replaced, not followed
    assert outside.read_text() == "precious" and not (run / "config.yaml").is_symlink()
    (run / "metrics.jsonl").symlink_to(outside)
    with pytest.raises(OSError):
        JsonlLogger(run).log({"kind": "step", "step": 1, "loss": 1.0})
    assert outside.read_text() == "precious"


def test_run_files_never_write_through_a_link_planted_at_their_temp_names(tmp_path):
    """A link at the temp name a run file is written under (summary, metrics.csv and
    metrics.jsonl rewritten on a resume) is replaced by a fresh file, never followed."""
    from nnpipe.loggers.csv_table import CsvLogger
    from nnpipe.loggers.jsonl import JsonlLogger
    from nnpipe.training.rundir import write_text

    run, outside = run_beside_a_precious_file(tmp_path)
    JsonlLogger(run).log({"kind": "epoch", "epoch": 1, "step": 3, "loss": 1.0})
    csv_logger = CsvLogger(run)
    csv_logger.log({"kind": "epoch", "epoch": 1, "step": 3, "loss": 1.0})
    for name in ("summary.json", "metrics.csv", "metrics.jsonl"):
        (run / f".{name}.tmp").symlink_to(outside)
    write_text(run / "summary.json", "{}\n")
    csv_logger.rewind(step=3, epochs_done=1)
    JsonlLogger(run).rewind(step=3, epochs_done=1)
    assert outside.read_text() == "precious"
    assert (run / "summary.json").read_text() == "{}\n" and "loss" in (run / "metrics.csv").read_text()
    assert '"loss": 1.0' in (run / "metrics.jsonl").read_text()
    assert not any(path.is_symlink() for path in run.iterdir() if path.name != ".lock")


def test_run_files_are_on_disk_before_they_replace_the_old_ones(tmp_path, monkeypatch):
    """temp file written and fsynced, renamed over the old one, the folder fsynced: a power
    cut leaves the old file or the new one, never an empty one."""
    import stat

    from nnpipe.training.rundir import write_text

    events, fsync, replace = [], os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append(("fsync", stat.S_ISDIR(os.fstat(fd).st_mode)))
                        or fsync(fd))
    monkeypatch.setattr(os, "replace", lambda *paths: events.append(("replace",)) or replace(*paths))
    write_text(tmp_path / "summary.json", "{}\n")
    assert events == [("fsync", False), ("replace",), ("fsync", True)]


def test_a_run_that_diverges_before_any_checkpoint_says_so(tmp_path):
    config = write_config(tmp_path, optimizer={"name": "sgd", "lr": 1e12}, model={"dropout": 0.0})
    result = invoke("train", config, "--quiet")
    assert result.exit_code == 1 and "diverged" in result.stderr
    assert "no checkpoint had been written yet" in result.stderr and "last good checkpoint" not in result.stderr
    summary = json.loads((only_run(tmp_path / "runs") / "summary.json").read_text())
    assert summary["status"] == "diverged"


def test_error_lines_are_bounded(tmp_path):
    result = invoke("train", tmp_path / ("x" * 200) / ("y" * 200) / "config.yaml")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and len(lines[0]) <= 410


def test_slow_phases_show_a_status_line(capsys):
    from nnpipe.data.files import status

    with status("tokenising 6 corpus file(s)"):
        pass
    with status("evaluating the val word benchmarks", terminal_only=True):
        pass
    shown = capsys.readouterr()
    # a log keeps one line; stderr is for errors
    assert shown.out == "tokenising 6 corpus file(s)\n" and shown.err == ""
