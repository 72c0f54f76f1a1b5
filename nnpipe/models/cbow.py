"""Continuous bag of words with negative sampling (Mikolov et al. 2013; word2vec.c's
``-cbow 1``): the mean of the input vectors of a centre word's context predicts the
centre's output vector against K negatives.  The tables and initialisation are
skip-gram's; the text task makes one window per centre word (dynamic window,
subsampling, unigram^0.75 negatives as for skip-gram), and ``F.cbow_ns`` gives both
tables sparse-row gradients."""
from __future__ import annotations

from .model_registry import MODELS
from .skipgram import SkipGram, SkipGramOptions, needs_vocabulary
from .word_tables import ContextWindows


class CBOW(SkipGram):
    batch_kind = ContextWindows


@MODELS.register("cbow", SkipGramOptions, tags=("word_vectors", "word_windows", "window_per_centre"))
def build_cbow(options: SkipGramOptions, rng, vocab_size, **_):
    needs_vocabulary("cbow", vocab_size)
    return CBOW(vocab_size, options.dim, rng)
