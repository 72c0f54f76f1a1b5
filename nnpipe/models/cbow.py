"""Continuous bag of words with negative sampling (Mikolov et al. 2013; word2vec.c's
``-cbow 1``): the mean of the input vectors of a centre word's context predicts the
centre's output vector against K negatives.  The tables are skip-gram's, the input
vectors drawn wider (``init_range`` 4: U(-4/D, 4/D), where word2vec.c draws 0.5 and
gensim 4 draws 1): a window's mean of several small random rows starts smaller still, and
over eight seeds on the shipped corpora the analogies rose with the range up to 4 (0.149
at 0.5, 0.156 at 4; BENCHMARKS.md has the grid).  The text task makes one window per
centre word (dynamic window, subsampling, unigram^0.75 negatives as for skip-gram), and
``F.cbow_ns`` gives both tables sparse-row gradients."""
from __future__ import annotations

from dataclasses import dataclass

from ..options import Positive
from .model_registry import MODELS
from .skipgram import SkipGram, SkipGramOptions, needs_vocabulary
from .word_tables import ContextWindows


@dataclass
class CBOWOptions(SkipGramOptions):
    init_range: Positive = 4.0  # input vectors start U(-init_range/dim, init_range/dim)


class CBOW(SkipGram):
    batch_kind = ContextWindows


@MODELS.register("cbow", CBOWOptions, tags=("word_vectors", "word_windows", "window_per_centre"))
def build_cbow(options: CBOWOptions, rng, vocab_size, **_):
    needs_vocabulary("cbow", vocab_size)
    return CBOW(vocab_size, options.dim, rng, options.init_range)
