"""``nnpipe config show``: the fully resolved config."""
from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from ..config import dump, load_config
from .common import DebugOption, SetOption, guarded

app = typer.Typer(help="Inspect configs.", no_args_is_help=True)


@app.command("show")
@guarded
def show(config: Path = typer.Argument(..., help="YAML config."), set_: List[str] = SetOption,
         debug: bool = DebugOption):
    """Print the fully resolved config (defaults filled, overrides applied) as YAML.

    Example: nnpipe config show configs/mlp.yaml --set optimizer.lr=0.01
    """
    typer.echo(dump(load_config(config, set_)), nl=False)
