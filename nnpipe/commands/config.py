"""``nnpipe config show``: the fully resolved config; ``nnpipe config copy``: the shipped
configs, written where the user wants them."""
from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from ..config import ConfigError, dump, load_config
from ..data.files import SHIPPED_CONFIGS
from ..data.user_files import write_output
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


@app.command("copy")
@guarded
def copy(names: List[str] = typer.Argument(None, help="Configs to copy, e.g. mlp cnn (default: all)."),
         dest: Path = typer.Option(Path("configs"), "--dest", help="Folder to write them into."),
         debug: bool = DebugOption):
    """Write the shipped configs (mlp, cnn, skipgram, cbow, glove, svd) into a folder, so an
    installed nnpipe runs them as the README does: nnpipe train configs/mlp.yaml.  Files
    already there are kept.

    Example: nnpipe config copy mlp cnn --dest configs
    """
    shipped = {path.stem: path for path in sorted(SHIPPED_CONFIGS.glob("*.yaml"))}
    unknown = [name for name in names or [] if name not in shipped]
    if unknown:
        raise ConfigError(f"no shipped config {unknown[0]!r}; they are {', '.join(shipped)}")
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"--dest {dest} is a file; give a folder")
    dest.mkdir(parents=True, exist_ok=True)
    for name in names or shipped:
        target = dest / shipped[name].name
        if target.exists():
            typer.echo(f"kept {target} (already there)")
            continue
        write_output(target, lambda handle, name=name: handle.write(shipped[name].read_bytes()), "config")
        typer.echo(f"wrote {target}")
