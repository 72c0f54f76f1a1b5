"""``nnpipe data``: download a data set with its checksum, verify the shipped files, and
prepare or list corpus token stores."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..config import ConfigError, load_config
from ..data import DataError
from ..data.download import SOURCES, fetch
from ..data.files import SHIPPED_SHA256, cache_dir, data_root, file_digest
from ..data.text import load_corpus
from ..data.token_store import stores
from .common import DebugOption, SetOption, guarded

app = typer.Typer(help="Download, verify or prepare data.", no_args_is_help=True)


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
                        f"{', '.join(bad)} (restore them with git checkout, or reinstall nnpipe)")


@app.command("prepare")
@guarded
def prepare_command(config: Path = typer.Argument(..., help="A word-vector config (data: text or cooccurrence)."),
                    set_: List[str] = SetOption, debug: bool = DebugOption):
    """Prepare a config's corpus into its token store ahead of training, and summarise it.

    Example: nnpipe data prepare configs/skipgram.yaml --set data.corpus=[data/corpus]
    """
    data = load_config(config, set_).data
    if not hasattr(data, "tokenizer"):
        raise ConfigError(f"{config}: data {data.name!r} reads no corpus; prepare needs a text or cooccurrence config")
    store = load_corpus(data.corpus, data.root, data.min_count, data.max_vocab, data.max_vocab_size, data.tokenizer)
    _describe(store.folder, store.info)


@app.command("info")
@guarded
def info(debug: bool = DebugOption):
    """List the corpus token stores in the cache: files, tokens, words, size on disk.

    Example: nnpipe data info
    """
    found = stores()
    if not found:
        typer.echo(f"no corpus stores in {cache_dir()}")
    for folder, details in found:
        _describe(folder, details)


def _describe(folder, details):
    files = details["files"]
    shown = files[0] if len(files) == 1 else f"{len(files)} files, {files[0]} …"
    size = sum(p.stat().st_size for p in Path(folder).iterdir()) / 2**20
    typer.echo(f"{folder}: {shown}\n  {details['tokens']:,} tokens in {details['sentences']:,} sentences "
               f"({details['raw_tokens']:,} before the vocabulary), {details['words']:,} words "
               f"(min_count {details['settings']['min_count']}, tokenizer {details['settings']['tokenizer']}), "
               f"{size:,.1f} MiB on disk")
