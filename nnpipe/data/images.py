"""Image classification data: train/validation/test splits, normalised float32 NCHW."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cifar import CLASSES as CIFAR_CLASSES
from .cifar import load_cifar10
from .files import DataError, data_root
from .mnist import CLASSES as MNIST_CLASSES
from .mnist import load_idx_dataset


@dataclass
class ImageData:
    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: list
    mean: list
    std: list

    @property
    def input_shape(self):
        return self.train_x.shape[1:]

    def split(self, name):
        if name not in ("train", "val", "test"):
            raise DataError(f"unknown split {name!r}; valid: train, val, test")
        return getattr(self, f"{name}_x"), getattr(self, f"{name}_y")


def split_validation(count, val_size, seed):
    """(train indices, validation indices): a seeded permutation, the same every time."""
    if not 0 <= val_size < count:
        raise DataError(f"validation split of {val_size} leaves no training data out of {count}")
    order = np.random.default_rng([seed, 0x5EED]).permutation(count)
    return np.sort(order[val_size:]), np.sort(order[:val_size])


def channel_stats(images):
    """Exact per-channel mean and std of uint8 NCHW images on the 0..1 scale, from integer
    sums (255² fits in uint16), with no float64 copy of the images."""
    mean, std = [], []
    for channel in range(images.shape[1]):
        pixels = images[:, channel]
        count = pixels.size
        total = int(pixels.sum(dtype=np.uint64))
        squares = pixels.astype(np.uint16)
        squares *= squares
        m = total / count
        variance = int(squares.sum(dtype=np.uint64)) / count - m * m
        mean.append(m / 255)
        std.append(float(np.sqrt(variance)) / 255)
    return mean, std


def normalise(images, mean, std):
    """uint8 NCHW -> float32 (x/255 - mean) / std per channel, through a lookup table."""
    levels = np.arange(256, dtype=np.float64) / 255
    out = np.empty(images.shape, np.float32)
    for channel, (m, s) in enumerate(zip(mean, std)):
        table = ((levels - m) / s).astype(np.float32)
        out[:, channel] = table[images[:, channel]]
    return out


def load_image_data(name, root=None, val_split=5000, seed=0, mean=None, std=None, files=None):
    """Load ``mnist`` (IDX) or ``cifar10`` (binary), carve a seeded validation split from
    the training set, and normalise with per-channel statistics of the training split
    (or with the given ``mean``/``std``, as when evaluating a finished run)."""
    root = data_root(root)
    if name == "mnist":
        (train_x, train_y), (test_x, test_y) = load_idx_dataset(root, files)
        classes = [str(d) for d in range(MNIST_CLASSES)]
    elif name == "cifar10":
        (train_x, train_y), (test_x, test_y) = load_cifar10(root)
        classes = list(CIFAR_CLASSES)
    else:
        raise DataError(f"unknown image data set {name!r}; valid: mnist, cifar10")
    train_idx, val_idx = split_validation(len(train_x), val_split, seed)
    fit_x = train_x[train_idx]
    if mean is None or std is None:
        mean, std = channel_stats(fit_x)
    return ImageData(
        normalise(fit_x, mean, std), train_y[train_idx],
        normalise(train_x[val_idx], mean, std), train_y[val_idx],
        normalise(test_x, mean, std), test_y,
        classes, list(mean), list(std),
    )
