"""MNIST (or any data set in its IDX layout): four files in one folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .files import DataError, cache_dir, cache_key, read_cache, require, status, verify_shipped, write_cache
from .idx import read_idx

CLASSES = 10  # digits; a label outside 0..9 means a damaged or foreign label file
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
    saved = read_cache(cached, ("train_x", "train_y", "test_x", "test_y"))
    if saved is not None:
        return (saved["train_x"], saved["train_y"]), (saved["test_x"], saved["test_y"])
    for path in paths.values():
        verify_shipped(path)
    arrays = {}
    with status(f"decoding the IDX files in {root} (first use; cached afterwards)"):
        for split in ("train", "test"):
            arrays.update(_decode_split(paths, split))
    write_cache(cached, **arrays)
    return (arrays["train_x"], arrays["train_y"]), (arrays["test_x"], arrays["test_y"])


def _decode_split(paths, split):
    """Images (N, 1, H, W) and labels of one split, checked to pair and to be digits."""
    images, labels = read_idx(paths[f"{split}_images"]), read_idx(paths[f"{split}_labels"])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{paths[f'{split}_images']}: {images.shape} images do not pair with "
                        f"{labels.shape} labels in {paths[f'{split}_labels']}")
    bad = np.flatnonzero(labels >= CLASSES)
    if len(bad):
        raise DataError(f"{paths[f'{split}_labels']}: label {int(labels[bad[0]])} at index {int(bad[0])} is out of "
                        f"range; MNIST has {CLASSES} classes (0..{CLASSES - 1})")
    return {f"{split}_x": images[:, None], f"{split}_y": labels.astype(np.int64)}
