"""``nnpipe runs``: a table of the runs under a folder (sorted, filtered, or as JSON for jq
and pandas)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..config import ConfigError, load_yaml, read_yaml
from ..training import find_runs
from ..training.metrics import maximised
from ..training.resume import _flat
from ..training.rundir import read_json, run_status
from .common import DebugOption, RootOption, guarded


def run_record(run: Path) -> dict:
    """What ``runs`` and ``compare`` show of a run: its summary's facts, flat."""
    summary = read_json(run / "summary.json", {})
    best = summary.get("best") or {}
    test = summary.get("test") or {}
    return {"run": f"{run.parent.name}/{run.name}", "path": str(run), "model": summary.get("model", "?"),
            "status": run_status(run, summary), "epochs_completed": summary.get("epochs_completed"),
            "epochs": summary.get("epochs"), "best_metric": best.get("metric"), "best": best.get("value"),
            "best_epoch": best.get("epoch"), "time_s": summary.get("wall_time_s"),
            **{f"test_{key}": value for key, value in test.items() if isinstance(value, (int, float))}}


def run_config(run: Path) -> dict:
    """The run's config.yaml as flat ``section.key`` entries ({} when unreadable)."""
    try:
        return _flat(read_yaml(run / "config.yaml"))
    except ConfigError:
        return {}


def _matches(run, record, condition):
    key, sep, wanted = condition.partition("=")
    if not sep or not key:
        raise ConfigError(f"--filter {condition!r}: expected key=value (model=cnn, optimizer.lr=0.001)")
    values = {**run_config(run), **record, "name": run.parent.name}
    if key not in values:
        return False
    return values[key] == load_yaml(wanted) or str(values[key]) == wanted


def _ordered(records, key):
    """Records by ``key``, best first (losses and time lowest first), runs without it last;
    ``best`` is each run's own monitored metric."""
    known = {k for record in records for k in record if isinstance(record[k], (int, float))}
    if records and key not in known:
        raise ConfigError(f"--sort {key!r}: no run has it; sortable: {', '.join(sorted(known))}")

    def rank(record):
        value = record.get(key) if isinstance(record.get(key), (int, float)) else None
        metric = (record.get("best_metric") or "") if key == "best" else key
        lowest_first = key == "time_s" or not maximised(metric)
        return value is None, (value or 0) * (1 if lowest_first else -1)

    return sorted(records, key=rank)


@guarded
def runs(root: Path = RootOption,
         sort: Optional[str] = typer.Option(None, "--sort", help="best, time_s, epochs_completed or a test metric "
                                            "(test_accuracy): best first (losses and time lowest first)."),
         filter_: List[str] = typer.Option([], "--filter", help="key=value, repeatable: model=cnn, status=completed, "
                                           "name=mlp (the config stem) or any config key (optimizer.lr=0.001)."),
         as_json: bool = typer.Option(False, "--json", help="One JSON list of the runs' records."),
         debug: bool = DebugOption):
    """List runs: name, model, status, epochs, best metric, time.  A run marked running
    that no process writes any more (killed) shows as stale.

    Examples:

      nnpipe runs --root runs

      nnpipe runs --filter model=cnn --sort test_accuracy

      nnpipe runs --json
    """
    found = find_runs(root)
    records = [(run, run_record(run)) for run in found]
    records = [(run, record) for run, record in records if all(_matches(run, record, c) for c in filter_)]
    chosen = [record for _, record in records]
    if sort:
        chosen = _ordered(chosen, sort)
    if as_json:
        typer.echo(json.dumps(chosen, indent=1))
        return
    if not chosen:
        typer.echo(f"no runs under {root}/" + (" match the filter" if found else ""))
        return
    rows = [("run", "model", "status", "epochs", "best", "time")]
    for record in chosen:
        value = record["best"]
        rows.append((record["run"], record["model"], record["status"],
                     f"{_or_unknown(record['epochs_completed'])}/{_or_unknown(record['epochs'])}",
                     f"{record['best_metric']} {value:.4f}" if isinstance(value, float) else "-",
                     f"{record['time_s'] or 0:.0f}s"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


def _or_unknown(value):
    return "?" if value is None else value
