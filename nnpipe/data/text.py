"""Text corpora for word2vec: the prepared corpus (a token store), frequent-word
subsampling, dynamic windows and negative sampling, all vectorised over token arrays.
Windows never cross sentences (lines, or pieces of a long line)."""
from __future__ import annotations

import numpy as np

from ..kernels import lazy, use_compiled
from .token_store import VocabularySettings, prepare

word2vec = lazy("word2vec")

def load_corpus(files=None, root=None, min_count=5, max_vocab=None, max_vocab_size=None, tokenizer="words"):
    """The token store of a corpus (see :mod:`nnpipe.data.token_store`): word ids and
    sentence starts as memory maps, and the vocabulary of the words seen ``min_count``
    times (at most ``max_vocab`` of them); prepared on first use, then read from the cache."""
    return prepare(files, root, VocabularySettings(min_count, max_vocab, max_vocab_size, tokenizer))


def keep_probabilities(counts, sample):
    """Mikolov's subsampling (as in word2vec.c and gensim): a word of frequency f is kept
    with probability (√(f/t) + 1)·t/f, t = sample · total count; 1 when sample is 0."""
    if not sample:
        return np.ones(len(counts))
    threshold = sample * counts.sum()
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1) * threshold / counts)


class NegativeSampler:
    """Draws word ids from the unigram distribution raised to 0.75 by Walker's alias
    method: one uniform number u per draw, whose integer part of u·V picks a word and
    whose fraction decides between that word and its alias.  Exact, O(1) per draw, and
    its two tables (one entry per word) stay in cache, unlike word2vec.c's table of 10⁸
    entries."""

    def __init__(self, counts, power=0.75):
        weights = counts.astype(np.float64) ** power
        scaled = weights * len(weights) / weights.sum()  # mean 1
        self.keep = np.ones(len(weights))
        self.alias = np.arange(len(weights))
        small = [i for i in range(len(weights)) if scaled[i] < 1]  # setup only: one pass over the vocabulary
        large = [i for i in range(len(weights)) if scaled[i] >= 1]
        while small and large:
            low, high = small.pop(), large[-1]
            self.keep[low], self.alias[low] = scaled[low], high
            scaled[high] -= 1 - scaled[low]
            if scaled[high] < 1:
                small.append(large.pop())

    def sample(self, rng, shape):
        uniform = rng.random(shape)
        if use_compiled(uniform):
            return word2vec.alias_draw(uniform, self.keep, self.alias)
        scaled = uniform * len(self.keep)
        words = scaled.astype(np.int64)
        return np.where(scaled - words < self.keep[words], words, self.alias[words])


def skipgram_pairs(ids, sentence_of, centers, window, rng):
    """(window of each pair, context ids) for the centre positions ``centers`` of a token
    stream; the window of a pair is the index in ``centers`` of its centre.

    Each centre draws its own window b uniform in 1..window (word2vec's dynamic window)
    and pairs with every token at distance ≤ b in the same sentence.  Pairs come centre
    by centre (then by distance, left before right).  Vectorised over the centres: one
    pass per distance, never a loop over words.
    """
    reach = rng.integers(1, window + 1, len(centers))
    if use_compiled(ids, sentence_of, centers):
        return word2vec.skipgram_pairs(ids, sentence_of, centers, reach, window)
    window_out, context_out = [], []
    for distance in range(1, window + 1):
        within = reach >= distance
        for sign in (-1, 1):
            neighbours = centers + sign * distance
            valid = within & (neighbours >= 0) & (neighbours < len(ids))
            same = np.zeros_like(valid)
            same[valid] = sentence_of[centers[valid]] == sentence_of[neighbours[valid]]
            window_out.append(np.flatnonzero(same))
            context_out.append(ids[neighbours[same]])
    windows = np.concatenate(window_out)
    order = np.argsort(windows, kind="stable")  # centre by centre, as the compiled kernel makes them
    return windows[order], np.concatenate(context_out)[order]
