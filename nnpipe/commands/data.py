"""``nnpipe data``: download a data set with its checksum, or verify the shipped files."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..data import DataError
from ..data.download import SOURCES, fetch
from ..data.files import SHIPPED_SHA256, data_root, file_digest
from .common import DebugOption, guarded

app = typer.Typer(help="Download or verify data sets.", no_args_is_help=True)


@app.command("fetch")
@guarded
def fetch_command(
    name: str = typer.Argument(..., help=f"The data set: {', '.join(SOURCES)}."),
    dest: Optional[Path] = typer.Option(None, "--dest", help="Folder to download into (default: the cache, "
                                        "where the loaders look when data.root lacks the files)."),
    debug: bool = DebugOption,
):
    """Download a data set, check its published checksum, and say where it is.

    Example: nnpipe data fetch cifar10
    """
    folder = fetch(name, dest)
    typer.echo(f"{name}: checked and stored in {folder}")


@app.command("verify")
@guarded
def verify(root: Optional[Path] = typer.Option(None, "--root", help="Data folder (default: data/)."),
           debug: bool = DebugOption):
    """Check every shipped data file against its sha256.

    Example: nnpipe data verify
    """
    folder = data_root(root)
    bad = []
    for name, expected in SHIPPED_SHA256.items():
        path = folder / name
        status = "missing" if not path.is_file() else "ok" if file_digest(path) == expected else "DAMAGED"
        typer.echo(f"  {status:<8} {name}")
        if status != "ok":
            bad.append(name)
    if bad:
        raise DataError(f"{len(bad)} of {len(SHIPPED_SHA256)} data files in {folder} are missing or damaged: "
                        f"{', '.join(bad)} (restore them with git checkout)")
