"""GloVe (Pennington, Socher and Manning 2014): word vectors W, context vectors W̃ and
biases b, b̃ fitted to the logarithm of the co-occurrence counts by the weighted least
squares of ``F.glove``, entry by entry in mini-batches, with AdaGrad on sparse rows.
Initialised as the GloVe code does, U(-0.5/D, 0.5/D); the word's vector is W + W̃."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .. import nn
from ..options import AtLeastOne
from .model_registry import MODELS
from .skipgram import needs_vocabulary
from .word_tables import WordVectorModel


@dataclass
class GloVeOptions:
    dim: AtLeastOne = 100  # vector size


class GloVeEntries(NamedTuple):
    """What GloVe gives its loss: its four tables and a batch of co-occurrence entries."""

    words: object  # Parameter (V, D)
    contexts: object  # Parameter (V, D)
    word_bias: object  # Parameter (V, 1)
    context_bias: object  # Parameter (V, 1)
    rows: object  # (B,) word ids
    cols: object  # (B,) context ids
    counts: object  # (B,) co-occurrence counts X_ij > 0


class GloVe(WordVectorModel):
    default_vectors = "sum"

    def __init__(self, vocab_size, dim, rng):
        super().__init__()
        bound = 0.5 / dim
        self.words, self.contexts = (nn.Embedding(vocab_size, dim, rng=rng, scale=bound) for _ in range(2))
        self.word_bias, self.context_bias = (nn.Embedding(vocab_size, 1, rng=rng, scale=bound) for _ in range(2))

    def forward(self, batch):
        """``batch`` is (word ids (B,), context ids (B,), counts (B,))."""
        tables = (self.words, self.contexts, self.word_bias, self.context_bias)
        return GloVeEntries(*(table.weight for table in tables), *batch)

    def tables(self):
        return self.words.weight.data, self.contexts.weight.data


@MODELS.register("glove", GloVeOptions, tags=("word_vectors", "word_cooccurrence", "loss:glove"))
def build_glove(options: GloVeOptions, rng, vocab_size, **_):
    needs_vocabulary("glove", vocab_size)
    return GloVe(vocab_size, options.dim, rng)
