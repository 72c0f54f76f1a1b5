"""``csv``: metrics.csv, one row per epoch, readable by pandas and spreadsheets."""
from __future__ import annotations

import csv
import os

from ..data.files import csv_text, write_text_atomically
from .jsonl import logged_before
from .logger_registry import LOGGERS, Logger

FILE = "metrics.csv"


@LOGGERS.register("csv")
class CsvLogger(Logger):
    def __init__(self, run_dir):
        super().__init__(run_dir)
        path = self.run_dir / FILE
        with open(path, newline="") if path.is_file() else open(os.devnull) as handle:
            self.epochs = list(csv.DictReader(handle))  # a resumed run's rows, as text

    def log(self, row):
        if row.get("kind") == "epoch":
            self.epochs.append({key: value for key, value in row.items() if key != "kind"})
            self._write()

    def rewind(self, step, epochs_done):
        self.epochs = [row for row in self.epochs if logged_before({"kind": "epoch", **row}, step, epochs_done)]
        self._write()

    def _write(self):
        path = self.run_dir / FILE
        if not self.epochs:
            path.unlink(missing_ok=True)
            return
        columns = []
        for row in self.epochs:
            columns += [key for key in row if key not in columns]
        write_text_atomically(path, csv_text(columns, self.epochs))
