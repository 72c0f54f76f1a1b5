"""Skip-gram with negative sampling (Mikolov et al. 2013).

Two tables: input (centre) vectors initialised U(-r/D, r/D), r = ``init_range`` (0.5 as in
word2vec.c; gensim 4 draws r = 1), and output (context) vectors initialised to zero.  A
batch is (centre, context, negatives) word ids (grouped in windows that may share their
negatives; see ``F.skipgram_ns``); the loss is -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c).
The model hands the loss its two tables with the ids (:class:`WordPairs`), so the
``sgns`` loss looks the vectors up itself, in one fused op (``F.skipgram_ns``); both
tables get sparse-row gradients, so an optimizer step touches only the rows of the batch,
or, with SGD in the trainer (``train.fused_update``), the op applies word2vec's update
itself, window by window.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import nn
from ..options import AtLeastOne, Positive
from .model_registry import MODELS
from .word_tables import WordPairs, WordVectorModel


@dataclass
class SkipGramOptions:
    dim: AtLeastOne = 100  # vector size
    init_range: Positive = 0.5  # input vectors start U(-init_range/dim, init_range/dim)


class SkipGram(WordVectorModel):
    batch_kind = WordPairs

    def __init__(self, vocab_size, dim, rng, init_range):
        super().__init__()
        self.center = nn.Embedding(vocab_size, dim, rng=rng, scale=init_range / dim)
        self.context = nn.Embedding(vocab_size, dim, scale=0)

    def forward(self, batch):
        """``batch`` is (window centres (W,), contexts (B,), pair windows (B,), negatives (W, K))."""
        return self.batch_kind(self.center.weight, self.context.weight, *batch)

    def tables(self):
        return self.center.weight.data, self.context.weight.data


def needs_vocabulary(name, vocab_size):
    if not vocab_size:
        raise ValueError(f"{name} needs a vocabulary: build it from a text dataset first")


@MODELS.register("skipgram", SkipGramOptions, tags=("word_vectors", "word_windows"))
def build_skipgram(options: SkipGramOptions, rng, vocab_size, **_):
    needs_vocabulary("skipgram", vocab_size)
    return SkipGram(vocab_size, options.dim, rng, options.init_range)
