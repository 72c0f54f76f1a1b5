"""``jsonl``: metrics.jsonl, every logged step and epoch, appended and flushed.  nnpipe's
own commands read it (``plot``, ``runs``, ``compare``, ``Run.metrics``), so a run always
keeps it."""
from __future__ import annotations

import json
import os

from ..data.files import parse_json, write_text_atomically
from .logger_registry import LOGGERS, Logger

FILE = "metrics.jsonl"


def read_metrics(run_dir) -> list:
    """The rows of a run's metrics.jsonl (none when it has none)."""
    path = run_dir / FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(parse_json(line))
        except ValueError:
            break  # a torn last line from a crash: ignore it and what follows
    return rows


@LOGGERS.register("jsonl")
class JsonlLogger(Logger):
    def log(self, row):
        # O_NOFOLLOW: a symbolic link planted in the run is refused, not written through
        descriptor = os.open(self.run_dir / FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        with os.fdopen(descriptor, "a") as handle:
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def rewind(self, step, epochs_done):
        kept = [row for row in read_metrics(self.run_dir) if logged_before(row, step, epochs_done)]
        write_text_atomically(self.run_dir / FILE, "".join(json.dumps(row) + "\n" for row in kept))


def logged_before(row, step, epochs_done):
    """Whether a checkpoint at ``step`` after ``epochs_done`` epochs had seen ``row``."""
    if row.get("kind") == "epoch":
        return int(row["epoch"]) <= epochs_done
    return int(row.get("step", 0)) <= step
