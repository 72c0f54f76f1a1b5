"""Skip-gram with negative sampling (Mikolov et al. 2013).

Two tables: input (centre) vectors initialised U(-0.5/D, 0.5/D) and output (context)
vectors initialised to zero, as in word2vec.c.  A batch is (centre, context, negatives)
word ids (grouped in windows that may share their negatives; see ``F.skipgram_ns``); the
loss is -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c).  The model hands the loss
its two tables with the ids (:class:`WordPairs`), so the ``sgns`` loss looks the vectors
up itself, in one fused op (``F.skipgram_ns``); both tables get sparse-row gradients, so
an optimizer step touches only the rows of the batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .. import nn
from ..backend import to_numpy
from .registry import MODELS


@dataclass
class SkipGramOptions:
    dim: int = 100
    negatives: int = 5  # negative samples per pair, drawn by the text task


class WordPairs(NamedTuple):
    """What a word-vector model gives its loss: the tables and the ids of a batch."""

    center_table: object  # Parameter (V, D): the input vectors
    context_table: object  # Parameter (V, D): the output vectors
    window_centers: object  # (W,) the centre word id of each window
    contexts: object  # (B,) context word ids, pairs sorted by window
    pair_window: object  # (B,) the window of each pair
    negatives: object  # (W, K) negative word ids, shared by a window's pairs


class SkipGram(nn.Module):
    def __init__(self, vocab_size, dim, rng):
        super().__init__()
        self.center = nn.Embedding(vocab_size, dim, rng=rng)
        self.context = nn.Embedding(vocab_size, dim, scale=0)

    def forward(self, batch):
        """``batch`` is (window centres (W,), contexts (B,), pair windows (B,), negatives (W, K))."""
        return WordPairs(self.center.weight, self.context.weight, *batch)

    def vectors(self):
        """The input (centre) embeddings as a NumPy array (V, D)."""
        return to_numpy(self.center.weight.data)


@MODELS.register("skipgram", SkipGramOptions, tags=("word_vectors",))
def build_skipgram(options: SkipGramOptions, rng, vocab_size, **_):
    if not vocab_size:
        raise ValueError("skipgram needs a vocabulary: build it from a text dataset first")
    return SkipGram(vocab_size, options.dim, rng)
