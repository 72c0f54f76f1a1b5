"""Mini-batches by fancy indexing on preloaded arrays, with a position that checkpoints.

The order of epoch e is a permutation drawn from ``default_rng([seed, e])`` and each
batch's augmentation from ``default_rng([seed, e, b])``, so the loader's whole state is
(epoch, batch index): a resumed run sees exactly the batches it would have seen.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module


def random_crop_flip(images, rng, padding=4, flip=True):
    """Random crops of zero-padded images and random horizontal flips, for a whole batch
    at once (one gather, no per-sample loop)."""
    n, c, h, w = images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dy = rng.integers(0, 2 * padding + 1, n)
    dx = rng.integers(0, 2 * padding + 1, n)
    rows = dy[:, None] + np.arange(h)  # (n, h)
    cols = dx[:, None] + np.arange(w)  # (n, w)
    if flip:
        mirrored = rng.random(n) < 0.5
        cols[mirrored] = cols[mirrored, ::-1]
    return padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


class Position:
    """Where a seeded loader stands: (epoch, batch index) and its seed are all it takes to
    draw the same batches again, so they are its whole checkpointed state."""

    def __init__(self, seed):
        self.seed, self.epoch, self.batch_index = seed, 0, 0

    def state_dict(self):
        return {"epoch": self.epoch, "batch_index": self.batch_index, "seed": self.seed}

    def load_state_dict(self, state):
        self.epoch, self.batch_index, self.seed = int(state["epoch"]), int(state["batch_index"]), int(state["seed"])


class ItemBatches(Position):
    """A position in a sequence of ``items`` (corpus tokens, co-occurrence entries) walked
    ``per_batch`` at a time; len() is the number of batches per epoch."""

    def __init__(self, items, per_batch, seed):
        super().__init__(seed)
        self.items, self.per_batch = items, per_batch

    def __len__(self):
        return -(-self.items // self.per_batch)

    def span(self, index=None):
        """(start, stop) of batch ``index``'s items (default: the current batch's)."""
        start = (self.batch_index if index is None else index) * self.per_batch
        return start, min(start + self.per_batch, self.items)


class BatchLoader(Position):
    """Yields (x, y) batches of ``batch_size`` from arrays ``x`` and ``y``: NumPy arrays,
    or arrays already on a GPU (then the epoch's order is uploaded once and batches are
    gathered there; ``augment`` needs NumPy arrays)."""

    def __init__(self, x, y, batch_size, shuffle=True, drop_last=False, seed=0, augment=None):
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        super().__init__(seed)
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.augment = augment

    def __len__(self):
        full, rest = divmod(len(self.x), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def order(self, epoch):
        if not self.shuffle:
            return np.arange(len(self.x))
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.x))

    def __iter__(self):
        """The rest of the current epoch; the position advances as batches are taken."""
        order = get_array_module(self.x).asarray(self.order(self.epoch))
        while self.batch_index < len(self):
            start = self.batch_index * self.batch_size
            chosen = order[start:start + self.batch_size]
            x = self.x[chosen]
            if self.augment is not None:
                x = self.augment(x, np.random.default_rng([self.seed, self.epoch, self.batch_index]))
            self.batch_index += 1
            yield x, self.y[chosen]
        self.epoch, self.batch_index = self.epoch + 1, 0
