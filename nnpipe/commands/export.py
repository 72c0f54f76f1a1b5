"""``nnpipe export``: a run's model as safetensors (PyTorch's names), ONNX or word2vec."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..config import ConfigError
from ..exports import FORMATS
from ..runs import Run
from ..training import resolve_run
from .common import CheckpointOption, DebugOption, RootOption, guarded, say_latest


@guarded
def export(
    target: Optional[str] = typer.Argument(None, help="Run directory (default: the latest run)."),
    format_: str = typer.Option("safetensors", "--format", "-f", help=f"{', '.join(FORMATS)}."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="The file to write (default: model.safetensors, "
                                       "model.onnx or vectors.txt in the run; - for standard output)."),
    vectors_: Optional[str] = typer.Option(None, "--vectors", help="With word2vec: input, output, sum or concat."),
    binary: bool = typer.Option(False, "--binary", help="With word2vec: the binary format."),
    checkpoint: str = CheckpointOption,
    root: Path = RootOption,
    debug: bool = DebugOption,
):
    """Write a run's model in a format other tools read.

    safetensors: the weights under PyTorch's layer names and layouts, and a JSON of the
    layers beside them (torch.nn.Sequential of those layers loads them; model.init_from
    starts an nnpipe run from them). onnx: an image classifier for ONNX Runtime, from 0..255
    pixels to logits and probabilities. word2vec: a word-vector run's vectors.

    Examples:

      nnpipe export --format safetensors

      nnpipe export runs/cnn/20261125-101500-a3f9 --format onnx --out cnn.onnx

      nnpipe export --format word2vec --binary --out vectors.bin
    """
    if checkpoint not in ("best", "last"):
        raise ConfigError(f"--checkpoint must be best or last, got {checkpoint!r}")
    run_dir = resolve_run(target, root)
    to_stdout = str(out) == "-"
    say_latest(target, run_dir, err=to_stdout)
    written = Run(run_dir).export(format_, out, checkpoint, vectors_, binary)
    typer.echo("wrote " + ", ".join(str(path) for path in written), err=to_stdout)
