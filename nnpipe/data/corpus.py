"""Corpora as users have them, read as a stream of sentences in bounded memory.

``data.corpus`` names files, folders (every ``.txt``, ``.gz``, ``.bz2`` and ``.xz`` file
inside, recursively, sorted by path) and glob patterns; a relative name is looked up in
the current folder first, then in the data folder (where the shipped corpora are).  Text
is UTF-8, one sentence per line; a line of more than :data:`MAX_SENTENCE` words (a
text8-style corpus is one line of millions) is cut into sentences of that many words, as
gensim does, and is never held whole: the files are read in chunks of
:data:`CHUNK_CHARS` characters.

Tokenisers: ``words`` (lower-cased runs of letters with inner apostrophes: don't, o'er)
and ``whitespace`` (the text split on whitespace, case kept, as gensim's ``LineSentence``:
for corpora that are already tokenised, or in other scripts).
"""
from __future__ import annotations

import bz2
import codecs
import glob
import gzip
import lzma
import re
from dataclasses import dataclass
from pathlib import Path

from .files import DataError, data_root, file_digest, remembered

SHIPPED_CORPORA = [
    "corpus/kjv-bible.txt.gz", "corpus/austen-novels.txt.gz", "corpus/shakespeare-plays.txt.gz",
    "corpus/melville-moby-dick.txt.gz", "corpus/enwiki-sample.txt.gz", "corpus/wordnet-glosses.txt.gz",
]
SUFFIXES = (".txt", ".gz", ".bz2", ".xz")
MAX_SENTENCE = 10_000  # words; a longer line is cut into sentences of this many words
CHUNK_CHARS = 1 << 20  # characters decoded and tokenised at a time
PIECE_BYTES = 1 << 23  # a plain file is prepared in pieces of about this size, in parallel
LONG_LINE = 1 << 20  # bytes past a piece's nominal end to look for a newline
TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*")
TOKENIZERS = ("words", "whitespace")
OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def tokenize(text: str, tokenizer="words"):
    """The tokens of ``text``: lower-cased words of letters, or its whitespace-separated parts."""
    return TOKEN.findall(text.lower()) if tokenizer == "words" else text.split()


# ---- which files ------------------------------------------------------------------------
def _candidates(spec: str, root: Path):
    """Where a corpus name may point: as given (absolute, or from the current folder), then
    in the data folder."""
    path = Path(spec).expanduser()
    return [path] if path.is_absolute() else [path, root / path]


def corpus_paths(specs=None, root=None) -> list:
    """The corpus files that ``specs`` name (default: every shipped corpus), each once, in
    the order given (a folder's or a glob's files sorted by path)."""
    root = data_root(root)
    found = []
    for spec in specs or SHIPPED_CORPORA:
        spec = str(spec)
        if glob.has_magic(spec):
            matches = next((sorted(Path(m) for m in glob.glob(str(c), recursive=True) if Path(m).is_file())
                            for c in _candidates(spec, root) if glob.glob(str(c), recursive=True)), [])
            if not matches:
                raise DataError(f"corpus pattern {spec!r} matches no file")
            found += matches
            continue
        path = next((c for c in _candidates(spec, root) if c.exists()), None)
        if path is None:
            raise DataError(f"corpus file not found: {spec} (looked in the current folder and in {root})")
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
            if not inside:
                raise DataError(f"corpus folder {path} holds no {', '.join(SUFFIXES)} file")
            found += inside
        else:
            found.append(path)
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique


# ---- reading ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Piece:
    """Bytes ``start`` to ``stop`` of a file (``stop`` None: to its end): the unit that
    preparation hands to a worker process."""
    path: Path
    start: int = 0
    stop: int | None = None


def pieces(paths, size=PIECE_BYTES) -> list:
    """The files cut into pieces of about ``size`` bytes: a compressed file is one piece; a
    plain one is cut after the first newline past every ``size`` bytes (or, in a line longer
    than :data:`LONG_LINE` bytes, after the first space there, which also ends a
    sentence).  The pieces depend on the files alone, never on the number of workers."""
    found = []
    for path in paths:
        total = path.stat().st_size
        if path.suffix in OPENERS or total <= size:
            found.append(Piece(path))
            continue
        cuts = [0]
        with open(path, "rb") as handle:
            while cuts[-1] + size < total:
                handle.seek(cuts[-1] + size)
                window = handle.read(LONG_LINE)
                end = window.find(b"\n")
                end = end if end >= 0 else max(window.find(b" "), 0)
                cuts.append(min(cuts[-1] + size + end + 1, total))
        cuts.append(total)
        found += [Piece(path, a, b) for a, b in zip(cuts, cuts[1:]) if b > a]
    return found


