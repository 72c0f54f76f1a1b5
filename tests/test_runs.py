"""The Python API: ``nnpipe.train`` trains as ``nnpipe train`` does, ``nnpipe.load_run``
opens a finished run (config, metrics, model, predictions, word vectors), and resuming
from Python follows the same policy as ``--resume``."""
import shutil

import numpy as np
import pytest

import nnpipe
from nnpipe.config import ConfigError, load_config
from nnpipe.data import files
from nnpipe.data.mnist import load_idx_dataset
from nnpipe.training import Trainer
from nnpipe.training.rundir import RunError

from helpers import MOBY, metric_rows, only_run, skipgram_config, write_config


@pytest.fixture(scope="module")
def api_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    return nnpipe.train(write_config(folder, train={"epochs": 1}), overrides=["optimizer.lr=0.003"]), folder


def test_train_returns_the_finished_run(api_run):
    run, folder = api_run
    assert run.path == only_run(folder / "runs") and run.summary["status"] == "completed"
    assert run.config.optimizer.lr == 0.003 and run.config.train.epochs == 1
    epochs = [row for row in run.metrics if row["kind"] == "epoch"]
    assert len(epochs) == 1 and epochs[0]["val_accuracy"] == run.summary["best"]["value"]
    assert (run.path / "overrides.yaml").read_text().count("optimizer.lr=0.003") == 1


def test_load_run_gives_the_trained_model_and_its_metrics(api_run):
    run, folder = api_run
    latest = nnpipe.load_run(root=folder / "runs")  # the newest run under the root
    assert latest.path == run.path and latest.metrics == run.metrics
    assert latest.evaluate("test")["accuracy"] == pytest.approx(run.summary["test"]["accuracy"], abs=1e-12)
    _, (test_x, test_y) = load_idx_dataset(files.data_root())  # raw pixels, as a user has them
    probabilities = latest.predict(test_x[:200].astype(np.float32))
    assert probabilities.shape == (200, 10) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert (probabilities.argmax(axis=1) == test_y[:200]).mean() > 0.85


def test_a_run_refuses_what_it_is_not(api_run, tmp_path):
    run, _ = api_run
    with pytest.raises(RunError, match="is not a word-vector run"):
        run.vectors
    with pytest.raises(RunError, match="is not a run directory"):
        nnpipe.load_run(tmp_path)


@pytest.mark.slow
def test_word_vector_runs_give_their_vectors(tmp_path):
    run = nnpipe.train(skipgram_config(tmp_path))
    vectors = nnpipe.load_run(run.path).vectors
    assert vectors.kind == "input" and len(vectors.words) == len(run.vocabulary)
    assert [word for word, _ in vectors.nearest("whale", 3)] and "whale" not in dict(vectors.nearest("whale", 3))
    with pytest.raises(RunError, match="predict works on image classifiers"):
        run.predict(np.zeros((1, 1, 28, 28)))
    assert MOBY in run.config.data.corpus


@pytest.mark.slow
def test_resuming_from_python_keeps_the_runs_config(api_run, tmp_path):
    run, _ = api_run
    copy = shutil.copytree(run.path, tmp_path / "run")
    other = load_config(copy / "config.yaml", ["optimizer.lr=0.1"])
    with pytest.raises(ConfigError, match=r"cannot resume .* optimizer.lr is 0.1, the run was trained with 0.003"):
        Trainer(other, run_dir=copy, quiet=True).resume(copy / "checkpoints/last.npz")
    longer = nnpipe.train(copy / "config.yaml", overrides=["train.epochs=2"], resume=copy)
    assert longer.path == copy and longer.summary["epochs_completed"] == 2
    assert [row["epoch"] for row in metric_rows(copy) if row["kind"] == "epoch"] == [1, 2]
    with pytest.raises(ConfigError, match="model.hidden cannot change"):
        nnpipe.train(copy / "config.yaml", overrides=["model.hidden=[8]"], resume=copy)
