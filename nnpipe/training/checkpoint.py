"""Checkpoints: one ``.npz`` of named arrays plus a JSON manifest stored inside it.

A checkpoint is a tree of states, each made by its owner's ``state_dict()``: the
trainer's counters at the root, ``model``, ``optimizer`` and ``task`` below it.  Arrays
anywhere in the tree are stored as npz entries named by their path (``model/0.weight``,
``optimizer/state/0/m``); everything else goes into the manifest, where each array is
replaced by ``{"__array__": path}``.  Written atomically (temp file in the same folder,
flush, fsync, ``os.replace``), read with ``allow_pickle=False``, and validated before
anything is loaded into a model.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..backend import is_cupy_array, to_numpy
from ..data.files import save_npz
from ..nn import StateDictError
from .rundir import RunError, checkpoint_path

FORMAT_VERSION = 2
MANIFEST = "__manifest__"
ARRAY = "__array__"


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, of another format, or does not fit the model."""


def _flatten(tree, path, arrays):
    """The JSON skeleton of ``tree``, moving every array into ``arrays`` under its path."""
    if isinstance(tree, np.ndarray) or is_cupy_array(tree):
        arrays[path] = np.ascontiguousarray(to_numpy(tree))
        return {ARRAY: path}
    if isinstance(tree, dict):
        return {key: _flatten(value, f"{path}/{key}" if path else str(key), arrays) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_flatten(value, f"{path}/{index}", arrays) for index, value in enumerate(tree)]
    return tree


def _unflatten(skeleton, arrays):
    if isinstance(skeleton, dict):
        if set(skeleton) == {ARRAY}:
            return arrays[skeleton[ARRAY]]
        return {key: _unflatten(value, arrays) for key, value in skeleton.items()}
    if isinstance(skeleton, list):
        return [_unflatten(value, arrays) for value in skeleton]
    return skeleton


def save_checkpoint(path, state: dict):
    """Write the state tree to ``path`` so that it is never seen half-written."""
    path = Path(path)
    payload = {}
    manifest = dict(_flatten(state, "", payload), format_version=FORMAT_VERSION)
    payload[MANIFEST] = np.frombuffer(json.dumps(manifest).encode(), np.uint8)
    save_npz(path, payload)
    try:  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError:
        pass


def load_checkpoint(path):
    """(arrays by path, manifest) of a checkpoint, or CheckpointError saying what is wrong."""
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
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version not in (1, FORMAT_VERSION):
        raise CheckpointError(f"{path}: checkpoint format {version!r}, this nnpipe reads format {FORMAT_VERSION}")
    return arrays, manifest


def read_state(path):
    """The whole state tree of a checkpoint written by this version (for resuming)."""
    arrays, manifest = load_checkpoint(path)
    if manifest["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {manifest['format_version']} was written by nnpipe 0.1; "
                              f"resuming needs format {FORMAT_VERSION} (eval, embed and predict still read it)")
    return _unflatten(manifest, arrays)


def model_state(path):
    """The model parameters of a checkpoint of any readable format, by parameter name."""
    arrays, _ = load_checkpoint(path)
    return {key[len("model/"):]: array for key, array in arrays.items() if key.startswith("model/")}


def load_model_weights(model, path):
    """Load a checkpoint's parameters into ``model``, naming any that do not fit."""
    try:
        model.load_state_dict(model_state(path))
    except StateDictError as exc:
        raise CheckpointError(f"{path} does not fit the configured model: {exc}") from None


def find_checkpoint(target, run_dir, which="best") -> Path:
    """The checkpoint a command means: ``target`` itself when it is a file, else
    ``checkpoints/<which>.npz`` of ``run_dir``."""
    if target and Path(target).is_file():
        return Path(target)
    if which not in ("best", "last"):
        raise RunError(f"--checkpoint must be best or last, got {which!r}")
    path = checkpoint_path(run_dir, which)
    if not path.is_file():
        raise CheckpointError(f"run {run_dir} has no checkpoints/{which}.npz (was it trained for at least one epoch?)")
    return path
