"""``nnpipe eval``: evaluate a trained run's checkpoint on a split, without building an
optimizer or a trainer."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..config import ConfigError
from ..runs import Run
from ..training import find_checkpoint, resolve_run
from ..training.rundir import write_json
from .common import CheckpointOption, DebugOption, RootOption, guarded


@guarded
def evaluate(
    target: Optional[str] = typer.Argument(None, help="Run directory or checkpoint file (default: the latest run)."),
    split: str = typer.Option("test", help="test or val."),
    checkpoint: str = CheckpointOption,
    root: Path = RootOption,
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:N or auto."),
    debug: bool = DebugOption,
):
    """Evaluate a trained run and write eval.json into it.

    Examples:

      nnpipe eval

      nnpipe eval runs/mlp/20261125-101500-a3f9 --split val --checkpoint last
    """
    if split not in ("test", "val"):
        raise ConfigError(f"--split must be test or val, got {split!r}")
    if checkpoint not in ("best", "last"):
        raise ConfigError(f"--checkpoint must be best or last, got {checkpoint!r}")
    run = resolve_run(target, root)
    path = find_checkpoint(target, run, checkpoint)
    metrics = Run(run).evaluate(split, path, device or "cpu")
    typer.echo(f"run {run} ({path.name}), {split} split")
    for key, value in metrics.items():
        if isinstance(value, float):
            typer.echo(f"  {key:<12} {value:.4f}")
    if "per_class" in metrics:
        typer.echo("  class   accuracy")
        for name, value in metrics["per_class"].items():
            typer.echo(f"  {name:<7} {'-' if value is None else f'{value:.4f}'}")
    write_json(run / "eval.json", {"split": split, "checkpoint": str(path), **metrics})
