"""The on-disk token store: a corpus prepared once, in two streaming passes, and read by
training through memory maps.

Both passes walk the corpus in pieces (:func:`~nnpipe.data.corpus.pieces`), one worker
process per core.  Pass 1 counts words a chunk of text at a time and merges the pieces'
counts in order (word2vec's pruning keeps the count table under ``max_vocab_size``
entries when that is set: the rarest words are dropped, and the floor rises, each time the
table outgrows it); the vocabulary is the words seen ``min_count`` times, most frequent
first (ties alphabetical), at most ``max_vocab`` of them.  Pass 2 encodes each piece to
word ids, out-of-vocabulary words dropped, and the pieces are joined in order.  A store is
a folder in the cache::

    corpus-<key>/ids.int32       every in-vocabulary token's word id, in corpus order
    corpus-<key>/starts.int64    where each sentence begins in ids
    corpus-<key>/vocab.tsv       word<TAB>count, most frequent first
    corpus-<key>/store.json      files, settings, token and sentence counts

written into a temporary folder and renamed into place whole, so a store is complete or
absent (Ctrl-C, a full disk).  The key is a hash of the files' contents (BLAKE2b, see
:func:`~nnpipe.data.corpus.content_digests`) and the vocabulary settings: any edit of a
file makes a new store, and runs that share the settings share the store.
"""
from __future__ import annotations

import collections
import hashlib
import itertools
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .corpus import MAX_SENTENCE, Piece, content_digests, corpus_paths, pieces, sentence_batches, stamps, token_batches
from .files import DataError, cache_dir, parse_json, verify_shipped
from .user_files import read_text_file

FORMAT = 1


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
        text = read_text_file(path, "vocabulary")
        try:
            for number, line in enumerate(text.splitlines(), 1):
                word, count = line.split("\t")
                words.append(word)
                counts.append(int(count))
        except ValueError:
            raise DataError(f"{path}:{number}: expected 'word<TAB>count'") from None
        return cls(words, np.array(counts, dtype=np.int64))


@dataclass
class Corpus:
    vocab: Vocabulary
    ids: np.ndarray  # int32 word ids of every in-vocabulary token, in order (a memory map in a store)
    sentence_starts: np.ndarray  # int64 offsets into ids where each sentence begins

    def sentence_of(self, positions):
        """The sentence number of each token position."""
        return (np.searchsorted(self.sentence_starts, positions, side="right") - 1).astype(np.int32)

    def sentences_in(self, first, last):
        """(the sentence of token ``first``, the starts of the sentences after it up to
        token ``last``): what numbers the sentences of a span cheaply."""
        sentence = int(np.searchsorted(self.sentence_starts, first, side="right")) - 1
        following = int(np.searchsorted(self.sentence_starts, last, side="left"))
        return sentence, self.sentence_starts[sentence + 1:following]


@dataclass(frozen=True)
class VocabularySettings:
    min_count: int = 5
    max_vocab: int | None = None  # keep at most this many words (the most frequent)
    max_vocab_size: int | None = None  # prune the count table above this many entries
    tokenizer: str = "words"


