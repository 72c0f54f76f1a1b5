"""A run's model in the formats other tools read (``nnpipe export``, ``Run.export``).

- ``safetensors``: the weights under PyTorch's names and layouts (``nn/plain_layers.py``)
  with a JSON beside them (same name, ``.json``) that lists the ``torch.nn`` layers, the
  input shape, the classes and the normalisation; for a word-vector run, both tables and the
  words.  ``torch.nn.Sequential(*layers)`` loads it with ``load_state_dict``, and
  ``model.init_from`` starts an nnpipe run from it.
- ``onnx``: an image classifier as an ONNX graph from 0..255 pixels to logits and
  probabilities (``nn/onnx_graph.py``).
- ``word2vec``: a word-vector run's vectors in word2vec's text (or ``binary``) format.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import __version__
from .config import ConfigError
from .data.user_files import write_output
from .data.weight_files import safetensors_bytes
from .nn.onnx_graph import onnx_model
from .nn.plain_layers import plain_layers, torch_state_dict
from .training.rundir import RunError

FORMATS = ("safetensors", "onnx", "word2vec")
DEFAULT_FILES = {"safetensors": "model.safetensors", "onnx": "model.onnx", "word2vec": "vectors.txt"}


def export_run(run, to="safetensors", path=None, checkpoint="best", vectors=None, binary=False) -> list:
    """Write ``run``'s model (checkpoint ``checkpoint``) as format ``to`` to ``path`` (default:
    a file in the run directory, ``-``: standard output); returns the paths written."""
    if to not in FORMATS:
        raise ConfigError(f"--format {to!r}: use one of {', '.join(FORMATS)}")
    if to != "word2vec" and (binary or vectors):
        raise ConfigError("--binary and --vectors go with --format word2vec")
    kind = "word-vector" if run.is_word_vectors else "image-classifier" if run.is_image_classifier else "other"
    fits = {"onnx": ("image-classifier",), "word2vec": ("word-vector",)}.get(to, ("image-classifier", "word-vector"))
    if kind not in fits:
        raise RunError(f"{run.path} is a {run.config.model.name} run; --format {to} is for "
                       f"{' and '.join(fits)} runs")
    path = Path(path) if path is not None else run.path / ("vectors.bin" if binary else DEFAULT_FILES[to])
    if to == "word2vec":
        run.word_vectors(checkpoint, vectors).save_word2vec(path, binary, what="output")
        return [path]
    model = run.load_model(checkpoint)
    layers = _plain_layers(run, model, to) if kind == "image-classifier" else None
    if to == "onnx":
        shape, _ = run.image_kind
        data = run.config.data
        try:
            proto = onnx_model(model, shape, data.mean, data.std, __version__)
        except ImportError:
            raise ConfigError('ONNX export needs the onnx package: pip install -e ".[export]"') from None
        write_output(path, lambda handle: handle.write(proto.SerializeToString()), "output")
        return [path]
    if str(path) == "-" or path.suffix == ".json":
        raise ConfigError(f"--out {path}: safetensors needs a file name (its JSON goes beside it, "
                          f"as {Path(str(path)).stem or 'model'}.json)")
    arrays = torch_state_dict(model)
    weights = safetensors_bytes(arrays, {"format": "pt"})  # "pt": PyTorch's tensors, for Hugging Face's loaders
    description = {"format": "nnpipe export", "version": 1, "nnpipe": __version__, "run": str(run.path),
                   "checkpoint": checkpoint, "model": run.config.model.name, "weights": path.name}
    if kind == "word-vector":
        description.update(tables=list(arrays), default_vectors=model.default_vectors, words=run.vocabulary.words)
    else:
        shape, classes = run.image_kind
        description.update(input_shape=list(shape), classes=list(classes),
                           normalisation={"mean": list(run.config.data.mean), "std": list(run.config.data.std)},
                           layers=[{"type": layer.kind, "args": layer.args} for layer in layers])
    write_output(path, lambda handle: handle.write(weights), "output")
    sidecar = path.with_suffix(".json")
    write_output(sidecar, lambda handle: handle.write(json.dumps(description).encode() + b"\n"), "output")
    return [path, sidecar]


def _plain_layers(run, model, to):
    """The classifier as PyTorch's layers (what both formats write), or a RunError naming
    the layer that has none, before anything is written."""
    try:
        return plain_layers(model)
    except ValueError as exc:
        raise RunError(f"{run.path}: --format {to} writes the model as PyTorch's layers, and {exc} "
                       f"({run.config.model.name} model)") from None
