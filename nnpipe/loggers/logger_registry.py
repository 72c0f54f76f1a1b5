"""The logger registry and what every logger does.

The trainer hands each logger the rows it writes to ``metrics.jsonl`` (``kind`` "step"
every ``log_every`` steps, "epoch" after each epoch; both carry ``step``), tells it on
resume which rows the checkpoint has seen (``rewind``), gives a word-vector run's vectors
at the end (``add_vectors``) and closes it.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from ..registry import Registry

LOGGERS = Registry("logger", inputs=1)


class Logger:
    """One destination of a run's metrics, written into the run directory."""

    requires = None  # (module, extra): the package this logger needs and the extra that installs it

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)

    def log(self, row: dict):
        raise NotImplementedError

    def rewind(self, step: int, epochs_done: int):
        """A resumed run continues from a checkpoint at ``step`` after ``epochs_done``
        epochs: forget rows logged after it, so the files are those of an unbroken run."""

    def add_vectors(self, words: list, vectors, step: int):
        """A word-vector run's vectors (the most frequent ``words`` first) at its end."""

    def close(self):
        pass


def missing_package(name):
    """For a logger whose package is not installed, the message that says how to get it."""
    requires = LOGGERS.get(name).builder.requires
    if requires and importlib.util.find_spec(requires[0]) is None:
        return f'logger {name!r} writes with {requires[0]}, which is not installed: pip install -e ".[{requires[1]}]"'
    return None


def open_loggers(names, run_dir):
    return [LOGGERS.get(name).builder(run_dir) for name in names]
