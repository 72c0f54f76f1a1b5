"""Checkpoints: one ``.npz`` of named arrays plus a JSON manifest stored inside it.

Written atomically (temp file in the same folder, flush, fsync, ``os.replace``), read
with ``allow_pickle=False``, and validated before anything is loaded into a model.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..backend import to_numpy

FORMAT_VERSION = 1
MANIFEST = "__manifest__"


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, of another format, or does not fit the model."""


def save_checkpoint(path, arrays: dict, manifest: dict):
    """Write ``arrays`` and ``manifest`` to ``path`` so that it is never seen half-written."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    payload = {name: np.ascontiguousarray(to_numpy(array)) for name, array in arrays.items()}
    manifest = dict(manifest, format_version=FORMAT_VERSION)
    payload[MANIFEST] = np.frombuffer(json.dumps(manifest).encode(), np.uint8)
    try:
        with open(tmp, "wb") as handle:
            np.savez(handle, **payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError:
        pass


def load_checkpoint(path):
    """(arrays, manifest) from a checkpoint, or CheckpointError saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if MANIFEST not in archive.files:
                raise CheckpointError(f"{path}: not an nnpipe checkpoint (no manifest)")
            arrays = {name: archive[name] for name in archive.files}
    except CheckpointError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "pickle" in str(exc).lower():
            raise CheckpointError(f"{path}: holds pickled objects; refused (nnpipe never unpickles)") from None
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({exc})") from None
    except Exception as exc:  # noqa: BLE001  (zip, header and tokenizer errors all mean damage)
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({type(exc).__name__}: {exc})") from None
    try:
        manifest = json.loads(arrays.pop(MANIFEST).tobytes().decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: its manifest is damaged ({exc})") from None
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {version!r}, this nnpipe reads format {FORMAT_VERSION}")
    return arrays, manifest


def check_fits(path, manifest, model):
    """Raise CheckpointError unless the checkpoint's parameters match ``model``'s shapes."""
    saved = {name: tuple(shape) for name, shape, _ in manifest.get("parameters", [])}
    own = {name: tuple(array.shape) for name, array in model.state_dict().items()}
    problems = [f"{name} is {saved[name]} in the checkpoint but {own[name]} in the model"
                for name in own if name in saved and saved[name] != own[name]]
    missing = [name for name in own if name not in saved]
    extra = [name for name in saved if name not in own]
    if missing:
        problems.append("model has no saved " + ", ".join(missing))
    if extra:
        problems.append("checkpoint has unknown " + ", ".join(extra))
    if problems:
        raise CheckpointError(f"{path} does not fit the configured model: " + "; ".join(problems))
