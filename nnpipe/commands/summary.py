"""``nnpipe summary``: a layer table of a config's model, like Keras' ``summary()``."""
from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from ..config import load_config
from ..nn.summary import format_table, layer_table
from ..runs import model_from_config
from .common import DebugOption, SetOption, guarded


@guarded
def summary(config: Path = typer.Argument(..., help="YAML config."), set_: List[str] = SetOption,
            debug: bool = DebugOption):
    """Layer table of a config's model (name, type, output shape, parameters) and totals.

    Example: nnpipe summary configs/cnn.yaml --set model.channels='[8, 16]'
    """
    model, batch, _ = model_from_config(load_config(config, set_))
    typer.echo(format_table(layer_table(model, batch)))
