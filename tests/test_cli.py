"""The command line: bad input gives one line, a non-zero exit, no traceback, and leaves
every existing run and checkpoint as it was; eval, runs, config show, plot, SIGINT."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nnpipe import backend

from helpers import assert_clean_failure, checkpoint_arrays, invoke, snapshot, write_config


# ---- bad input --------------------------------------------------------------------------
def test_missing_config_file(tmp_path):
    assert_clean_failure(invoke("train", tmp_path / "nope.yaml"), 2, "config file not found")


def test_malformed_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: {name: mlp\n")
    assert_clean_failure(invoke("train", path), 2, "malformed YAML")


@pytest.mark.parametrize("override,fragment", [
    ("optimizer.lerning_rate=1", "optimizer.lerning_rate: unknown key"),
    ("data.batch_size=many", "data.batch_size: expected an integer"),
    ("optimizer.lr=-0.1", "optimizer.lr: must be > 0"),
    ("model.name=transformer", "model.name: unknown model 'transformer'; valid: "),
    ("optimizer.name=lamb", "unknown optimizer 'lamb'"),
    ("loss.name=focal", "unknown loss 'focal'"),
    ("model.activation=swish", "model.activation: must be one of relu"),
])
def test_config_problems_are_one_line_and_create_no_run(tmp_path, override, fragment):
    config = write_config(tmp_path)
    assert_clean_failure(invoke("train", config, "--set", override), 2, fragment)
    assert not (tmp_path / "runs").exists()


def test_eval_with_no_runs(tmp_path):
    assert_clean_failure(invoke("eval", "--root", tmp_path / "runs"), 2, "no runs under")


def test_eval_on_a_run_without_checkpoints(workspace):
    ws, _, run = workspace
    shutil.rmtree(run / "checkpoints")
    assert_clean_failure(invoke("eval", run), 2, "has no checkpoints/best.npz")


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(path):
    data = bytearray(path.read_bytes())
    data[100:400] = b"\x00" * 300
    path.write_bytes(bytes(data))


def _pickle_bearing(path):
    manifest = json.dumps({"format_version": 2, "model": {"0.weight": {"__array__": "model/0.weight"}}}).encode()
    np.savez(path.with_suffix(".tmp.npz"), **{"model/0.weight": np.array([{"a": 1}], dtype=object)},
             __manifest__=np.frombuffer(manifest, np.uint8))
    os.replace(path.with_suffix(".tmp.npz"), path)


def _wrong_format(path):
    manifest = json.dumps({"format_version": 99}).encode()
    np.savez(path.with_suffix(".tmp.npz"), __manifest__=np.frombuffer(manifest, np.uint8))
    os.replace(path.with_suffix(".tmp.npz"), path)


@pytest.mark.parametrize("damage,fragment", [
    (_truncate, "corrupt or truncated"), (_garble, "corrupt or truncated"),
    (_pickle_bearing, "pickled objects; refused"), (_wrong_format, "checkpoint format 99"),
])
@pytest.mark.parametrize("command", ["eval", "resume"])
def test_bad_checkpoints_are_refused_and_left_alone(workspace, damage, fragment, command):
    ws, config, run = workspace
    target = run / "checkpoints" / ("best.npz" if command == "eval" else "last.npz")
    damage(target)
    before = snapshot(ws)
    args = ("eval", run) if command == "eval" else ("train", config, "--resume", run)
    assert_clean_failure(invoke(*args), 2, fragment)
    assert snapshot(ws) == before


def test_resume_with_different_model_shapes_is_refused(workspace):
    ws, config, run = workspace
    before = snapshot(ws)
    result = invoke("train", config, "--resume", run, "--set", "model.hidden=[32]")
    assert_clean_failure(result, 2, "model.hidden cannot change (only train.epochs")
    assert snapshot(ws) == before
    # a checkpoint read with another model's config is named as a misfit
    (run / "config.yaml").write_text((run / "config.yaml").read_text().replace("hidden: [16]", "hidden: [32]"))
    result = invoke("eval", run)
    assert_clean_failure(result, 2, "does not fit the configured model: 1.weight: shape (784, 16) in the state, "
                                    "(784, 32) in the model")


def test_missing_and_malformed_dataset_files(tmp_path):
    config = write_config(tmp_path, data={"root": str(tmp_path / "empty")})
    assert_clean_failure(invoke("train", config), 2, "IDX file for train_images not found")
    shutil.copytree(backend_data_root(), tmp_path / "broken", ignore=shutil.ignore_patterns("corpus", "wordeval"))
    labels = tmp_path / "broken/t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-100])
    config = write_config(tmp_path, data={"root": str(tmp_path / "broken")})
    result = invoke("train", config)
    assert result.exit_code == 2 and "t10k-labels-idx1-ubyte.gz" in result.stderr


def backend_data_root():
    from nnpipe.data.files import REPO_DATA

    return REPO_DATA


@pytest.mark.skipif(backend.cuda_available(), reason="checks the message shown without a GPU")
def test_device_cuda_without_cupy_or_gpu(tmp_path):
    config = write_config(tmp_path)
    assert_clean_failure(invoke("train", config, "--device", "cuda"), 2, "cuda")


def test_run_directory_not_writable(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    config = write_config(tmp_path, run={"root": str(tmp_path / "afile" / "runs")})
    assert_clean_failure(invoke("train", config), 2, "cannot create run directory")


def test_debug_shows_the_traceback(tmp_path):
    from nnpipe.config import ConfigError

    result = invoke("train", tmp_path / "nope.yaml", "--debug")
    assert isinstance(result.exception, ConfigError) and "config file not found" in str(result.exception)
    quiet = invoke("train", tmp_path / "nope.yaml")
    assert quiet.exit_code == 2 and not isinstance(quiet.exception, ConfigError)


# ---- working commands ---------------------------------------------------------------------
def test_eval_reports_and_writes_eval_json(workspace):
    ws, _, run = workspace
    result = invoke("eval", run, "--split", "val", "--checkpoint", "last")
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and "class" in result.output
    report = json.loads((run / "eval.json").read_text())
    assert report["split"] == "val" and 0.8 < report["accuracy"] <= 1 and len(report["per_class"]) == 10


def _as_format_1(run):
    """Rewrite a run as nnpipe 0.1 wrote it: checkpoints of flat ``model/…`` and ``optim/i/…``
    arrays with a flat manifest, and a config whose sections held every component's options."""
    import yaml

    for path in (run / "checkpoints").glob("*.npz"):
        with np.load(path) as archive:
            manifest = json.loads(archive["__manifest__"].tobytes())
            arrays = {k: archive[k] for k in archive.files if k.startswith("model/")}
        arrays.update({f"optim/{k.split('/')[2]}/{k.split('/')[3]}": v for k, v in checkpoint_arrays(path).items()
                       if k.startswith("optimizer/state/")})
        old = {"epoch": manifest["epoch"], "step": manifest["step"], "task": manifest["task"], "format_version": 1,
               "optimizer": {"name": "adam", "step_count": manifest["optimizer"]["step_count"], "lr": 0.001}}
        np.savez(path, __manifest__=np.frombuffer(json.dumps(old).encode(), np.uint8), **arrays)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["optimizer"].update({"momentum": 0.9, "nesterov": False, "eps": None, "alpha": 0.99})
    config["loss"].update({"margin": 1.0})
    config["data"].update({"corpus": None, "min_count": 5, "sample": 0.001, "window": 5, "chunk_words": 100000})
    config["schedule"].update({"step_size": 1, "gamma": 0.1, "min_lr": 0.0})
    (run / "config.yaml").write_text(yaml.safe_dump(config))


