"""Text corpora for word2vec: tokenising, a vocabulary, frequent-word subsampling,
dynamic windows and negative sampling, all vectorised over the token array.

A corpus is read once (UTF-8, plain or .gz, streamed line by line); each line is a
sentence and windows never cross lines.  The encoded corpus (word ids and line starts)
is cached, keyed by the files and the vocabulary settings.
"""
from __future__ import annotations

import collections
import gzip
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..kernels import lazy, use_compiled
from .files import (
    DataError,
    cache_dir,
    cache_key,
    data_root,
    read_cache,
    require,
    status,
    verify_shipped,
    write_cache,
)

word2vec = lazy("word2vec")

SHIPPED_CORPORA = [
    "corpus/kjv-bible.txt.gz", "corpus/austen-novels.txt.gz", "corpus/shakespeare-plays.txt.gz",
    "corpus/melville-moby-dick.txt.gz", "corpus/enwiki-sample.txt.gz", "corpus/wordnet-glosses.txt.gz",
]
TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*")


def tokenize(line: str, pattern=TOKEN):
    """Lower-cased words of letters (with inner apostrophes: don't, o'er)."""
    return pattern.findall(line.lower())


def read_lines(path: Path):
    """Lines of a UTF-8 text file, gzip-compressed or not, streamed."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            yield from handle
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read as UTF-8 text ({exc})") from None


@dataclass
class Vocabulary:
    words: list  # most frequent first (ties alphabetical)
    counts: np.ndarray  # int64, aligned with words

    def __post_init__(self):
        self.index = {word: i for i, word in enumerate(self.words)}

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.index

    def save(self, path):
        """vocab.tsv: one ``word<TAB>count`` line per word, most frequent first."""
        tmp = Path(path).with_name(".vocab.tsv.tmp")
        tmp.write_text("".join(f"{w}\t{c}\n" for w, c in zip(self.words, self.counts.tolist())))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        words, counts = [], []
        try:
            for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
                word, count = line.split("\t")
                words.append(word)
                counts.append(int(count))
        except FileNotFoundError:
            raise DataError(f"vocabulary not found: {path}") from None
        except ValueError:
            raise DataError(f"{path}:{number}: expected 'word<TAB>count'") from None
        return cls(words, np.array(counts, dtype=np.int64))


@dataclass
class Corpus:
    vocab: Vocabulary
    ids: np.ndarray  # int32 word ids of every in-vocabulary token, in order
    sentence_starts: np.ndarray  # int64 offsets into ids where each sentence begins

    @property
    def sentence_of(self):
        """The sentence number of every token."""
        marks = np.zeros(len(self.ids), dtype=np.int32)
        marks[self.sentence_starts[1:]] = 1
        return np.cumsum(marks, dtype=np.int32)


def corpus_paths(files=None, root=None):
    root = data_root(root)
    names = files or SHIPPED_CORPORA
    return [require(Path(name) if Path(name).is_absolute() else root / name, "corpus file") for name in names]


def load_corpus(files=None, root=None, min_count=5, max_vocab=None) -> Corpus:
    """Tokenise the files, build the vocabulary (words seen ``min_count`` times, at most
    ``max_vocab`` of them) and encode the corpus, dropping out-of-vocabulary words."""
    paths = corpus_paths(files, root)
    key = cache_key(paths, min_count=min_count, max_vocab=max_vocab, token=TOKEN.pattern)
    cached = cache_dir() / f"corpus-{key}.npz"
    saved = read_cache(cached, ("words", "counts", "ids", "sentence_starts"))
    if saved is not None:
        return Corpus(Vocabulary(saved["words"].tolist(), saved["counts"]), saved["ids"], saved["sentence_starts"])
    for path in paths:
        verify_shipped(path)
    with status(f"tokenising {len(paths)} corpus file(s) (first use; cached afterwards in {cached.parent})"):
        sentences = [tokenize(line) for path in paths for line in read_lines(path)]
    sentences = [s for s in sentences if s]
    counts = collections.Counter(word for sentence in sentences for word in sentence)
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    if max_vocab:
        kept = kept[:max_vocab]
    if not kept:
        raise DataError(f"no word occurs {min_count} times in {', '.join(map(str, paths))}")
    vocab = Vocabulary(kept, np.array([counts[w] for w in kept], dtype=np.int64))
    index = vocab.index
    encoded = [[index[w] for w in sentence if w in index] for sentence in sentences]
    encoded = [s for s in encoded if s]
    lengths = np.array([len(s) for s in encoded], dtype=np.int64)
    ids = np.fromiter((i for s in encoded for i in s), dtype=np.int32, count=int(lengths.sum()))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    write_cache(cached, words=np.array(vocab.words), counts=vocab.counts, ids=ids, sentence_starts=starts)
    return Corpus(vocab, ids, starts)


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
