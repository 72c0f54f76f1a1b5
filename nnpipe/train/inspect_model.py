"""Looking at models without training them: shapes from a config, a layer table like
Keras' summary, the forward + loss graph, and predictions of a trained run."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import nn
from ..autograd import Tensor, no_grad
from ..config import Config, ConfigError, from_dict, read_yaml
from ..data import DataError
from ..data.cifar import CLASSES as CIFAR_CLASSES
from ..data.images import normalise
from ..data.text import load_corpus
from ..models import build_model
from .checkpoint import check_fits, load_checkpoint

IMAGE_SHAPES = {"mnist": ((1, 28, 28), 10), "cifar10": ((3, 32, 32), 10)}


def model_from_config(config: Config):
    """(model, dummy batch, labels) for a config, without loading image data."""
    rng = np.random.default_rng(config.seed)
    if config.data.name in IMAGE_SHAPES:
        shape, classes = IMAGE_SHAPES[config.data.name]
        try:
            model = build_model(config.model, rng, input_shape=shape, num_classes=classes)
        except ValueError as exc:
            raise ConfigError(f"model: {exc}") from None
        return model, Tensor(np.zeros((2,) + shape, np.float32)), np.zeros(2, np.int64)
    vocab = load_corpus(config.data.corpus, config.data.root, config.data.min_count, config.data.max_vocab).vocab
    model = build_model(config.model, rng, vocab_size=len(vocab))
    k = config.model.get("negatives", 5)
    return model, (np.array([0, 1]), np.array([2, 3]), np.arange(2 * k).reshape(2, k) % len(vocab)), None


def layer_table(model, batch):
    """Rows of (name, type, output shape, parameters, trainable parameters) for each
    top-level layer, found by running one forward pass on ``batch``."""
    rows = []
    with no_grad():
        if isinstance(model, nn.Sequential):
            x = batch
            for name, layer in model._modules.items():
                x = layer(x)
                count = layer.num_parameters()
                rows.append((name, type(layer).__name__, tuple(x.shape[1:]), count, count))
        else:
            outputs = model(batch)
            for (name, layer), out in zip(model._modules.items(), outputs):
                count = layer.num_parameters()
                rows.append((name, type(layer).__name__, tuple(out.shape[1:]), count, count))
    return rows


def format_table(rows):
    header = ("layer", "type", "output shape", "params", "trainable")
    cells = [header] + [(n, t, str(s), f"{p:,}", f"{tr:,}") for n, t, s, p, tr in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    lines.insert(1, "-" * len(lines[0]))
    total = sum(r[3] for r in rows)
    lines.append("-" * len(lines[0]))
    lines.append(f"total parameters {total:,} (trainable {sum(r[4] for r in rows):,}), "
                 f"{total * 4 / 1024**2:.2f} MB as float32")
    return "\n".join(lines)


def run_config(run_dir) -> Config:
    return from_dict(read_yaml(Path(run_dir) / "config.yaml"))


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


def predict(run_dir, paths, k=3, which="best"):
    """[(path, [(class, probability), ...top k])] for each input, preprocessed exactly as
    in training (the normalisation stored in the run's config)."""
    config = run_config(run_dir)
    if config.data.name not in IMAGE_SHAPES:
        raise ConfigError(f"{run_dir} is a {config.model['name']} run; predict works on image classifiers")
    model, _, _ = model_from_config(config)
    checkpoint = Path(run_dir) / "checkpoints" / f"{which}.npz"
    arrays, manifest = load_checkpoint(checkpoint)
    check_fits(checkpoint, manifest, model)
    model.load_state_dict({key[len("model/"):]: v for key, v in arrays.items() if key.startswith("model/")})
    model.eval()
    shape, classes = IMAGE_SHAPES[config.data.name]
    pixels = read_inputs(paths, shape)
    x = normalise(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), config.data.mean, config.data.std)
    with no_grad():
        logits = model(Tensor(x)).data
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = shifted / shifted.sum(axis=1, keepdims=True)
    names = CIFAR_CLASSES if config.data.name == "cifar10" else [str(c) for c in range(classes)]
    results = []
    for path, row in zip(paths, probs):
        top = np.argsort(-row)[:k]
        results.append((str(path), [(names[i], float(row[i])) for i in top]))
    return results
