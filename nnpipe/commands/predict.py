"""``nnpipe predict``: class probabilities of images from a trained image classifier,
preprocessed exactly as in training."""
from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import typer

from ..autograd import Tensor, no_grad
from ..autograd.functions import softmax
from ..config import ConfigError
from ..data import DataError
from ..data.images import normalise
from ..tasks.images import IMAGE_KINDS
from ..train import find_checkpoint, load_model_weights, resolve_run
from ..train.rundir import has_checkpoint
from .common import CheckpointOption, DebugOption, RootOption, guarded, model_from_config, run_config


def read_inputs(paths, shape):
    """Images from .npy files (uint8 0..255 or floats 0..1) or PNG/JPEG files (Pillow),
    as uint8-scaled float arrays of ``shape`` (C, H, W) each; clear errors otherwise."""
    channels, height, width = shape
    images = []
    for path in map(Path, paths):
        if not path.is_file():
            raise DataError(f"input not found: {path}")
        if path.suffix == ".npy":
            try:
                array = np.load(path, allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise DataError(f"{path}: not a readable .npy array ({exc})") from None
            scaled = array.astype(np.float32) * (255 if array.dtype.kind == "f" else 1)
        else:
            try:
                from PIL import Image
            except ImportError:
                raise DataError('reading images needs Pillow: pip install -e ".[images]"') from None
            try:
                with Image.open(path) as image:
                    scaled = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.float32)
            except OSError as exc:
                raise DataError(f"{path}: not a readable image ({exc})") from None
            if scaled.ndim == 3:
                scaled = scaled.transpose(2, 0, 1)
        if scaled.ndim == 2:
            scaled = scaled[None]
        if scaled.ndim == 3 and scaled.shape[-1] in (1, 3) and scaled.shape[0] not in (1, 3):
            scaled = scaled.transpose(2, 0, 1)  # HWC arrays
        if scaled.shape[1:] != (height, width):
            raise DataError(f"{path}: image is {scaled.shape[-2]}×{scaled.shape[-1]}, the model expects {height}×{width}")
        if scaled.shape[0] != channels:
            raise DataError(f"{path}: {scaled.shape[0]} channel(s), the model expects {channels}")
        images.append(scaled)
    return np.stack(images)


def predict_images(run_dir, paths, k=3, which="best"):
    """[(path, [(class, probability), ...top k])] for each input, preprocessed exactly as
    in training (the normalisation stored in the run's config)."""
    config = run_config(run_dir)
    if config.data.name not in IMAGE_KINDS:
        raise ConfigError(f"{run_dir} is a {config.model.name} run; predict works on image classifiers")
    model, _, _ = model_from_config(config)
    load_model_weights(model, find_checkpoint(None, run_dir, which))
    model.eval()
    shape, names = IMAGE_KINDS[config.data.name]
    pixels = read_inputs(paths, shape)
    x = normalise(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), config.data.mean, config.data.std)
    with no_grad():
        probs = softmax(model(Tensor(x)), axis=1).data
    results = []
    for path, row in zip(paths, probs):
        top = np.argsort(-row)[:k]
        results.append((str(path), [(names[i], float(row[i])) for i in top]))
    return results


@guarded
def predict(
    run: str = typer.Argument(..., help="A trained image-classifier run directory (or 'latest')."),
    inputs: List[Path] = typer.Argument(..., help=".npy arrays or PNG/JPEG images."),
    k: int = typer.Option(3, "-k", help="How many classes to show per input."),
    checkpoint: str = CheckpointOption,
    root: Path = RootOption,
    debug: bool = DebugOption,
):
    """Class probabilities of images, preprocessed exactly as in training.

    Example: nnpipe predict runs/cnn/20261125-101500-a3f9 digit.png -k 3
    """
    def classifier(found):
        return has_checkpoint(found) and run_config(found).data.name in IMAGE_KINDS

    for path, top in predict_images(resolve_run(run, root, usable=classifier, what="of an image classifier"), inputs, k,
                                    checkpoint):
        typer.echo(f"{path}: " + ", ".join(f"{name} {p:.3f}" for name, p in top))
