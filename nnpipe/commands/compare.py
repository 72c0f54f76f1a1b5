"""``nnpipe compare``: runs side by side, the config keys in which they differ and their
results."""
from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from ..config import ConfigError
from ..training import resolve_run
from .common import DebugOption, RootOption, guarded
from .runs import run_config, run_record

RESULTS = ("status", "epochs_completed", "best_metric", "best", "best_epoch", "time_s")


def _cell(value):
    return f"{value:.4f}" if isinstance(value, float) else "-" if value is None else str(value)


@guarded
def compare(run_dirs: List[str] = typer.Argument(..., help="Two or more run directories (or 'latest')."),
            root: Path = RootOption, debug: bool = DebugOption):
    """Print the config keys in which runs differ, then their results, a column per run.

    Example: nnpipe compare runs/mlp/20261125-101500-a3f9 runs/mlp/20261125-111500-b4c1
    """
    runs = [resolve_run(spec, root) for spec in run_dirs]
    if len(runs) < 2:
        raise ConfigError("compare needs two or more runs")
    configs, records = [run_config(run) for run in runs], [run_record(run) for run in runs]
    keys = sorted({key for config in configs for key in config} - {"run.name", "run.root"})
    differ = [key for key in keys if len({repr(config.get(key)) for config in configs}) > 1]
    tests = sorted({key for record in records for key in record if key.startswith("test_")})
    rows = [("", *(record["run"] for record in records))]
    rows += [(key, *(str(config.get(key, "-")) for config in configs)) for key in differ]
    if not differ:
        rows.append(("(configs)", *("the same" for _ in runs)))
    rows += [(key, *(_cell(record.get(key)) for record in records)) for key in (*RESULTS, *tests)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
