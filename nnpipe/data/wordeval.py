"""Word vectors: nearest neighbours, analogies, WordSim-353 and Google-analogy evaluation
(the same definitions as gensim's KeyedVectors), and word2vec-format export."""
from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np

from .files import DataError, data_root, verify_shipped
from .user_files import read_text_file, write_output

WORDSIM = "wordeval/wordsim353.tsv"
ANALOGIES = "wordeval/questions-words.txt"


class UnknownWord(DataError):
    """A word is not in the vocabulary."""


def spearman(a, b):
    """Spearman's rank correlation (SciPy's, ties given their average rank)."""
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def read_word_pairs(path):
    """(word1, word2, score) rows of a tab-separated similarity file, '#' lines skipped."""
    rows = []
    for number, line in enumerate(read_text_file(path, "similarity file").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        try:
            rows.append((parts[0].lower(), parts[1].lower(), float(parts[2])))
        except (IndexError, ValueError):
            raise DataError(f"{path}:{number}: expected 'word1<TAB>word2<TAB>score'") from None
    return rows


def read_analogies(path):
    """{section: [(a, b, c, d), ...]} from the Google analogy format (': section' headers)."""
    sections, current = {}, None
    for number, line in enumerate(read_text_file(path, "analogy file").splitlines(), 1):
        if line.startswith(":"):
            current = sections.setdefault(line[1:].strip(), [])
        elif line.strip():
            words = line.lower().split()
            if current is None or len(words) != 4:
                raise DataError(f"{path}:{number}: expected four words under a ': section' line")
            current.append(tuple(words))
    return sections


def default_eval_file(name, root=None):
    path = data_root(root) / name
    if not path.is_file():
        raise DataError(f"evaluation file not found: {path}")
    verify_shipped(path)
    return path


class WordVectors:
    """Vectors for a vocabulary ordered most frequent first.  Only the vectors and their
    lengths are kept: unit vectors are made for the rows a question needs (a table of
    pretrained vectors is gigabytes, GoogleNews' 3.6 GB; a second, normalised copy of it
    would double that)."""

    BLOCK = 16_384  # rows normalised at a time when a question reads the whole table

    def __init__(self, words, vectors, kind="input"):
        self.kind = kind  # which of a model's vectors these are: input, output, sum or concat
        self.words = list(words)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.index = {word: i for i, word in enumerate(self.words)}
        self.norms = np.empty(len(self.vectors), np.float32)
        for start in range(0, len(self.vectors), self.BLOCK):  # no temporary the size of the table
            self.norms[start:start + self.BLOCK] = np.linalg.norm(self.vectors[start:start + self.BLOCK], axis=1)

    def unit(self, rows):
        """The vectors of ``rows`` (an index, a slice or an array of indices) scaled to unit
        length (a zero vector stays zero)."""
        norms = self.norms[rows]
        return self.vectors[rows] / np.where(norms == 0, 1, norms)[..., None]

    def lookup(self, word):
        if word not in self.index:
            close = difflib.get_close_matches(word, self.words, n=5, cutoff=0.75)
            hint = f"; close spellings: {', '.join(close)}" if close else ""
            raise UnknownWord(f"{word!r} is not in the vocabulary ({len(self.words):,} words){hint}")
        return self.index[word]

    def _best(self, query, exclude, k, restrict=None):
        query = query / (np.linalg.norm(query) or 1)
        count = min(restrict or len(self.words), len(self.words))
        scores = np.concatenate([self.unit(slice(start, min(start + self.BLOCK, count))) @ query
                                 for start in range(0, count, self.BLOCK)] or [np.zeros(0, np.float32)])
        scores[[i for i in exclude if i < len(scores)]] = -np.inf
        top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in top if np.isfinite(scores[i])]

    def nearest(self, word, k=10):
        """The k words of highest cosine similarity to ``word``, the word itself excluded."""
        index = self.lookup(word)
        return self._best(self.unit(index), [index], k)

    def analogy(self, a, b, c, k=10):
        """Words x with b - a + c ≈ x ("a is to b as c is to x": man king woman → queen),
        by 3CosAdd over unit vectors as gensim's most_similar; inputs excluded."""
        ids = [self.lookup(w) for w in (a, b, c)]
        return self._best(self.unit(ids[1]) + self.unit(ids[2]) - self.unit(ids[0]), ids, k)

    def evaluate_word_pairs(self, pairs, restrict=300_000):
        """(Spearman ρ, number of pairs used, number out of vocabulary) on a similarity file
        (its path, or its rows as :func:`read_word_pairs` gives them)."""
        pairs = read_word_pairs(pairs) if isinstance(pairs, (str, Path)) else pairs
        known = {w: i for w, i in self.index.items() if i < restrict}
        used = [(known[a], known[b], score) for a, b, score in pairs if a in known and b in known]
        if len(used) < 2:
            return float("nan"), len(used), len(pairs) - len(used)
        model = [float(self.unit(i) @ self.unit(j)) for i, j, _ in used]
        return spearman([s for _, _, s in used], model), len(used), len(pairs) - len(used)

    def evaluate_analogies(self, sections, restrict=30_000, batch=512):
        """(accuracy, {section: accuracy}, questions answered, questions out of vocabulary)
        on an analogy file (its path, or its sections as :func:`read_analogies` gives them):
        questions with a word outside the ``restrict`` most frequent words are skipped, as
        gensim's evaluate_word_analogies does."""
        sections = read_analogies(sections) if isinstance(sections, (str, Path)) else sections
        unit = self.unit(slice(0, restrict))
        correct = total = oov = 0
        per_section = {}
        for section, questions in sections.items():
            known = [q for q in questions if all(self.index.get(w, restrict) < restrict for w in q)]
            oov += len(questions) - len(known)
            if not known:
                continue
            ids = np.array([[self.index[w] for w in q] for q in known])
            hits = 0
            for start in range(0, len(ids), batch):
                chunk = ids[start:start + batch]
                query = unit[chunk[:, 1]] + unit[chunk[:, 2]] - unit[chunk[:, 0]]
                query /= np.linalg.norm(query, axis=1, keepdims=True)
                scores = query @ unit.T
                rows = np.arange(len(chunk))[:, None]
                scores[rows, chunk[:, :3]] = -np.inf
                hits += int((scores.argmax(axis=1) == chunk[:, 3]).sum())
            per_section[section] = hits / len(known)
            correct += hits
            total += len(known)
        return (correct / total if total else float("nan")), per_section, total, oov

    def save_word2vec(self, path, binary=False, what="--export"):
        """word2vec format: a 'V D' header then one 'word v1 … vD' line per word (or, with
        ``binary``, the word, a space and D little-endian float32s); see
        :func:`~nnpipe.data.user_files.write_output` for where it goes."""
        def write(handle):
            handle.write(f"{len(self.words)} {self.vectors.shape[1]}\n".encode())
            for word, vector in zip(self.words, self.vectors):
                if binary:
                    handle.write(word.encode() + b" " + vector.astype("<f4").tobytes() + b"\n")
                else:
                    handle.write((word + " " + " ".join(f"{v:.6g}" for v in vector) + "\n").encode())

        write_output(path, write, what)
