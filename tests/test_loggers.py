"""Loggers: metrics.jsonl and metrics.csv as before, TensorBoard's event files read back
with TensorBoard's own reader (also after a resume), the projector files of a word-vector
run, and the config errors of loggers that cannot be used."""
import shutil

import pytest
import yaml

from nnpipe.config import ConfigError, from_dict
from nnpipe.loggers import LOGGERS, Logger

from helpers import assert_clean_failure, invoke, metric_rows, only_run, skipgram_config, snapshot, train, write_config

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

WITH_TENSORBOARD = "train.loggers=[jsonl, csv, tensorboard]"


def scalars(run):
    """{tag: [(step, value)]} as TensorBoard reads the run's events."""
    events = event_accumulator.EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(event.step, event.value) for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_tensorboard_reads_the_scalars_of_every_logged_step_and_epoch(tmp_path):
    train(write_config(tmp_path), "--set", WITH_TENSORBOARD)
    run = only_run(tmp_path / "runs")
    rows = metric_rows(run)
    read = scalars(run)
    steps = [row for row in rows if row["kind"] == "step"]
    epochs = [row for row in rows if row["kind"] == "epoch"]
    assert [step for step, _ in read["train/loss"]] == [row["step"] for row in steps]
    assert [value for _, value in read["train/loss"]] == pytest.approx([row["loss"] for row in steps], rel=1e-6)
    assert [step for step, _ in read["train/samples_per_s"]] == [row["step"] for row in steps]
    for key in ("val_accuracy", "train_loss", "lr", "epoch", "time_s", "samples_per_s"):
        assert [step for step, _ in read[f"epoch/{key}"]] == [row["step"] for row in epochs], key
    assert [value for _, value in read["epoch/val_accuracy"]] == pytest.approx([r["val_accuracy"] for r in epochs])
    assert (run / "metrics.csv").is_file()


@pytest.mark.slow
def test_a_resumed_run_shows_the_curves_of_an_unbroken_one(tmp_path):
    config = write_config(tmp_path, train={"epochs": 2, "log_every": 20, "checkpoint_every": 100, "keep_last": 5})
    train(config, "--set", WITH_TENSORBOARD, "--run-dir", tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    (tmp_path / "b/checkpoints/last.npz").unlink()
    train(config, "--resume", tmp_path / "b/checkpoints/step-300.npz")
    assert len(list((tmp_path / "b/tensorboard").glob("events.out.tfevents.*"))) == 2
    straight, resumed = scalars(tmp_path / "a"), scalars(tmp_path / "b")
    timing = ("time_s", "_per_s")
    assert sorted(straight) == sorted(resumed)
    for tag in straight:
        assert [step for step, _ in straight[tag]] == [step for step, _ in resumed[tag]], tag
        if not tag.endswith(timing):
            assert straight[tag] == resumed[tag], tag
    assert (tmp_path / "a/metrics.csv").read_text().count("\n") == (tmp_path / "b/metrics.csv").read_text().count("\n")


@pytest.mark.slow
def test_a_word_vector_run_fills_tensorboards_projector(tmp_path):
    from google.protobuf import text_format
    from tensorboard.plugins.projector import projector_config_pb2

    train(skipgram_config(tmp_path), "--set", WITH_TENSORBOARD)
    run = only_run(tmp_path / "runs")
    config = text_format.Parse((run / "tensorboard/projector_config.pbtxt").read_text(),
                               projector_config_pb2.ProjectorConfig())
    embedding = config.embeddings[0]
    vectors = (run / "tensorboard" / embedding.tensor_path).read_text().splitlines()
    words = (run / "tensorboard" / embedding.metadata_path).read_text().splitlines()
    vocabulary = [line.split("\t")[0] for line in (run / "vocab.tsv").read_text().splitlines()]
    assert len(vectors) == len(words) == min(len(vocabulary), 10_000)
    assert words[:50] == vocabulary[:50] and len(vectors[0].split("\t")) == 24
    assert "epoch/val_ws353" in scalars(run) and "train/words_per_s" in scalars(run)


@pytest.mark.parametrize("loggers, message", [
    (["jsonl", "tensorbord"], "unknown logger 'tensorbord' (did you mean 'tensorboard'?)"),
    (["csv"], "must include jsonl"),
    (["jsonl", "jsonl"], "named twice"),
    (["jsonl", 3], "must be logger names"),
])
def test_loggers_that_cannot_be_used_are_config_errors(tmp_path, loggers, message):
    config = write_config(tmp_path, train={"loggers": loggers})
    assert_clean_failure(invoke("train", config), 2, message)
    assert not (tmp_path / "runs").exists()


@pytest.fixture
def uninstalled_logger():
    """A logger ``toy`` whose package is not installed, registered for one test."""
    @LOGGERS.register("toy")
    class Missing(Logger):
        requires = ("nnpipe_no_such_module", "toy")

    yield "toy"
    LOGGERS.unregister("toy")


def test_a_logger_whose_package_is_missing_names_the_extra(uninstalled_logger):
    with pytest.raises(ConfigError, match=r'no_such_module, which is not installed: pip install -e "\.\[toy\]"'):
        from_dict({"train": {"loggers": ["jsonl", uninstalled_logger]}})
    from_dict({"train": {"loggers": ["jsonl", uninstalled_logger]}}, drop_unknown=True)  # a finished run's config


def test_resuming_a_run_whose_logger_this_install_lacks_is_a_config_error(workspace, uninstalled_logger):
    _, config, run = workspace
    saved = yaml.safe_load((run / "config.yaml").read_text())
    saved["train"]["loggers"] = ["jsonl", uninstalled_logger]
    (run / "config.yaml").write_text(yaml.safe_dump(saved))
    before = snapshot(run)
    result = invoke("train", config, "--resume", run, "--set", "train.epochs=2")
    assert_clean_failure(result, 2, "nnpipe_no_such_module, which is not installed")
    assert snapshot(run) == before
