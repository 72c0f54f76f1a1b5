"""Word vectors from co-occurrence counts (GloVe, PPMI-SVD).

An epoch of GloVe walks the non-zero entries of the co-occurrence matrix in
``data.batch_size`` entries per step, in an order drawn from ``default_rng([seed,
epoch])``, so the loader's position is (epoch, batch index) and resume is exact.  A
closed-form model (PPMI-SVD) gets the whole matrix as its one batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..data.cooccurrence import WEIGHTINGS, load_cooccurrence
from ..data.loader import ItemBatches
from ..models import MODELS
from ..options import AtLeastOne
from .task_registry import TASKS
from .words import CorpusOptions, WordTask


@dataclass
class CooccurrenceOptions(CorpusOptions):
    window: AtLeastOne = 10  # words on each side that count as co-occurring
    weighting: Literal[WEIGHTINGS] = "harmonic"  # harmonic: a pair at distance d counts 1/d (GloVe); uniform: 1


def _cooccurrence(data):
    return load_cooccurrence(data.corpus, data.root, data.min_count, data.max_vocab, data.window, data.weighting,
                             data.max_vocab_size, data.tokenizer)


@TASKS.register("cooccurrence", CooccurrenceOptions)
class CooccurrenceTask(WordTask):
    accepts = {"model": "word_cooccurrence", "loss": "word_cooccurrence"}
    unit = "entries"

    def __init__(self, config, xp):
        counts = _cooccurrence(config.data)
        super().__init__(counts.corpus, config, xp)
        self.counts = counts
        self.closed_form = "closed_form" in MODELS.get(config.model.name).tags
        per_step = len(counts.counts) if self.closed_form else config.data.batch_size
        self.loader = ItemBatches(len(counts.counts), per_step, config.seed)

    @staticmethod
    def sample(config):
        """(model inputs, a batch of two entries, no labels)."""
        vocab = len(_cooccurrence(config.data).corpus.vocab)
        return {"vocab_size": vocab}, (np.array([0, 1]), np.array([1, 0]), np.array([2.0, 2.0])), None

    def batches(self):
        loader, counts = self.loader, self.counts
        order = (None if self.closed_form
                 else np.random.default_rng([loader.seed, loader.epoch]).permutation(loader.items))
        while loader.batch_index < len(loader):
            start, stop = loader.span()
            chosen = slice(start, stop) if order is None else order[start:stop]
            batch = (counts.rows[chosen], counts.cols[chosen], counts.counts[chosen])
            loader.batch_index += 1
            yield tuple(self.xp.asarray(part) for part in batch), len(batch[0])
        loader.epoch, loader.batch_index = loader.epoch + 1, 0

    def loss(self, model, loss_fn, batch):
        return loss_fn(model(batch)), {}

    @staticmethod
    def loss_terms(sums, samples):
        return samples

    @staticmethod
    def epoch_metrics(sums, samples):
        return {}
