"""Word-word co-occurrence counts within a window, for GloVe and PPMI-SVD.

X_ij adds, for every token i and every token j at distance d ≤ window in the same
sentence (out-of-vocabulary words removed first, as word2vec and GloVe's cooccur do),
1/d ("harmonic", GloVe's weighting) or 1 ("uniform"); the matrix is symmetric.  It is
counted from the token store in chunks of :data:`CHUNK` tokens, with scipy.sparse, one
pass per distance (never a V×V array), and cached in the store's folder.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .files import read_cache, status, write_cache
from .text import load_corpus
from .token_store import Corpus

WEIGHTINGS = ("harmonic", "uniform")
CHUNK = 1 << 24  # tokens counted at a time: memory stays bounded whatever the corpus size


@dataclass
class Cooccurrence:
    corpus: Corpus
    rows: np.ndarray  # int32, sorted by row then column
    cols: np.ndarray  # int32
    counts: np.ndarray  # float64 weighted counts, all > 0


def count_cooccurrences(corpus: Corpus, window: int, weighting: str = "harmonic", chunk=CHUNK):
    """(rows, cols, counts) of the symmetric window co-occurrence matrix of ``corpus``."""
    import scipy.sparse

    size, total_tokens = len(corpus.vocab), len(corpus.ids)
    total = scipy.sparse.csr_matrix((size, size))
    for first in range(0, total_tokens, chunk):
        last = min(first + chunk, total_tokens)  # left tokens of this chunk; their right ones reach further
        reach = min(last + window, total_tokens)
        ids = np.asarray(corpus.ids[first:reach])
        sentence_of = corpus.sentence_of(np.arange(first, reach))
        for distance in range(1, window + 1):
            lefts = min(last, total_tokens - distance) - first
            if lefts <= 0:
                continue
            same = sentence_of[:lefts] == sentence_of[distance:distance + lefts]
            weight = 1.0 / distance if weighting == "harmonic" else 1.0
            left, right = ids[:lefts][same], ids[distance:distance + lefts][same]
            total = total + scipy.sparse.csr_matrix((np.full(len(left), weight), (left, right)), shape=(size, size))
    total = (total + total.T).tocsr()
    total.sort_indices()
    coo = total.tocoo()
    return coo.row.astype(np.int32), coo.col.astype(np.int32), coo.data


def load_cooccurrence(files=None, root=None, min_count=5, max_vocab=None, window=10, weighting="harmonic",
                      max_vocab_size=None, tokenizer="words"):
    """The co-occurrence counts of a corpus, counted once from its token store and kept in
    the store's folder."""
    corpus = load_corpus(files, root, min_count, max_vocab, max_vocab_size, tokenizer)
    cached = corpus.folder / f"cooccurrence-{window}-{weighting}.npz"
    saved = read_cache(cached, ("rows", "cols", "counts"))
    if saved is None:
        with status(f"counting co-occurrences within {window} words (first use; cached afterwards)"):
            rows, cols, counts = count_cooccurrences(corpus, window, weighting)
        write_cache(cached, rows=rows, cols=cols, counts=counts)
        saved = {"rows": rows, "cols": cols, "counts": counts}
    return Cooccurrence(corpus, saved["rows"], saved["cols"], saved["counts"])
