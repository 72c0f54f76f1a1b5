"""metrics.jsonl (every logged step and epoch, appended and flushed) and metrics.csv
(one row per epoch, readable by pandas)."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from ..data.files import parse_json


def maximised(metric):
    """Losses are minimised; every other metric (accuracy, ws353, ...) is maximised."""
    return "loss" not in metric


def sort_key(metric):
    """Sorts values of ``metric`` best first, missing values last."""
    sign = -1 if maximised(metric) else 1
    return lambda value: (value is None, sign * (value or 0))


def improved(metric, value, best):
    """Whether ``value`` beats ``best`` (None: nothing yet) for ``metric``."""
    return value is not None and (best is None or sort_key(metric)(value) < sort_key(metric)(best))


def format_row(row):
    """An epoch row as the one-line summary printed after each epoch."""
    parts = []
    for key, value in row.items():
        if key in ("kind", "epoch", "step"):
            continue
        if key == "time_s":
            parts.append(f"{value:.1f}s")
        elif key.endswith("_per_s"):
            parts.append(f"{value:,.0f} {key[:-6]}/s")
        elif key == "lr":
            parts.append(f"lr {value:.3g}")
        else:
            parts.append(f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}")
    return ", ".join(parts)


class MetricsLog:
    def __init__(self, run_dir):
        self.jsonl = Path(run_dir) / "metrics.jsonl"
        self.csv = Path(run_dir) / "metrics.csv"

    def rows(self):
        if not self.jsonl.is_file():
            return []
        rows = []
        for line in self.jsonl.read_text().splitlines():
            try:
                rows.append(parse_json(line))
            except ValueError:
                break  # a torn last line from a crash: ignore it and what follows
        return rows

    def append(self, row: dict):
        # O_NOFOLLOW: a symbolic link planted in the run is refused, not written through
        descriptor = os.open(self.jsonl, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        with os.fdopen(descriptor, "a") as handle:
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        if row.get("kind") == "epoch":
            self._write_csv([r for r in self.rows() if r.get("kind") == "epoch"])

    def truncate_after(self, step: int, epochs_done: int):
        """Forget rows logged after a checkpoint (step rows past ``step``, epoch rows past
        ``epochs_done``), so a resumed run writes the same files as an unbroken one."""
        kept = [r for r in self.rows()
                if (r.get("kind") == "epoch" and r["epoch"] <= epochs_done)
                or (r.get("kind") != "epoch" and r.get("step", 0) <= step)]
        tmp = self.jsonl.with_name(".metrics.jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
        os.replace(tmp, self.jsonl)
        self._write_csv([r for r in kept if r.get("kind") == "epoch"])

    def _write_csv(self, epochs):
        if not epochs:
            self.csv.unlink(missing_ok=True)
            return
        columns = [key for key in epochs[0] if key != "kind"]
        for row in epochs[1:]:
            columns += [key for key in row if key not in columns and key != "kind"]
        tmp = self.csv.with_name(".metrics.csv.tmp")
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(epochs)
        os.replace(tmp, self.csv)
