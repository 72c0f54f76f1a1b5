"""What every word-vector model shares: two tables of vectors per word, and the choice of
which to use — "every word has two vectors: use the input vector, sum them, or
concatenate them"."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

import nnpipe.autograd.functions as F

from .. import nn
from ..backend import to_numpy

VECTOR_CHOICES = ("input", "output", "sum", "concat")


class WordVectorModel(nn.Module):
    """A model with an input and an output vector per word; ``default_vectors`` is what
    ``embed`` and the evaluation use unless told otherwise."""

    default_vectors = "input"

    def tables(self):
        """(input vectors, output vectors) as device arrays (V, D)."""
        raise NotImplementedError

    def vectors(self, which=None):
        """The word vectors as a NumPy array: the input or the output table, their sum, or
        the two side by side (V, 2D)."""
        which = which or self.default_vectors
        if which not in VECTOR_CHOICES:
            raise ValueError(f"unknown vectors {which!r}; valid: {', '.join(VECTOR_CHOICES)}")
        inputs, outputs = (to_numpy(t) for t in self.tables())
        if which == "sum":
            return inputs + outputs
        if which == "concat":
            return np.concatenate([inputs, outputs], axis=1)
        return inputs if which == "input" else outputs


class WordPairs(NamedTuple):
    """What skip-gram gives its loss: the tables and the ids of a batch."""

    center_table: object  # Parameter (V, D): the input vectors
    context_table: object  # Parameter (V, D): the output vectors
    window_centers: object  # (W,) the centre word id of each window
    contexts: object  # (B,) context word ids, pairs sorted by window
    pair_window: object  # (B,) the window of each pair
    negatives: object  # (W, K) negative word ids, shared by a window's pairs

    def negative_sampling_loss(self, reduction):
        return F.skipgram_ns(*self, reduction=reduction)


class ContextWindows(WordPairs):
    """What CBOW gives its loss: the same fields, but each window's contexts together
    predict its centre (one window per centre word)."""

    def negative_sampling_loss(self, reduction):
        return F.cbow_ns(*self, reduction=reduction)
