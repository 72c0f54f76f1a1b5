"""Word vectors trained elsewhere, read from the files people share them in: word2vec's
text and binary formats (a ``V D`` header line; gensim's ``save_word2vec_format``, the
GoogleNews vectors), fastText's ``.vec`` (word2vec text) and GloVe's text files (no header).
The format is found from the file itself, not its name."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .files import DataError
from .wordeval import WordVectors

_HEADER = re.compile(rb"^\s*(\d+)\s+(\d+)\s*$")


def load_vectors(path, limit=None) -> WordVectors:
    """The vectors of ``path`` (the first ``limit`` words when given), in the file's order
    (word2vec and GloVe files list the most frequent words first)."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            first = handle.readline()
            header = _HEADER.match(first)
            if header:
                count, dim = int(header.group(1)), int(header.group(2))
                count = min(count, limit) if limit else count
                start = handle.tell()
                binary = not _is_text_row(handle.readline(), dim)
                handle.seek(start)
                read = _binary_rows if binary else _text_rows
                words, vectors = read(handle, count, dim, path)
            else:
                dim = len(first.split()) - 1
                if dim < 1 or not _is_text_row(first, dim):
                    raise DataError(f"{path}: not a word-vector file (word2vec text or binary with a 'V D' header, "
                                    "fastText .vec, or GloVe text: a word and its numbers per line)")
                handle.seek(0)
                words, vectors = _text_rows(handle, limit, dim, path)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not words:
        raise DataError(f"{path}: holds no vectors")
    return WordVectors(words, vectors)


def _is_text_row(line, dim):
    parts = line.split()
    if len(parts) != dim + 1:
        return False
    try:
        [float(value) for value in parts[1:]]
        parts[0].decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def _text_rows(handle, count, dim, path):
    words, vectors = [], []
    for number, line in enumerate(handle, 1):
        if count is not None and len(words) >= count:
            break
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) < dim + 1:
            raise DataError(f"{path}: row {number} has {len(parts) - 1} numbers, the others {dim}")
        try:  # a word may hold spaces (a few of GloVe's do): the numbers are the last dim fields
            words.append(b" ".join(parts[:-dim]).decode("utf-8"))
            vectors.append(np.array(parts[-dim:], dtype=np.float32))
        except (ValueError, UnicodeDecodeError):
            raise DataError(f"{path}: row {number} is not a word followed by {dim} numbers") from None
    return words, np.stack(vectors) if vectors else np.zeros((0, dim), np.float32)


def _binary_rows(handle, count, dim, path):
    """word2vec's binary rows: the word, a space, ``dim`` little-endian float32s (and, as
    written by word2vec.c and gensim, a newline that the next word's read skips)."""
    words, vectors = [], np.empty((count, dim), np.float32)
    size = 4 * dim
    for row in range(count):
        word = bytearray()
        while (char := handle.read(1)) != b" ":
            if not char:
                raise DataError(f"{path}: ends after {row} of the {count} vectors its header promises")
            if char != b"\n":
                word += char
        raw = handle.read(size)
        if len(raw) != size:
            raise DataError(f"{path}: ends inside vector {row + 1} of {count}")
        vectors[row] = np.frombuffer(raw, "<f4")
        try:
            words.append(word.decode("utf-8"))
        except UnicodeDecodeError:
            words.append(word.decode("latin-1"))  # GoogleNews holds a few such words
    return words, vectors
