"""Word vectors from a text corpus: what every word-vector task shares (vocabulary,
word benchmarks), and skip-gram's and CBOW's windows of the running text.

An epoch walks the corpus (a token store, memory-mapped) in batches of ``data.batch_size``
raw tokens, reading only each batch's tokens and a few around it.  Subsampling draws one
uniform number per token from ``default_rng([seed, epoch])``, token i taking draw i
(the stream is advanced to a batch's first token, so no epoch-long array is made); each
batch's dynamic windows and negatives come from ``default_rng([seed, epoch, batch])``.  So
the loader's position is just (epoch, batch index) and a resumed run sees exactly the same
pairs.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Literal, Optional

import numpy as np

from ..autograd import no_grad
from ..data.corpus import TOKENIZERS
from ..data.files import status
from ..data.loader import ItemBatches
from ..data.text import NegativeSampler, keep_probabilities, load_corpus, skipgram_pairs
from ..data.wordeval import ANALOGIES, WORDSIM, WordVectors, default_eval_file, read_analogies, read_word_pairs
from ..kernels import set_threads as kernel_threads
from ..models import MODELS
from ..options import AtLeastOne, Check, NonNegative, Range
from .task_registry import TASKS, Task


def _file_names(names):
    return len(names) > 0 and all(isinstance(name, str) and name.strip() for name in names)


@dataclass
class CorpusOptions:
    """What every word-vector task reads: the corpus and its vocabulary's settings."""
    # files, folders or globs; null (not []): every shipped corpus
    corpus: Optional[Annotated[list, Check(_file_names, "a non-empty list of file names")]] = None
    tokenizer: Literal[TOKENIZERS] = "words"  # words: lower-cased letters; whitespace: as LineSentence
    min_count: AtLeastOne = 5  # words seen fewer times are dropped
    max_vocab: Optional[AtLeastOne] = None  # keep at most this many words, the most frequent
    max_vocab_size: Optional[Annotated[int, Range(ge=100)]] = None  # prune the counts above this many words


@dataclass
class TextOptions(CorpusOptions):
    sample: NonNegative = 1e-3  # frequent-word subsampling threshold (Mikolov's formula)
    window: AtLeastOne = 5  # maximum window; each centre draws 1..window
    negatives: AtLeastOne = 5  # negative samples per (centre, context) pair, or per window for CBOW
    share_negatives: bool = False  # one set of negatives per centre word's window, not per pair


def _corpus(data):
    return load_corpus(data.corpus, data.root, data.min_count, data.max_vocab, data.max_vocab_size, data.tokenizer)


class WordTask(Task):
    """What every word-vector task shares: a corpus with its vocabulary (saved with
    the run) and the word benchmarks as validation."""

    monitors = ("val_ws353", "val_analogy", "train_loss")

    def __init__(self, corpus, config, xp):
        self.corpus, self.xp = corpus, xp
        # read now: a malformed file is an error before the run directory, not after epoch 1
        self.wordsim = read_word_pairs(default_eval_file(WORDSIM, config.data.root))
        self.analogies = read_analogies(default_eval_file(ANALOGIES, config.data.root))

    def model_inputs(self):
        return {"vocab_size": len(self.corpus.vocab)}

    def save_extras(self, run_dir):
        self.corpus.vocab.save(run_dir / "vocab.tsv")

    def word_vectors(self, model):
        return WordVectors(self.corpus.vocab.words, model.vectors())

    def evaluate(self, model, loss_fn, split, comm):
        """WordSim-353 Spearman and Google-analogy accuracy (30,000 most frequent words).

        There is no held-out text: the "test" split reports the same two benchmarks that
        picked the best epoch, named ``benchmark_*`` so no one reads them as held out.
        With several ranks (identical parameters) rank 0 computes and shares them."""
        metrics = None
        if comm.is_main:
            with no_grad(), status(f"evaluating the {split} word benchmarks", terminal_only=True):
                vectors = self.word_vectors(model)
                rho, _, _ = vectors.evaluate_word_pairs(self.wordsim)
                accuracy, _, _, _ = vectors.evaluate_analogies(self.analogies)
            prefix = "benchmark_" if split == "test" else ""
            metrics = {f"{prefix}ws353": rho, f"{prefix}analogy": accuracy}
        return comm.share(metrics)


