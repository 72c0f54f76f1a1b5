"""Runs as Python objects: train one, open a finished one, and get its config, metrics,
model and word vectors.  What the commands print, a notebook can use::

    import nnpipe
    run = nnpipe.train("configs/mlp.yaml", overrides=["train.epochs=1"])
    run.summary["test"]["accuracy"]
    latest = nnpipe.load_run()          # the newest run under runs/ (or a path, or a checkpoint)
    latest.model, latest.metrics[-1]    # the trained model (best.npz), the last metrics row
"""
from __future__ import annotations

import shlex
from functools import cached_property
from pathlib import Path

import numpy as np

from .autograd import Tensor, no_grad
from .autograd.functions import softmax
from .config import Config, ConfigError, from_dict, load_config, parse_override, read_yaml, uninstalled_loggers
from .data.images import normalise
from .data.token_store import Vocabulary
from .data.wordeval import WordVectors
from .exports import export_run
from .loggers.jsonl import read_metrics
from .models import MODELS
from .tasks import TASKS
from .tasks.images import IMAGE_KINDS
from .training import Trainer, assemble, find_checkpoint, load_model_weights, resolve_run
from .training.assemble import configured_model
from .training.distributed import SingleProcess
from .training.resume import RESUMABLE, resumable_overrides
from .training.rundir import RunError, read_json


class Run:
    """A run directory: ``config``, ``summary``, ``metrics``, its checkpoints, and the
    trained ``model`` (``vectors`` too, for a word-vector run)."""

    def __init__(self, path):
        self.path = Path(path)
        if not (self.path / "config.yaml").is_file():
            raise RunError(f"{self.path} is not a run directory (no config.yaml)")

    def __repr__(self):
        return f"Run({str(self.path)!r})"

    @cached_property
    def config(self) -> Config:
        """The resolved config the run was trained with (older runs' extra keys ignored)."""
        return run_config(self.path)

    @property
    def summary(self) -> dict:
        """summary.json: status, epochs, best metric, test metrics, wall time."""
        return read_json(self.path / "summary.json", {})

    @property
    def metrics(self) -> list:
        """The rows of metrics.jsonl: ``kind`` 'step' every log interval, 'epoch' per epoch."""
        return read_metrics(self.path)

    def checkpoint(self, which="best") -> Path:
        """The path of ``best`` or ``last`` (best falls back to last when there is none)."""
        return find_checkpoint(None, self.path, which)

    def load_model(self, which="best"):
        """The model rebuilt from the config (a word-vector model for the run's own
        vocab.tsv), with the weights of checkpoint ``which``, in evaluation mode."""
        if self.vocabulary is not None:
            model = configured_model(self.config, np.random.default_rng(self.config.seed),
                                     {"vocab_size": len(self.vocabulary)})
        else:
            model, _, _ = model_from_config(self.config)
        load_model_weights(model, self.checkpoint(which))
        model.eval()
        return model

    @cached_property
    def model(self):
        """The trained model (best checkpoint)."""
        return self.load_model("best")

    def evaluate(self, split="test", checkpoint="best", device="cpu") -> dict:
        """The metrics of checkpoint ``checkpoint`` (best, last or a path) on ``split`` (test
        or val), as ``nnpipe eval`` prints them."""
        path = Path(checkpoint) if str(checkpoint).endswith(".npz") else self.checkpoint(checkpoint)
        parts = assemble(self.config, device)
        load_model_weights(parts.model, path)
        return parts.task.evaluate(parts.model, parts.loss_fn, split, SingleProcess())

    @property
    def is_image_classifier(self) -> bool:
        return self.config.data.name in IMAGE_KINDS

    @property
    def image_kind(self):
        """(input shape (C, H, W), class names) of an image classifier's data."""
        if not self.is_image_classifier:
            raise RunError(f"{self.path} is a {self.config.model.name} run; predict works on image classifiers")
        return IMAGE_KINDS[self.config.data.name]

    def predict(self, images, which="best"):
        """Class probabilities (N, classes) of ``images``: pixel values 0..255 shaped (N, C,
        H, W) as the run's data, normalised exactly as in training (the statistics in its
        config); the classes are named in ``image_kind``."""
        self.image_kind  # refuses a run that is no image classifier
        data = self.config.data
        model = self.model if which == "best" else self.load_model(which)
        x = normalise(np.clip(np.rint(images), 0, 255).astype(np.uint8), data.mean, data.std)
        with no_grad():
            return softmax(model(Tensor(x)), axis=1).data

    @cached_property
    def vocabulary(self):
        """A word-vector run's vocabulary (vocab.tsv), or None."""
        path = self.path / "vocab.tsv"
        return Vocabulary.load(path) if path.is_file() else None

    @property
    def is_word_vectors(self) -> bool:
        return self.vocabulary is not None and "word_vectors" in MODELS.get(self.config.model.name).tags

    def word_vectors(self, which="best", vectors=None) -> WordVectors:
        """The run's word vectors: ``vectors`` input, output, sum or concat (None: the
        model's own choice), from checkpoint ``which``."""
        if not self.is_word_vectors:
            raise RunError(f"{self.path} is not a word-vector run (model {self.config.model.name!r}, no vocab.tsv)")
        model = self.load_model(which)
        return WordVectors(self.vocabulary.words, model.vectors(vectors), vectors or model.default_vectors)

    @cached_property
    def vectors(self) -> WordVectors:
        """The word vectors of the best checkpoint (``nearest``, ``analogy``, ``evaluate_*``)."""
        return self.word_vectors()

    def export(self, to="safetensors", path=None, checkpoint="best", vectors=None, binary=False) -> list:
        """Write the model as ``to``: safetensors (PyTorch names, a JSON of the
        architecture beside it), onnx (image classifiers) or word2vec (word vectors); see
        :mod:`nnpipe.exports`.  Returns the paths written."""
        return export_run(self, to, path, checkpoint, vectors, binary)


