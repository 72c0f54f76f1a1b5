"""PPMI + truncated SVD (Levy, Goldberg and Dagan 2015): the count-based vectors of LSA.

PMI(w, c) = log(X_wc · Σ_c' n_c'^α / (X_w · n_c^α)) with context-distribution smoothing
α (0.75), shifted by log k and clipped at 0 (positive PMI); a randomized truncated SVD
(Halko, Martinsson and Tropp 2011) of the sparse PPMI matrix gives U Σ Vᵀ, and the word
vectors are U·Σ^p (eigenvalue weighting p = 0.5), the context vectors V·Σ^p.  There is
nothing to descend: the model's one training step solves it, in float64 on the host, and
stores both tables as parameters, so the run directory, checkpoints and ``embed`` work
as for the other models.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .. import nn
from ..backend import get_array_module, to_numpy
from ..options import AtLeastOne, NonNegative, NonNegativeInt, Positive
from .model_registry import MODELS
from .skipgram import needs_vocabulary
from .word_tables import WordVectorModel


@dataclass
class SVDOptions:
    dim: AtLeastOne = 100  # vector size
    eig: float = 0.5  # vectors = U·Σ^eig
    cds: NonNegative = 0.75  # context-distribution smoothing exponent
    shift: Positive = 1.0  # k of shifted PPMI: log k is subtracted before clipping
    power_iterations: NonNegativeInt = 5  # of the randomized SVD


class Factorized(NamedTuple):
    residual: float  # share of ||PPMI||_F² outside the truncated SVD


def ppmi(rows, cols, counts, size, cds=0.75, shift=1.0):
    """The positive (shifted) PMI matrix with smoothed context probabilities, as scipy CSR."""
    import scipy.sparse

    word_totals = np.bincount(rows, weights=counts, minlength=size)
    context_totals = np.bincount(cols, weights=counts, minlength=size) ** cds
    pmi = (np.log(counts) + np.log(context_totals.sum()) - np.log(word_totals[rows])
           - np.log(context_totals[cols]) - np.log(shift))
    keep = pmi > 0
    return scipy.sparse.csr_matrix((pmi[keep], (rows[keep], cols[keep])), shape=(size, size))


def randomized_svd(matrix, rank, rng, power_iterations=5, oversample=10):
    """(U, s, Vᵀ) of the ``rank`` largest singular values of a sparse ``matrix``: a
    Gaussian sketch, QR-orthonormalised power iterations, and the SVD of the small
    projected matrix (Halko et al. 2011, algorithms 4.4 and 5.1)."""
    sketch = matrix @ rng.standard_normal((matrix.shape[1], rank + oversample))
    basis, _ = np.linalg.qr(sketch)
    for _ in range(power_iterations):
        basis, _ = np.linalg.qr(matrix.T @ basis)
        basis, _ = np.linalg.qr(matrix @ basis)
    small_u, s, vt = np.linalg.svd((matrix.T @ basis).T, full_matrices=False)
    return (basis @ small_u)[:, :rank], s[:rank], vt[:rank]


class PPMISVD(WordVectorModel):
    def __init__(self, vocab_size, options: SVDOptions, seed):
        super().__init__()
        if options.dim > vocab_size:  # an SVD has at most as many directions as rows
            raise ValueError(f"dim {options.dim} is more than the corpus's {vocab_size:,} words; "
                             f"set model.dim to at most {vocab_size}")
        self.options, self.seed = options, seed
        self.words = nn.Embedding(vocab_size, options.dim, scale=0)
        self.contexts = nn.Embedding(vocab_size, options.dim, scale=0)

    def forward(self, batch):
        """``batch`` is the whole co-occurrence matrix (rows, cols, counts): factorise it."""
        rows, cols, counts = (to_numpy(part) for part in batch)
        size, o = self.words.num_embeddings, self.options
        matrix = ppmi(rows, cols, counts.astype(np.float64), size, o.cds, o.shift)
        u, s, vt = randomized_svd(matrix, o.dim, np.random.default_rng(self.seed), o.power_iterations)
        for table, vectors in ((self.words, u), (self.contexts, vt.T)):
            xp = get_array_module(table.weight.data)
            table.weight.data[...] = xp.asarray((vectors * s ** o.eig).astype(table.weight.dtype))
        total = matrix.multiply(matrix).sum()
        return Factorized(float(max(total - (s ** 2).sum(), 0.0) / total))

    def tables(self):
        return self.words.weight.data, self.contexts.weight.data


@MODELS.register("svd", SVDOptions, tags=("word_vectors", "word_cooccurrence", "closed_form", "loss:ppmi_svd"))
def build_svd(options: SVDOptions, rng, vocab_size, **_):
    needs_vocabulary("svd", vocab_size)
    return PPMISVD(vocab_size, options, int(rng.integers(2 ** 31)))