def _made_ahead(make, epoch, indices):
    """``make(epoch, i)`` for each i of ``indices``, in order, each made in a worker thread
    while the caller uses the one before."""
    # the worker's kernels run on it alone: the cores are the training step's
    with ThreadPoolExecutor(1, "nnpipe-batches", initializer=kernel_threads, initargs=(1,)) as worker:
        ahead = worker.submit(make, epoch, indices[0])
        for index in indices[1:]:
            made, ahead = ahead.result(), worker.submit(make, epoch, index)
            yield made
        yield ahead.result()


@TASKS.register("text", TextOptions)
class SkipGramTask(WordTask):
    accepts = {"model": "word_windows", "loss": "word_vectors"}
    unit = "words"

    def __init__(self, config, xp):
        data = config.data
        super().__init__(_corpus(data), config, xp)
        self.keep = keep_probabilities(self.corpus.vocab.counts, data.sample)
        self.sampler = NegativeSampler(self.corpus.vocab.counts)
        self.window, self.negatives = data.window, data.negatives
        self.share_negatives = data.share_negatives
        # CBOW predicts each centre from its whole window: one window per centre, always
        self.window_per_centre = "window_per_centre" in MODELS.get(config.model.name).tags
        self.loader = ItemBatches(len(self.corpus.ids), data.batch_size, config.seed)
        self._uniforms_of = (None, None, None)  # (epoch, its generator, the generator's first state)

    # Summed over a step, the gradients of the frequent words' rows add up thousands of
    # pairs' worth and diverge beyond about this many words (measured: BENCHMARKS.md)
    MOST_SUMMED_WORDS = 4000

    def check_update(self, fused):
        words = self.loader.per_batch
        if not fused and words > self.MOST_SUMMED_WORDS:
            raise ValueError(
                f"data.batch_size {words}: a step that sums its gradients diverges beyond "
                f"{self.MOST_SUMMED_WORDS:,} words; word2vec's fused update, which takes larger steps, needs SGD "
                f"on the CPU in one process without clipping (train.fused_update); set data.batch_size to 1000")

    @staticmethod
    def sample(config):
        """(model inputs, a batch of two pairs with their negatives, no labels)."""
        vocab = len(_corpus(config.data).vocab)
        k = config.data.negatives
        batch = (np.array([0, 1]), np.array([2, 3]), np.array([0, 1]), np.arange(2 * k).reshape(2, k) % vocab)
        return {"vocab_size": vocab}, batch, None

    def _uniforms(self, epoch, first, count):
        """Draws first .. first+count-1 of the epoch's subsampling stream."""
        if self._uniforms_of[0] != epoch:
            generator = np.random.default_rng([self.loader.seed, epoch])
            self._uniforms_of = (epoch, generator, generator.bit_generator.state)
        _, generator, state = self._uniforms_of
        generator.bit_generator.state = state
        generator.bit_generator.advance(first)
        return generator.random(count)

    def _kept(self, epoch, first, last):
        """Positions in first..last-1 of the tokens that the epoch's subsampling keeps."""
        ids = np.asarray(self.corpus.ids[first:last])
        return first + np.flatnonzero(self._uniforms(epoch, first, last - first) < self.keep[ids])

    def _kept_around(self, epoch, start, stop):
        """The kept positions of the batch's tokens start..stop-1, with up to ``window``
        kept tokens of the same sentences on each side (the windows of the batch's first
        and last centres reach them), their sentence numbers, and where the batch's own
        ones begin and end."""
        n, starts = len(self.corpus.ids), self.corpus.sentence_starts
        sentence, inside = self.corpus.sentences_in(start, stop)
        floor = int(starts[sentence])
        following = sentence + len(inside) + 1
        ceiling = int(starts[following]) if following < len(starts) else n
        reach = 8 * self.window
        while True:
            left, right = max(floor, start - reach), min(ceiling, stop + reach)
            kept = self._kept(epoch, left, right)
            first, last = np.searchsorted(kept, [start, stop])
            if (first >= self.window or left == floor) and (len(kept) - last >= self.window or right == ceiling):
                low, high = max(first - self.window, 0), min(last + self.window, len(kept))
                kept = kept[low:high]
                sentences = (sentence + np.searchsorted(inside, kept, side="right")).astype(np.int32)
                return kept, sentences, first - low, last - low
            reach *= 4

    def batches(self):
        """The rest of the epoch's batches.  On NumPy the next batch is made in a thread of
        its own while the current one trains (the compiled ops release the GIL): a batch
        is a function of (epoch, index) alone, so the loader's position, which checkpoints
        record, still says which batch trains."""
        loader = self.loader
        indices = range(loader.batch_index, len(loader))
        if self.xp is not np or len(indices) < 2:
            made = (self.make_batch(loader.epoch, index) for index in indices)
        else:
            made = _made_ahead(self.make_batch, loader.epoch, indices)
        for batch in made:
            loader.batch_index += 1
            if batch is not None:
                yield batch
        loader.epoch, loader.batch_index = loader.epoch + 1, 0

    def make_batch(self, epoch, index):
        """(batch, its corpus words) of batch ``index`` of ``epoch``, or None when it has no
        pair: its windows from ``default_rng([seed, epoch, index])``."""
        loader = self.loader
        start, stop = loader.span(index)
        kept, kept_sentences, first, last = self._kept_around(epoch, start, stop)
        kept_ids = self.corpus.ids[kept]
        rng = np.random.default_rng([loader.seed, epoch, index])
        centers = np.arange(first, last)
        pair_window, contexts = skipgram_pairs(kept_ids, kept_sentences, centers, self.window, rng)
        window_centers = kept_ids[centers]
        if self.window_per_centre:  # a centre with no context word in its sentence has no window
            has = np.bincount(pair_window, minlength=len(centers)) > 0
            window_centers, pair_window = window_centers[has], (np.cumsum(has) - 1)[pair_window]
        elif not self.share_negatives:  # word2vec's way: a window of its own for every pair
            window_centers, pair_window = window_centers[pair_window], np.arange(len(contexts))
        negatives = self.sampler.sample(rng, (len(window_centers), self.negatives))
        if not len(contexts):
            return None
        batch = (window_centers, contexts, pair_window, negatives)
        return tuple(self.xp.asarray(part) for part in batch), stop - start

    def shard(self, batch, comm):
        """This rank's windows with their pairs, its pairs and all the batch's pairs."""
        window_centers, contexts, pair_window, negatives = batch
        part = comm.shard(len(window_centers))
        first, last = (int(i) for i in self.xp.searchsorted(pair_window, self.xp.asarray([part.start, part.stop])))
        shard = (window_centers[part], contexts[first:last], pair_window[first:last] - part.start, negatives[part])
        return shard, last - first, len(contexts)

    def loss(self, model, loss_fn, batch):
        loss = loss_fn(model(batch))
        terms = len(batch[0]) if self.window_per_centre else len(batch[1])
        return loss, {"pairs": len(batch[1]), "terms": terms}

    @staticmethod
    def loss_terms(sums, samples):
        """How many terms a summed loss adds up: one per (centre, context) pair, or per
        window for CBOW (runs saved before "terms" was counted: pairs)."""
        return sums.get("terms", sums.get("pairs", 0))

    @staticmethod
    def epoch_metrics(sums, samples):
        return {"pairs_per_word": sums.get("pairs", 0) / max(samples, 1)}

