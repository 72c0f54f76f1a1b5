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
import shutil
from pathlib import Path

import numpy as np

from ..backend import is_cupy_array, to_numpy
from ..data.files import parse_json, save_npz, sync_folder, write_atomically
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


def link_checkpoint(source, path):
    """Give the checkpoint ``source`` the second name ``path`` (``best`` or ``last`` beside a
    checkpoint of the same state): a hard link renamed into place, so ``path`` is never
    seen half-made and the state is written once, however large the tables.  Checkpoints
    are only ever replaced, never rewritten, so a later one under either name leaves the
    other as it was.  Where the filesystem has no hard links, a copy."""
    source, path = Path(source), Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # the name resume() clears after a kill -9
    try:
        tmp.unlink(missing_ok=True)
        os.link(source, tmp)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        with open(source, "rb") as original:
            write_atomically(path, lambda handle: shutil.copyfileobj(original, handle, 1 << 20))
    else:
        sync_folder(path)


MAX_MANIFEST_BYTES = 64 << 20  # a manifest holds counters and names: a few kilobytes


def _memory_bytes():
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return 1 << 40


def _member_bytes(archive, name, path):
    """The declared size of npz member ``name`` (its zip entry, before reading it)."""
    try:
        return archive.zip.getinfo(f"{name}.npy").file_size
    except KeyError:
        raise CheckpointError(f"{path}: its manifest names an array {name!r} that it does not hold") from None


def _array_names(skeleton):
    """Every array path that a manifest refers to, found without recursion."""
    names, pending = [], [skeleton]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if set(node) == {ARRAY} and isinstance(node[ARRAY], str):
                names.append(node[ARRAY])
            else:
                pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return names


def load_checkpoint(path):
    """(arrays by path, manifest) of a checkpoint, or CheckpointError saying what is wrong.
    Only the manifest and the arrays it names are read, each size checked first: another
    member (a zip bomb, say) is never decompressed."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if MANIFEST not in archive.files:
                raise CheckpointError(f"{path}: not an nnpipe checkpoint (no manifest)")
            if _member_bytes(archive, MANIFEST, path) > MAX_MANIFEST_BYTES:
                raise CheckpointError(f"{path}: its manifest declares more than {MAX_MANIFEST_BYTES >> 20} MB")
            try:
                manifest = parse_json(archive[MANIFEST].tobytes().decode())
            except (ValueError, UnicodeDecodeError) as exc:
                raise CheckpointError(f"{path}: its manifest is damaged ({exc})") from None
            version = manifest.get("format_version") if isinstance(manifest, dict) else None
            if version not in (1, FORMAT_VERSION):
                raise CheckpointError(f"{path}: checkpoint format {version!r}, this nnpipe reads format "
                                      f"{FORMAT_VERSION}")
            # format 1 (nnpipe 0.1) kept its arrays beside a flat manifest, under model/ and optim/
            names = (_array_names(manifest) if version == FORMAT_VERSION
                     else [name for name in archive.files if name.startswith(("model/", "optim/"))])
            total = sum(_member_bytes(archive, name, path) for name in names)
            if total > _memory_bytes():
                raise CheckpointError(f"{path}: its arrays declare {total / 1e9:.1f} GB, more than this machine's "
                                      "memory")
            arrays = {name: archive[name] for name in names}
        for name, array in arrays.items():  # weights a diverged or damaged run left are no model
            if name.startswith("model/") and array.dtype.kind == "f" and not np.isfinite(array).all():
                raise CheckpointError(f"{path}: {name[len('model/'):]} holds NaN or infinite weights; "
                                      "use another checkpoint (--checkpoint last/best, or an earlier step-N.npz)")
    except CheckpointError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "pickle" in str(exc).lower():
            raise CheckpointError(f"{path}: holds pickled objects; refused (nnpipe never unpickles)") from None
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({exc})") from None
    except Exception as exc:  # noqa: BLE001  (zip, header and tokenizer errors all mean damage)
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({type(exc).__name__}: {exc})") from None
    return arrays, manifest


def read_state(path):
    """The whole state tree of a checkpoint written by this version (for resuming)."""
    arrays, manifest = load_checkpoint(path)
    if manifest["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {manifest['format_version']} was written by nnpipe 0.1; "
                              f"resuming needs format {FORMAT_VERSION} (eval, embed and predict still read it)")
    try:
        return _unflatten(manifest, arrays)
    except RecursionError:
        raise CheckpointError(f"{path}: its manifest is nested too deeply") from None


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
