"""Hostile input under the error contract (#25): config values that used to pass validation
and break later, YAML's number rules, Click's usage errors, environment variables, and a
fuzz of every config key.  Each case reproduced a reported failure first."""
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from nnpipe.config import load_config
from nnpipe.training.resume import _flat

from helpers import MOBY, assert_clean_failure, invoke, skipgram_config, write_config

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))
WORDS = {"data": {"corpus": [MOBY]}}

VALUES = [  # (config, --set, words in the error line): each used to pass validation
    ("mlp", "optimizer.lr=.inf", "optimizer.lr: must be a finite number, got inf"),
    ("mlp", "optimizer.lr=1e400", "optimizer.lr: must be a finite number, got inf"),
    ("mlp", "optimizer.weight_decay=.inf", "optimizer.weight_decay: must be a finite number"),
    ("mlp", "model.hidden=[.nan]", "model.hidden: must be a finite number"),
    ("mlp", "train.early_stopping.metric=val_bogus",
     "train.early_stopping.metric: task 'mnist' has no epoch metric 'val_bogus'; it reports val_accuracy"),
    ("sg", "train.early_stopping.metric=val_accuracy", "task 'text' has no epoch metric 'val_accuracy'"),
    ("mlp", "seed=-1", "seed: must be >= 0, got -1"),
    ("mlp", "model.name=[mlp]", "model.name: expected a name, got ['mlp']; valid: cbow, cnn"),
    ("sg", "data.corpus=[]", "data.corpus: must be a non-empty list of file names, got []"),
    ("sg", "data.corpus=[1, 2]", "data.corpus: must be a non-empty list of file names, got [1, 2]"),
    ("sg", "data.max_vocab=-1", "data.max_vocab: must be >= 1, got -1"),
    ("sg", "data.max_vocab=0", "data.max_vocab: must be >= 1, got 0"),
    ("svd", "model.dim=100000", "dim 100000 is more than the corpus's 4,238 words; set model.dim to at most 4238"),
]


def _config(tmp_path, which):
    if which == "mlp":
        return write_config(tmp_path)
    if which == "sg":
        return skipgram_config(tmp_path)
    path = tmp_path / "svd.yaml"  # the shipped SVD config on Moby-Dick
    path.write_text((CONFIGS[-1].parent / "svd.yaml").read_text())
    return path


@pytest.mark.parametrize("which,override,words", VALUES, ids=[case[1] for case in VALUES])
def test_values_that_broke_later_are_refused_before_a_run_directory(tmp_path, which, override, words):
    config = _config(tmp_path, which)
    extra = ["--set", f"data.corpus=[{MOBY}]"] if which == "svd" else []
    result = invoke("train", config, "--quiet", "--set", f"run.root={tmp_path / 'runs'}", *extra, "--set", override)
    assert_clean_failure(result, 2, words)
    assert not (tmp_path / "runs").exists()


def test_early_stopping_watches_the_tasks_own_metric_by_default(tmp_path):
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace("train:", "train:\n  early_stopping: {patience: 2}"))
    assert load_config(config).train.early_stopping.metric == "val_accuracy"
    assert load_config(skipgram_config(tmp_path), ["train.early_stopping.metric=null"]).train.early_stopping.metric \
        == "val_ws353"


def test_a_malformed_word_benchmark_is_an_error_before_epoch_1(tmp_path):
    data = tmp_path / "data"
    (data / "wordeval").mkdir(parents=True)
    (data / "corpus").mkdir()
    shipped = Path(__file__).parent.parent / "data"
    (data / MOBY).write_bytes((shipped / MOBY).read_bytes())
    (data / "wordeval/questions-words.txt").write_bytes((shipped / "wordeval/questions-words.txt").read_bytes())
    (data / "wordeval/wordsim353.tsv").write_text("tiger\tcat\n")  # no score
    result = invoke("train", skipgram_config(tmp_path), "--quiet", "--set", f"data.root={data}")
    assert_clean_failure(result, 2, "wordsim353.tsv:1: expected 'word1<TAB>word2<TAB>score'")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("override,words", [
    ("train.epochs=1:30", "train.epochs: expected an integer, got '1:30'"),  # YAML 1.1: 90
    ("train.epochs=1_0", "train.epochs: expected an integer, got '1_0'"),  # YAML 1.1: 10
    ("train.deterministic=yes", "train.deterministic: expected true or false, got 'yes'"),  # YAML 1.1: true
])
def test_yaml_1_1_forms_are_strings(tmp_path, override, words):
    assert_clean_failure(invoke("train", write_config(tmp_path), "--set", override), 2, words)


def test_a_config_named_dots_keeps_its_run_inside_the_root(tmp_path):
    dots = tmp_path / "...yaml"
    dots.write_text(write_config(tmp_path).read_text())
    assert load_config(dots).run.name == "run"
    assert load_config(tmp_path / "tiny.yaml").run.name == "tiny"


@pytest.mark.parametrize("arguments,words", [
    (["train", "--bogus", "x.yaml"], "No such option: --bogus; try 'nnpipe train --help'"),
    (["embed", "-k", "abc"], "Invalid value for '-k'"),
    (["train"], "Missing argument 'CONFIG'; try 'nnpipe train --help'"),
    (["trian"], "No such command 'trian'. Did you mean 'train'?; try 'nnpipe --help'"),
    (["config", "show", "--bogus"], "try 'nnpipe config show --help'"),
])
def test_usage_errors_are_one_error_line(arguments, words):
    assert_clean_failure(invoke(*arguments), 2, words)


def test_help_still_shows_the_help():
    assert invoke("--help").exit_code == 0 and "Usage: " in invoke("--help").output
    assert "Usage: " in invoke().output  # a bare nnpipe: the help, as before


@pytest.mark.parametrize("variable,value,words", [
    ("NUMBA_NUM_THREADS", "0", "NUMBA_NUM_THREADS='0': must be a whole number >= 1 (or unset)"),
    ("NNPIPE_KERNELS", "bogus", "NNPIPE_KERNELS='bogus': must be auto or reference (or unset)"),
])
def test_bad_environment_variables_are_one_line_for_any_command(tmp_path, variable, value, words):
    result = subprocess.run([sys.executable, "-m", "nnpipe", "runs", "--root", str(tmp_path)], capture_output=True,
                            text=True, env={**__import__("os").environ, variable: value}, timeout=60)
    assert result.returncode == 2 and result.stderr.strip() == f"error: {words}", result.stderr


HOSTILE = [".inf", "-1", "0", "[]", "[1, 2]", "'" + "x" * 300 + "'"]


@pytest.mark.parametrize("config", CONFIGS, ids=[path.stem for path in CONFIGS])
def test_fuzz_every_key_of_every_config(config):
    """Every key with hostile values: refused with one ``error:`` line and exit 2, or
    accepted and then still buildable (``nnpipe summary`` builds the model and its data's
    shapes), never a Python exception with exit 1."""
    keys = _flat(dataclasses.asdict(load_config(config)))
    for key in keys:
        for value in HOSTILE:
            for command in ("config show", "summary"):
                result = invoke(*command.split(), config, "--set", f"{key}={value}")
                lines = [line for line in result.stderr.splitlines() if line.strip()]
                assert result.exit_code in (0, 2), (key, value, command, result.stderr[-300:])
                assert result.exit_code == 0 or (len(lines) == 1 and lines[0].startswith("error: ")), (key, value)
                if result.exit_code == 2:
                    break  # refused by validation: nothing more to build
