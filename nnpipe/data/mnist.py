"""MNIST (or any data set in its IDX layout): four files in one folder."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .files import DataError, cache_dir, cache_key, require, verify_shipped
from .idx import read_idx

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def _decoded_cache(paths):
    """A cache file name that changes whenever any source file changes."""
    return cache_dir() / f"idx-{cache_key(paths)}.npz"


def load_idx_dataset(root, files=None):
    """((train_x, train_y), (test_x, test_y)), images uint8 (N, 1, H, W), labels int64.

    Shipped files are checked against their sha256 on first use; the decoded arrays are
    then cached (``$NNPIPE_CACHE``), so later loads skip gzip and parsing.
    """
    names = dict(MNIST_FILES, **(files or {}))
    unknown = set(names) - set(MNIST_FILES)
    if unknown:
        raise DataError(f"unknown IDX file role(s) {', '.join(sorted(unknown))}; valid: {', '.join(MNIST_FILES)}")
    paths = {role: require(Path(root) / name, f"IDX file for {role}") for role, name in names.items()}
    cached = _decoded_cache(paths.values())
    if cached.is_file():
        try:
            with np.load(cached, allow_pickle=False) as saved:
                return (saved["train_x"], saved["train_y"]), (saved["test_x"], saved["test_y"])
        except (OSError, ValueError, KeyError):
            cached.unlink(missing_ok=True)  # a damaged cache is rebuilt below
    for path in paths.values():
        verify_shipped(path)
    arrays = {}
    for split in ("train", "test"):
        images, labels = read_idx(paths[f"{split}_images"]), read_idx(paths[f"{split}_labels"])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(f"{paths[f'{split}_images']}: {images.shape} images do not pair with "
                            f"{labels.shape} labels in {paths[f'{split}_labels']}")
        arrays[f"{split}_x"], arrays[f"{split}_y"] = images[:, None], labels.astype(np.int64)
    tmp = cached.with_name(cached.stem + f".{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, cached)
    return (arrays["train_x"], arrays["train_y"]), (arrays["test_x"], arrays["test_y"])