def load_run(target=None, root="runs") -> Run:
    """A finished (or interrupted) run: a run directory, a checkpoint in one, 'latest' or
    None (the newest run under ``root`` that has a checkpoint)."""
    return Run(resolve_run(None if target is None else str(target), root))


def train(config, overrides=(), run_dir=None, resume=None, device=None, quiet=True, echo=print,
          comm=None) -> Run:
    """Train as ``nnpipe train`` does and return the run (its ``summary`` holds the test
    metrics).  ``config`` is a YAML path; ``overrides`` are ``key.path=value`` strings;
    ``resume`` continues a run (its directory, a checkpoint or 'latest') as it was
    configured, where only how long it goes on and how often it writes may change."""
    trainer = prepare(config, overrides, run_dir, resume, device, quiet, echo, comm)
    trainer.fit()
    return Run(trainer.run_dir)


def prepare(config, overrides=(), run_dir=None, resume=None, device=None, quiet=True, echo=print,
            comm=None) -> Trainer:
    """The Trainer of a new run (its directory made) or of a resumed one (its state
    loaded), ready to ``fit()``."""
    overrides = list(overrides)
    cfg = load_config(config, overrides)
    if run_dir and resume:
        raise RunError(f"--run-dir {run_dir} with --resume: a resumed run continues in its own directory; "
                       "leave --run-dir out")
    if run_dir and Path(run_dir).exists() and not Path(run_dir).is_dir():
        raise RunError(f"--run-dir {run_dir} is a file; give a new or empty folder")
    if run_dir and Path(run_dir).exists() and any(Path(run_dir).iterdir()):
        raise RunError(f"--run-dir {run_dir} already holds files; continue that run with --resume {run_dir}, "
                       "or give a new or empty folder")
    checkpoint = None
    if resume:
        run_dir = resolve_run(str(resume), cfg.run.root, cfg.run.name)
        checkpoint = find_checkpoint(str(resume), run_dir, "last")
        cfg = resumed_config(run_dir, cfg, overrides)
    trainer = Trainer(cfg, run_dir=run_dir, device=device, quiet=quiet, echo=echo, comm=comm)
    trainer.resume_command = f"nnpipe train {shlex.quote(str(config))} --resume {{run}}"  # what an interruption says
    if checkpoint:
        trainer.resume(checkpoint, overrides)
        return trainer
    try:
        trainer.start_run(overrides)
    except BaseException:  # Ctrl-C/SIGTERM or a failure while the run's files are written
        trainer.discard_run()
        raise
    return trainer


def _saved_config(run_dir) -> dict:
    """A run's config.yaml as a dict; skip-gram's ``negatives`` (a model option before
    0.3) is read as the data's, where the text task reads it now."""
    raw = read_yaml(Path(run_dir) / "config.yaml")
    model, data = raw.get("model"), raw.get("data")
    if isinstance(model, dict) and isinstance(data, dict) and "negatives" in model:
        data.setdefault("negatives", model.pop("negatives"))
    return raw


def run_config(run_dir) -> Config:
    """The resolved config a run was trained with (keys of older versions ignored)."""
    return from_dict(_saved_config(run_dir), drop_unknown=True)


def resumed_config(run_dir, requested: Config, overrides) -> Config:
    """The run's own config, as it was trained: a RESUMABLE key changes only when this
    resumption's ``overrides`` name it (then from ``requested``, the config file with the
    overrides applied), never because the config file says otherwise; any other override
    is refused."""
    resumable_overrides(run_dir, overrides)
    saved = _saved_config(run_dir)
    named = {".".join(parse_override(item)[0]) for item in overrides}
    for key in [key for key in RESUMABLE if key in named]:
        *path, last = key.split(".")
        source, target = requested, saved
        for part in path:
            source, target = getattr(source, part), target.setdefault(part, {})
        target[last] = getattr(source, last)
    config = from_dict(saved, drop_unknown=True)
    if missing := uninstalled_loggers(config.train.loggers):  # read leniently above: its loggers were not checked
        raise ConfigError(f"{run_dir}: " + "; ".join(missing))
    return config


def model_from_config(config: Config):
    """(model, example batch, example labels or None) for a config, without loading image
    data (a text config reads its cached vocabulary)."""
    inputs, batch, labels = TASKS.get(config.data.name).builder.sample(config)
    model = configured_model(config, np.random.default_rng(config.seed), inputs)
    return model, batch, labels