def store_key(paths, settings: VocabularySettings) -> str:
    key = json.dumps({"format": FORMAT, "files": content_digests(paths), "max_sentence": MAX_SENTENCE,
                      **settings.__dict__}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _in_workers(function, items, pool, what, words_of):
    """``function(item)`` of every item, in order: in this process, or in ``pool`` (a
    process pool).  On a terminal a progress bar of the bytes done with the words per
    second (``words_of(result)`` counts a piece's); in a log a line per file."""
    from tqdm import tqdm

    bar = tqdm(total=sum(item.piece_bytes for item in items), unit="B", unit_scale=True, desc=what,
               leave=False, dynamic_ncols=True, disable=not sys.stderr.isatty())
    shown, words = set(), 0
    try:
        for item, result in zip(items, map(function, items) if pool is None else pool.map(function, items)):
            if bar.disable and item.piece.path not in shown:
                print(f"{what}: {item.piece.path}", flush=True)
                shown.add(item.piece.path)
            words += words_of(result)
            bar.set_postfix_str(f"{words / max(bar.format_dict['elapsed'], 1e-9):,.0f} words/s", refresh=False)
            bar.update(item.piece_bytes)
            yield result
    finally:
        bar.close()


@dataclass(frozen=True)
class Work:
    """A piece of a file for a worker, and how to read it: the tokenizer, pass 1's pruning
    cap, pass 2's vocabulary (vocab.tsv) and where its part goes."""
    piece: Piece
    settings: VocabularySettings
    number: int = 0
    folder: Path | None = None

    @property
    def piece_bytes(self):
        size = self.piece.path.stat().st_size
        return (self.piece.stop if self.piece.stop is not None else size) - self.piece.start


def _pruned(counts, cap):
    """word2vec's ReduceVocab: while the table holds more than ``cap`` words, drop those
    seen once, then twice, and so on."""
    floor = 1
    while cap and len(counts) > cap:
        counts = collections.Counter({w: c for w, c in counts.items() if c > floor})
        floor += 1
    return counts


def _count_piece(work: Work):
    counts = collections.Counter()
    for tokens in token_batches(work.piece, work.settings.tokenizer):
        counts.update(tokens)
        counts = _pruned(counts, work.settings.max_vocab_size)
    return counts


def count_words(parts, settings: VocabularySettings, pool=None):
    """Pass 1: the word counts of the pieces ``parts``, merged in order (with
    ``max_vocab_size``, each piece is pruned, then the merged table)."""
    counts = collections.Counter()
    work = [Work(piece, settings) for piece in parts]
    for piece_counts in _in_workers(_count_piece, work, pool, "counting words", lambda c: sum(c.values())):
        counts.update(piece_counts)
        counts = _pruned(counts, settings.max_vocab_size)
    return counts


def build_vocabulary(counts, settings: VocabularySettings, paths):
    kept = sorted((w for w, c in counts.items() if c >= settings.min_count), key=lambda w: (-counts[w], w))
    if settings.max_vocab:
        kept = kept[:settings.max_vocab]
    if not kept:
        raise DataError(f"no word occurs {settings.min_count} times in {', '.join(map(str, paths))}")
    return Vocabulary(kept, np.array([counts[w] for w in kept], dtype=np.int64))


_INDEX = (None, None)  # a process's (vocab.tsv, word → id) for pass 2, read once


def _index(folder):
    global _INDEX
    if _INDEX[0] != folder:
        _INDEX = (folder, Vocabulary.load(folder / "vocab.tsv").index)
    return _INDEX[1]


def _encode_piece(work: Work):
    """Pass 2 of one piece: its in-vocabulary word ids and its sentences' starts (from 0)
    into part files in ``work.folder``; returns (tokens, sentences) written and (tokens,
    sentences) read."""
    lookup, written, kept_sentences, raw_tokens, raw_sentences = _index(work.folder).get, 0, 0, 0, 0
    with open(work.folder / f"part-{work.number}.ids", "wb") as ids_file, \
            open(work.folder / f"part-{work.number}.starts", "wb") as starts_file:
        for batch, _ in sentence_batches(work.piece, work.settings.tokenizer):
            lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
            flat = list(itertools.chain.from_iterable(batch))
            ids = np.fromiter(map(lookup, flat, itertools.repeat(-1)), dtype=np.int32, count=len(flat))
            known = ids >= 0
            per_sentence = np.add.reduceat(known.astype(np.int64), np.cumsum(lengths) - lengths)
            per_sentence = per_sentence[per_sentence > 0]
            ids_file.write(ids[known].tobytes())
            starts_file.write((written + np.cumsum(per_sentence) - per_sentence).tobytes())
            written += int(per_sentence.sum())
            kept_sentences += len(per_sentence)
            raw_tokens, raw_sentences = raw_tokens + len(flat), raw_sentences + len(batch)
    return written, kept_sentences, raw_tokens, raw_sentences


def encode(parts, settings, folder: Path, pool=None):
    """Pass 2 with ``folder``/vocab.tsv: every piece of ``parts`` encoded into its part
    file, then those joined in order into ``folder``/ids.int32 and starts.int64 (sentence
    starts offset by the tokens before); returns (tokens, sentences) written and read."""
    work = [Work(piece, settings, number, folder) for number, piece in enumerate(parts)]
    results = list(_in_workers(_encode_piece, work, pool, "encoding", lambda result: result[2]))
    tokens = 0
    with open(folder / "ids.int32", "wb") as ids_file, open(folder / "starts.int64", "wb") as starts_file:
        for item, (piece_tokens, *_) in zip(work, results):
            ids_part, starts_part = (folder / f"part-{item.number}.{kind}" for kind in ("ids", "starts"))
            with open(ids_part, "rb") as part:
                shutil.copyfileobj(part, ids_file, 1 << 24)
            starts_file.write((np.fromfile(starts_part, dtype=np.int64) + tokens).tobytes())
            ids_part.unlink()
            starts_part.unlink()
            tokens += piece_tokens
        for handle in (ids_file, starts_file):
            handle.flush()
            os.fsync(handle.fileno())
    return tokens, *(sum(result[k] for result in results) for k in (1, 2, 3))


@dataclass
class TokenStore(Corpus):
    """An opened store: the vocabulary, the word ids and sentence starts as read-only
    memory maps, its folder and what store.json says."""
    folder: Path = None
    info: dict = None


def _map(path, dtype, count):
    """The file as a read-only array backed by a memory map (a plain ndarray: slicing an
    np.memmap costs microseconds that every batch would pay)."""
    if count == 0:
        return np.zeros(0, dtype)
    return np.asarray(np.memmap(path, dtype=dtype, mode="r", shape=(count,)))


def open_store(folder: Path) -> TokenStore:
    info = parse_json((folder / "store.json").read_text())
    vocab = Vocabulary.load(folder / "vocab.tsv")
    return TokenStore(vocab, _map(folder / "ids.int32", np.int32, info["tokens"]),
                      _map(folder / "starts.int64", np.int64, info["sentences"]), folder, info)


def preparation_workers():
    """Processes for preparation: ``NNPIPE_PREPARE_WORKERS``, else one per core; one (this
    process) under MPI, where forking a rank is not safe, or where fork is not available."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods() or any(
            variable in os.environ for variable in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")):
        return 1
    return int(os.environ.get("NNPIPE_PREPARE_WORKERS") or os.cpu_count() or 1)


def prepare(specs=None, root=None, settings=VocabularySettings()) -> TokenStore:
    """The store of the corpus ``specs`` names with ``settings``: opened from the cache
    when it is there, prepared (two passes) otherwise."""
    paths = corpus_paths(specs, root)
    for path in paths:
        verify_shipped(path)
    key = store_key(paths, settings)
    folder = cache_dir() / f"corpus-{key}"
    if (folder / "store.json").is_file():
        try:
            return open_store(folder)
        except (OSError, ValueError, KeyError, DataError):
            print(f"warning: the corpus store {folder} is unreadable; preparing it again", file=sys.stderr)
            shutil.rmtree(folder, ignore_errors=True)
    return _prepare(paths, settings, folder)


def _prepare(paths, settings, folder):
    before = stamps(paths)
    parts = pieces(paths)
    workers = min(preparation_workers(), len(parts))
    pool = None
    if workers > 1:
        import gc
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # forked: a spawned worker would import the user's main script again (running it,
        # when it has no __main__ guard); the workers run Python and NumPy only, never the
        # BLAS or Numba threads that the fork leaves behind.  No finaliser of this process
        # may run in a worker either: one that joins its library's threads (an ONNX Runtime
        # session left in a reference cycle) waits there for ever on threads the fork left
        # behind.  So the garbage is collected here first, and each worker freezes what it
        # inherits (never collected there)
        gc.collect()
        pool = ProcessPoolExecutor(workers, multiprocessing.get_context("fork"), initializer=gc.freeze)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    try:
        tmp.mkdir(parents=True, exist_ok=True)  # an unwritable cache is found before any work
        counts = count_words(parts, settings, pool)
        vocab = build_vocabulary(counts, settings, paths)
        del counts
        vocab.save(tmp / "vocab.tsv")
        tokens, sentences, raw_tokens, raw_sentences = encode(parts, settings, tmp, pool)
        after = stamps(paths)
        if after != before:
            changed = next(p for p, a, b in zip(paths, before, after) if a != b)
            raise DataError(f"{changed} changed while the corpus was being prepared; run again when it is final")
        info = {"format": FORMAT, "files": [str(p) for p in paths], "settings": settings.__dict__,
                "raw_tokens": raw_tokens, "raw_sentences": raw_sentences, "tokens": tokens, "sentences": sentences,
                "words": len(vocab), "max_sentence": MAX_SENTENCE}
        (tmp / "store.json").write_text(json.dumps(info, indent=1))
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder / "store.json").is_file():  # another process may have made it meanwhile
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"cannot write the corpus store in {folder.parent} ({exc.strerror or exc}); "
                        "set NNPIPE_CACHE to a writable folder with room") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return open_store(folder)


def stores():
    """The stores in the cache, newest first: (folder, what its store.json says)."""
    found = []
    for path in cache_dir().glob("corpus-*/store.json"):
        try:
            found.append((path.parent, parse_json(path.read_text())))
        except (OSError, ValueError):
            continue
    return sorted(found, key=lambda item: -item[0].stat().st_mtime)
