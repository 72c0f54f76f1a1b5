"""``nnpipe runs``: a table of the runs under a folder."""
from __future__ import annotations

from pathlib import Path

import typer

from ..training import find_runs
from ..training.rundir import read_json, run_status
from .common import DebugOption, RootOption, guarded


@guarded
def runs(root: Path = RootOption, debug: bool = DebugOption):
    """List runs: name, model, status, epochs, best metric, time.  A run marked running
    that no process writes any more (killed) shows as stale.

    Example: nnpipe runs --root runs
    """
    found = find_runs(root)
    if not found:
        typer.echo(f"no runs under {root}/")
        return
    rows = [("run", "model", "status", "epochs", "best", "time")]
    for run in found:
        summary = read_json(run / "summary.json", {})
        best = summary.get("best") or {}
        value = best.get("value")
        rows.append((f"{run.parent.name}/{run.name}", summary.get("model", "?"), run_status(run, summary),
                     f"{summary.get('epochs_completed', '?')}/{summary.get('epochs', '?')}",
                     f"{best.get('metric')} {value:.4f}" if isinstance(value, float) else "-",
                     f"{summary.get('wall_time_s', 0):.0f}s"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
