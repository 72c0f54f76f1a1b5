"""Word-word co-occurrence counts within a window, for GloVe and PPMI-SVD.

X_ij adds, for every token i and every token j at distance d ≤ window in the same
sentence (out-of-vocabulary words removed first, as word2vec and GloVe's cooccur do),
1/d ("harmonic", GloVe's weighting) or 1 ("uniform"); the matrix is symmetric.  It is
built with scipy.sparse, one pass per distance (never a V×V array), and cached beside the
tokenised corpus.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .files import cache_dir, cache_key, read_cache, status, write_cache
from .text import TOKEN, Corpus, corpus_paths, load_corpus

WEIGHTINGS = ("harmonic", "uniform")


@dataclass
class Cooccurrence:
    corpus: Corpus
    rows: np.ndarray  # int32, sorted by row then column
    cols: np.ndarray  # int32
    counts: np.ndarray  # float64 weighted counts, all > 0


def count_cooccurrences(corpus: Corpus, window: int, weighting: str = "harmonic"):
    """(rows, cols, counts) of the symmetric window co-occurrence matrix of ``corpus``."""
    import scipy.sparse

    size, ids, sentence_of = len(corpus.vocab), corpus.ids, corpus.sentence_of
    total = scipy.sparse.csr_matrix((size, size))
    for distance in range(1, window + 1):
        same = sentence_of[:-distance] == sentence_of[distance:]
        weight = 1.0 / distance if weighting == "harmonic" else 1.0
        left, right = ids[:-distance][same], ids[distance:][same]
        total = total + scipy.sparse.csr_matrix((np.full(len(left), weight), (left, right)), shape=(size, size))
    total = (total + total.T).tocsr()
    total.sort_indices()
    coo = total.tocoo()
    return coo.row.astype(np.int32), coo.col.astype(np.int32), coo.data


def load_cooccurrence(files=None, root=None, min_count=5, max_vocab=None, window=10, weighting="harmonic"):
    """The co-occurrence counts of a corpus, built once and cached like the corpus."""
    corpus = load_corpus(files, root, min_count, max_vocab)
    key = cache_key(corpus_paths(files, root), min_count=min_count, max_vocab=max_vocab, token=TOKEN.pattern,
                    window=window, weighting=weighting)
    cached = cache_dir() / f"cooccurrence-{key}.npz"
    saved = read_cache(cached, ("rows", "cols", "counts"))
    if saved is None:
        with status(f"counting co-occurrences within {window} words (first use; cached afterwards)"):
            rows, cols, counts = count_cooccurrences(corpus, window, weighting)
        write_cache(cached, rows=rows, cols=cols, counts=counts)
        saved = {"rows": rows, "cols": cols, "counts": counts}
    return Cooccurrence(corpus, saved["rows"], saved["cols"], saved["counts"])