def _chunks(piece: Piece):
    """(text, bytes read so far) of a piece, decompressed and decoded in bounded chunks;
    undecodable or binary content names the file and the byte offset."""
    path = piece.path
    opener = OPENERS.get(path.suffix, open)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = piece.start
    try:
        with opener(path, "rb") as handle:
            if piece.start:
                handle.seek(piece.start)
            while True:
                want = CHUNK_CHARS if piece.stop is None else min(CHUNK_CHARS, piece.stop - offset)
                raw = handle.read(want) if want > 0 else b""
                try:
                    text = decoder.decode(raw, final=not raw)
                except UnicodeDecodeError as exc:
                    raise DataError(f"{path}: not UTF-8 text at byte {offset + exc.start:,} of its content "
                                    f"({exc.reason})") from None
                if "\x00" in text:
                    position = offset + raw.find(b"\x00")
                    raise DataError(f"{path}: a NUL byte at byte {position:,} of its content: a binary file, not text")
                offset += len(raw)
                if text:
                    yield text, offset
                if not raw:
                    return
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise DataError(f"{path}: cannot be read after byte {offset:,} of its content "
                        f"({type(exc).__name__}: {exc})") from None


def token_batches(piece, tokenizer="words"):
    """The tokens of a file or a :class:`Piece`, a chunk of text at a time, sentences
    aside (what counting needs): each chunk is tokenised whole up to its last whitespace."""
    piece = piece if isinstance(piece, Piece) else Piece(Path(piece))
    carry = ""
    for text, _ in _chunks(piece):
        text = carry + text
        split = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t"), text.rfind("\r"))
        if split < 0:
            carry = text
            continue
        carry = text[split:]
        yield tokenize(text[:split], tokenizer)
    yield tokenize(carry, tokenizer)


def sentence_batches(piece, tokenizer="words"):
    """Lists of sentences (each a list of tokens) of a file or a :class:`Piece` of one, a
    chunk of text at a time, with the content's bytes read so far.  Lines are sentences;
    a line of more than MAX_SENTENCE tokens is cut; lines without tokens are left out."""
    piece = piece if isinstance(piece, Piece) else Piece(Path(piece))
    pending, carry = [], ""  # the unfinished line's tokens, and its text after them

    def cut(tokens):
        return [tokens[i:i + MAX_SENTENCE] for i in range(0, len(tokens), MAX_SENTENCE)]

    for text, offset in _chunks(piece):
        lines = (carry + text).split("\n")
        carry = lines.pop()  # not ended by a newline yet
        sentences = []
        for line in lines:
            tokens = pending + tokenize(line, tokenizer)
            pending = []
            sentences += cut(tokens) if len(tokens) > MAX_SENTENCE else [tokens] if tokens else []
        split = max(carry.rfind(" "), carry.rfind("\t"), carry.rfind("\r"))
        if split > 0:  # a long line goes on: tokenise what cannot change any more
            pending += tokenize(carry[:split], tokenizer)
            carry = carry[split:]
            while len(pending) >= MAX_SENTENCE:
                sentences.append(pending[:MAX_SENTENCE])
                pending = pending[MAX_SENTENCE:]
        if sentences:
            yield sentences, offset
    tokens = pending + tokenize(carry, tokenizer)
    if tokens:
        yield cut(tokens), None


# ---- what a file's content is -----------------------------------------------------------
def _stamp(path: Path):
    """What changes when a file is replaced or edited: size, mtime and ctime (the last
    also when the mtime is set back by hand)."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


def content_digests(paths) -> list:
    """BLAKE2b of each file's bytes, remembered in the cache per (path, size, mtime, ctime,
    inode), so that an unchanged file is hashed once."""
    return remembered("content-digests.json", [(str(path), _stamp(path), lambda path=path: file_digest(path, "blake2b"))
                                               for path in paths])


def stamps(paths):
    return [_stamp(p) for p in paths]