def test_runs_of_nnpipe_0_1_still_evaluate_and_refuse_to_resume(workspace, tmp_path):
    ws, config, run = workspace
    assert invoke("eval", run).exit_code == 0
    expected = json.loads((run / "eval.json").read_text())["accuracy"]
    _as_format_1(run)
    result = invoke("eval", run)
    assert result.exit_code == 0, result.output
    assert json.loads((run / "eval.json").read_text())["accuracy"] == expected
    np.save(tmp_path / "digit.npy", np.zeros((28, 28), np.uint8))
    assert invoke("predict", run, tmp_path / "digit.npy").exit_code == 0
    assert_clean_failure(invoke("train", config, "--resume", run), 2, "checkpoint format 1 was written by nnpipe 0.1")


def test_eval_defaults_to_latest_run(workspace, monkeypatch):
    ws, _, run = workspace
    monkeypatch.chdir(ws)
    result = invoke("eval")
    assert result.exit_code == 0, result.output
    assert json.loads((run / "eval.json").read_text())["split"] == "test"


def test_runs_table_and_config_show(workspace):
    ws, config, run = workspace
    result = invoke("runs", "--root", ws / "runs")
    assert result.exit_code == 0 and "completed" in result.output and run.name in result.output
    shown = invoke("config", "show", config, "--set", "optimizer.lr=0.5")
    assert shown.exit_code == 0 and "lr: 0.5" in shown.output and "early_stopping:" in shown.output


