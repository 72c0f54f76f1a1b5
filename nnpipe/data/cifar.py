"""CIFAR-10, binary version: records of 1 label byte + 3072 pixel bytes (3×32×32, RGB
planes), in data_batch_1..5.bin and test_batch.bin, read straight with NumPy (no pickle).
The official ``cifar-10-binary.tar.gz`` archive is read without unpacking it."""
from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from .files import DataError, cache_dir

RECORD = 1 + 3 * 32 * 32
TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_FILE = "test_batch.bin"
ARCHIVE = "cifar-10-binary.tar.gz"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def parse_batch(raw: bytes, name: str):
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) from one binary batch."""
    if not raw or len(raw) % RECORD:
        raise DataError(f"{name}: {len(raw)} bytes is not a whole number of {RECORD}-byte CIFAR-10 records")
    records = np.frombuffer(raw, np.uint8).reshape(-1, RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= len(CLASSES):
        raise DataError(f"{name}: label {labels.max()} is out of range 0..9 (not a CIFAR-10 batch?)")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def _read_archive(archive: Path, names):
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            missing = [n for n in names if n not in members]
            if missing:
                raise DataError(f"{archive}: archive lacks {', '.join(missing)}")
            return {n: tar.extractfile(members[n]).read() for n in names}
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{archive}: cannot read the archive ({exc})") from None


def _read_members(root: Path, names):
    """Raw bytes of each named batch, from a folder or the official archive in ``root``,
    else in the cache folder that ``nnpipe data fetch cifar10`` downloads into."""
    places = (root, cache_dir() / "cifar10")
    for place in places:
        for folder in (place, place / "cifar-10-batches-bin"):
            if all((folder / n).is_file() for n in names):
                return {n: (folder / n).read_bytes() for n in names}
        if (place / ARCHIVE).is_file():
            return _read_archive(place / ARCHIVE, names)
    raise DataError(f"CIFAR-10 binary batches not found in {' or '.join(map(str, places))} (expected "
                    f"{', '.join(names)} or {ARCHIVE}); download them with: nnpipe data fetch cifar10")


def load_cifar10(root):
    """((train_x, train_y), (test_x, test_y)) with images uint8 NCHW."""
    raw = _read_members(Path(root), TRAIN_FILES + [TEST_FILE])
    train = [parse_batch(raw[n], n) for n in TRAIN_FILES]
    test = parse_batch(raw[TEST_FILE], TEST_FILE)
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])), test
