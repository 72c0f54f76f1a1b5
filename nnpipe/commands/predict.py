"""``nnpipe predict``: class probabilities of images from a trained image classifier,
preprocessed exactly as in training."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from ..config import ConfigError
from ..data import DataError
from ..data.user_files import write_output
from ..runs import Run
from ..training import resolve_run
from ..training.rundir import has_checkpoint
from .common import CheckpointOption, DebugOption, RootOption, guarded, say_latest

IMAGE_SUFFIXES = (".npy", ".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _files(paths):
    """The input files: each path, or every image file of a folder (sorted by name)."""
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DataError(f"{path}: a folder with no {'/'.join(IMAGE_SUFFIXES)} files")
            yield from found
        elif not path.is_file():
            raise DataError(f"input not found: {path}")
        else:
            yield path


def _as_chw(image, shape, where):
    """One image as float (C, H, W) on the 0..255 scale, from (H, W), (C, H, W) or (H, W, C)."""
    channels, height, width = shape
    if image.ndim == 2:
        image = image[None]
    if image.shape[-1] in (1, 3) and image.shape[0] not in (1, 3):
        image = image.transpose(2, 0, 1)  # HWC
    if image.shape[1:] != (height, width):
        raise DataError(f"{where}: image is {image.shape[-2]}×{image.shape[-1]}, the model expects {height}×{width}")
    if image.shape[0] != channels:
        raise DataError(f"{where}: {image.shape[0]} channel(s), the model expects {channels}")
    return image


def _npy_images(path):
    """[(label, array)] from a .npy file: one image (2-D or 3-D) or a batch (4-D).  The
    file is mapped, not read: a header that claims more than the file holds is refused
    before any memory is spent on it."""
    with open(path, "rb") as handle:
        if handle.read(6) != b"\x93NUMPY":
            raise DataError(f"{path}: not a .npy array (an .npz, an image or another format renamed?)")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: not a readable .npy array ({str(exc)[:80]})") from None
    if array.dtype.kind not in "uif":
        raise DataError(f"{path}: holds {array.dtype} values; expected numbers (uint8 0..255 or floats 0..1)")
    if not 2 <= array.ndim <= 4 or array.size == 0:
        raise DataError(f"{path}: a {array.ndim}-D array of shape {array.shape}; expected one image (H, W), "
                        "(C, H, W) or (H, W, C), or a batch (N, C, H, W) or (N, H, W, C) of at least one")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise DataError(f"{path}: holds NaN or infinite values")
    scaled = array.astype(np.float32) * (255 if array.dtype.kind == "f" else 1)
    if array.ndim == 4:
        return [(f"{path}[{index}]", image) for index, image in enumerate(scaled)]
    return [(str(path), scaled)]


def _picture(path, shape):
    """[(label, pixels)] of a PNG/JPEG/... file; its size is read from the header and checked
    against the model's before any pixel is decoded (a 20000×20000 image costs nothing)."""
    try:
        from PIL import Image
    except ImportError:
        raise DataError('reading images needs Pillow: pip install -e ".[images]"') from None
    channels, height, width = shape
    try:
        with Image.open(path) as image:
            if image.size != (width, height):
                raise DataError(f"{path}: image is {image.size[1]}×{image.size[0]}, the model expects {height}×{width}")
            pixels = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.float32)
    except (OSError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from None
    return [(str(path), pixels)]


def read_inputs(paths, shape):
    """(labels, images): every input as a uint8-scaled float (C, H, W) image of ``shape``,
    from .npy arrays (one image or a batch) or PNG/JPEG files (Pillow), and folders of
    them; a clear error for anything else."""
    labelled = []
    for path in _files(paths):
        found = _npy_images(path) if path.suffix == ".npy" else _picture(path, shape)
        labelled += [(label, _as_chw(image, shape, label)) for label, image in found]
    return [label for label, _ in labelled], np.stack([image for _, image in labelled])


def predict_images(run: Run, paths, k=3, which="best"):
    """[(input, [(class, probability), ...top k])] for each input."""
    shape, names = run.image_kind
    if not 1 <= k <= len(names):
        raise ConfigError(f"-k must be between 1 and the {len(names)} classes, got {k}")
    labels, pixels = read_inputs(paths, shape)
    results = []
    for label, row in zip(labels, run.predict(pixels, which)):
        top = np.argsort(-row)[:k]
        results.append((label, [(names[i], float(row[i])) for i in top]))
    return results


def write_predictions(path, results):
    """One CSV row per input: input, then class and probability for each of the top k."""
    k = len(results[0][1])
    rows = [["input"] + [f"{kind}_{rank}" for rank in range(1, k + 1) for kind in ("class", "p")]]
    rows += [[label] + [item for name, p in top for item in (name, f"{p:.6f}")] for label, top in results]
    text = io.StringIO(newline="")
    csv.writer(text).writerows(rows)
    write_output(path, lambda handle: handle.write(text.getvalue().encode()), "--out")


@guarded
def predict(
    run: str = typer.Argument(..., help="A trained image-classifier run directory (or 'latest')."),
    inputs: List[Path] = typer.Argument(..., help=".npy arrays or PNG/JPEG images."),
    k: int = typer.Option(3, "-k", help="How many classes to show per input."),
    checkpoint: str = CheckpointOption,
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the predictions as CSV."),
    root: Path = RootOption,
    debug: bool = DebugOption,
):
    """Class probabilities of images, preprocessed exactly as in training.  Inputs are .npy
    arrays (one image, or a batch as (N, C, H, W) or (N, H, W, C)), PNG/JPEG files, or
    folders of them; one line per image.

    Example: nnpipe predict runs/cnn/20261125-101500-a3f9 digit.png -k 3
    """
    def classifier(found):
        return has_checkpoint(found) and Run(found).is_image_classifier

    if out is not None and out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name such as {out / 'predictions.csv'}")
    run_dir = resolve_run(run, root, usable=classifier, what="of an image classifier")
    say_latest(run, run_dir, "image-classifier run")
    results = predict_images(Run(run_dir), inputs, k, checkpoint)
    for label, top in results:
        typer.echo(f"{label}: " + ", ".join(f"{name} {p:.3f}" for name, p in top))
    if out is not None:
        write_predictions(out, results)
        typer.echo(f"wrote {len(results)} predictions to {out}")