def test_plot_writes_a_png(workspace):
    pytest.importorskip("matplotlib")
    ws, _, run = workspace
    out = ws / "curves.png"
    result = invoke("plot", run, run, "--metric", "loss,accuracy", "--out", out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000


@pytest.mark.slow
def test_sigint_mid_epoch_leaves_a_loadable_checkpoint_and_exit_130(tmp_path):
    config = write_config(tmp_path, model={"hidden": [256]}, data={"batch_size": 32},
                          train={"epochs": 3, "log_every": 5})
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "nnpipe", "train", str(config), "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    deadline = time.time() + 60
    metrics = None
    while time.time() < deadline:
        found = list((tmp_path / "runs").glob("*/*/metrics.jsonl"))
        if found and found[0].read_text().count("\n") >= 3:
            metrics = found[0]
            break
        time.sleep(0.1)
    assert metrics is not None, "training never logged a step"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    run = metrics.parent
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    from nnpipe.training import load_checkpoint

    arrays, manifest = load_checkpoint(run / "checkpoints/last.npz")
    assert manifest["epoch"] == 0 and 0 < manifest["task"]["batch_index"] < 1719
    assert b"Traceback" not in stderr
    with zipfile.ZipFile(run / "checkpoints/last.npz") as archive:
        assert archive.testzip() is None


# ---- teaching commands --------------------------------------------------------------------
def test_summary_prints_layer_table(tmp_path):
    config = write_config(tmp_path, model={"name": "cnn", "channels": [4, 8], "hidden": [16], "dropout": 0.0})
    result = invoke("summary", config)
    assert result.exit_code == 0, result.output
    # each conv → ReLU → pool block is one fused layer with the pooled output shape
    assert "Conv2dReLUPool  (4, 14, 14)" in result.output and "Conv2dReLUPool  (8, 7, 7)" in result.output
    assert "total parameters 6,794" in result.output  # 40 + 296 + (392·16 + 16) + 170


def test_graph_of_config_and_expression(tmp_path):
    config = write_config(tmp_path)
    out = tmp_path / "model.dot"
    result = invoke("graph", config, "--out", out)
    assert result.exit_code == 0, result.output
    dot = out.read_text()
    assert "Linear" in dot and "CrossEntropy" in dot and "(2, 10) float32" in dot
    out = tmp_path / "expr.dot"
    result = invoke("graph", "3*sqrt(x)*(log(x) + 1/x**2)", "--var", "x=1.2", "--out", out)
    assert result.exit_code == 0 and "value 2.881" in out.read_text() and "grad 0.1355" in out.read_text()
    assert_clean_failure(invoke("graph", "__import__('os')", "--var", "x=1"), 2, "outside the expression grammar")
    assert_clean_failure(invoke("graph", "2*y", "--var", "x=1"), 2, "unknown name 'y'")


def test_graph_output_is_the_same_every_time(tmp_path):
    config = write_config(tmp_path)
    texts = []
    for target, extra in ((config, []), ("3*sqrt(x)*(log(x) + 1/x**2)", ["--var", "x=1.2"])):
        for attempt in range(2):
            out = tmp_path / f"g{len(texts)}.dot"
            assert invoke("graph", target, *extra, "--out", out).exit_code == 0
            texts.append(out.read_text())
    assert texts[0] == texts[1] and texts[2] == texts[3]
    assert "t0 [shape=ellipse" in texts[2] and "f0 [shape=box" in texts[2]


def test_data_verify_names_a_damaged_file(tmp_path):
    from nnpipe.data.files import REPO_DATA

    assert invoke("data", "verify").exit_code == 0
    copy = tmp_path / "data"
    shutil.copytree(REPO_DATA, copy)
    (copy / "wordeval/wordsim353.tsv").write_text("tiger\tcat\t7.35\n")
    result = invoke("data", "verify", "--root", copy)
    assert result.exit_code == 2 and "DAMAGED  wordeval/wordsim353.tsv" in result.output
    assert "1 of 12 data files" in result.stderr


@pytest.mark.skipif(shutil.which("dot") is not None, reason="checks the message shown without Graphviz")
def test_graph_png_without_graphviz_is_a_clear_error(tmp_path):
    result = invoke("graph", "x*x", "--var", "x=2", "--out", tmp_path / "g.png")
    assert_clean_failure(result, 2, "needs Graphviz's dot")


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot to render")
def test_graph_png_with_graphviz(tmp_path):
    out = tmp_path / "g.png"
    result = invoke("graph", "x*x + 1", "--var", "x=2", "--out", out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_short_help_and_version_flags():
    assert invoke("-h").exit_code == 0 and "Usage: nnpipe [OPTIONS] COMMAND" in invoke("-h").output
    assert "Usage: nnpipe train" in invoke("train", "-h").output
    version = invoke("--version")
    assert version.exit_code == 0 and version.output.strip() == invoke("version").output.strip()


def test_the_run_header_says_what_trains():
    from nnpipe.commands.train import describe
    from nnpipe.config import load_config

    configs = Path(__file__).resolve().parent.parent / "configs"
    svd = describe(load_config(configs / "svd.yaml", ["train.epochs=1"]))
    assert "solved in closed form | 1 epoch |" in svd and "lr=" not in svd and "batch" not in svd
    assert "| 15 epochs |" in describe(load_config(configs / "mlp.yaml"))


def test_a_closed_pipe_ends_quietly(workspace):
    ws, _, run = workspace
    job = subprocess.Popen([sys.executable, "-m", "nnpipe", "runs", "--root", str(ws / "runs")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    job.stdout.close()  # as `| head -0` would: the first write finds no reader
    _, stderr = job.communicate(timeout=60)
    assert b"BrokenPipe" not in stderr and b"Traceback" not in stderr, stderr


def test_runs_sort_filter_json_and_compare(workspace):
    ws, config, first = workspace
    train_ = invoke("train", config, "--quiet", "--set", "model.hidden=[8]", "--set", "optimizer.lr=0.01")
    assert train_.exit_code == 0, train_.output
    second = next(run for run in (ws / "runs/tiny").iterdir() if run != first)
    listed = json.loads(invoke("runs", "--root", ws / "runs", "--json").stdout)
    assert {record["path"] for record in listed} == {str(first), str(second)}
    assert all(isinstance(record["test_accuracy"], float) for record in listed)
    by_accuracy = json.loads(invoke("runs", "--root", ws / "runs", "--json", "--sort", "test_accuracy").stdout)
    accuracies = [record["test_accuracy"] for record in by_accuracy]
    assert accuracies == sorted(accuracies, reverse=True)
    by_loss = json.loads(invoke("runs", "--root", ws / "runs", "--json", "--sort", "test_loss").stdout)
    assert [r["test_loss"] for r in by_loss] == sorted(r["test_loss"] for r in by_loss)  # losses: lowest first
    only = json.loads(invoke("runs", "--root", ws / "runs", "--json", "--filter", "model.hidden=[8]").stdout)
    assert [record["path"] for record in only] == [str(second)]
    assert json.loads(invoke("runs", "--root", ws / "runs", "--json", "--filter", "model=cnn").stdout) == []
    assert_clean_failure(invoke("runs", "--root", ws / "runs", "--sort", "bogus"), 2, "sortable: best")
    compared = invoke("compare", first, second, "--root", ws / "runs")
    assert compared.exit_code == 0, compared.output
    lines = {line.split()[0]: line.split()[1:] for line in compared.stdout.splitlines()[1:]}
    assert lines["model.hidden"] == ["[16]", "[8]"] and lines["optimizer.lr"] == ["0.002", "0.01"]
    assert "seed" not in lines and len(lines["test_accuracy"]) == 2


def test_help_keeps_examples_whole_and_names_values_as_click_does():
    shown = invoke("sweep", "--help").output
    # an example longer than the terminal stays on one line, as written (copy and paste work)
    assert "    nnpipe sweep configs/mlp.yaml --grid model.hidden='[64],[128]' --set train.epochs=3\n" in shown
    assert "--random INTEGER" in shown and "--grid TEXT" in shown and "<int>" not in shown
