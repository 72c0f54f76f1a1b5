"""``nnpipe sweep``: a grid (or random sample) of overrides, each trial an ordinary run."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..config import ConfigError
from ..training.sweep import Sweep, parse_grid
from .common import EXIT_FAILED, DebugOption, SetOption, guarded


@guarded
def sweep(
    config: Path = typer.Argument(..., help="The base YAML config."),
    grid: List[str] = typer.Option([], "--grid", help="key.path=value1,value2 (repeatable; values are YAML)."),
    random: Optional[int] = typer.Option(None, "--random", help="Run only N trials drawn from the grid."),
    seed: int = typer.Option(0, "--seed", help="Seed of the --random draw."),
    parallel: int = typer.Option(1, "--parallel", help="Trials run at once (local backend)."),
    backend: str = typer.Option("local", "--backend", help="local (subprocesses) or ray (needs nnpipe[ray])."),
    address: Optional[str] = typer.Option(None, "--address", help="Address of an existing Ray cluster."),
    set_: List[str] = SetOption,
    debug: bool = DebugOption,
):
    """Run a hyperparameter sweep; each trial is an ordinary run directory.

    Examples:

      nnpipe sweep configs/mlp.yaml --grid optimizer.lr=0.01,0.1 --grid model.hidden='[128],[256]'

      nnpipe sweep configs/mlp.yaml --grid optimizer.lr=0.001,0.003,0.01 --random 2 --backend ray

      nnpipe sweep configs/mlp.yaml --grid model.hidden='[64],[128]' --set train.epochs=3
    """
    if not grid:
        raise ConfigError("give at least one --grid key.path=value1,value2")
    if random is not None and random < 1:
        raise ConfigError(f"--random must be at least 1, got {random}")
    if backend not in ("local", "ray"):
        raise ConfigError(f"unknown --backend {backend!r}; valid: local, ray")
    if parallel < 1:
        raise ConfigError(f"--parallel must be at least 1, got {parallel}")
    plan = Sweep(config, parse_grid(grid), random, seed, set_)
    typer.echo(f"sweep {plan.id}: {len(plan.trials)} trials in {plan.dir} ({backend})")
    rows = plan.run(parallel, backend, address)
    failed = [row for row in rows if row["status"] != "completed"]
    for row in failed:
        typer.echo(f"  trial {row['trial']} {row['status']}: {row['error']}", err=True)
    metric = plan.config.train.early_stopping.metric
    best = rows[0] if rows and isinstance(rows[0][metric], float) else None
    if best:
        typer.echo(f"best: trial {best['trial']} {metric} {best[metric]:.4f} ({best['run_dir']}); "
                   f"table: {plan.dir / 'results.md'}")
    if failed:
        raise typer.Exit(EXIT_FAILED)
