"""Word vectors of a finished skip-gram run, read from its checkpoint and vocab.tsv."""
from __future__ import annotations

from ..data.text import Vocabulary
from ..data.wordeval import WordVectors
from .checkpoint import CheckpointError, load_checkpoint
from .rundir import RunError, read_json

CENTER = "model/center.weight"


def load_word_vectors(run_dir, which="best") -> WordVectors:
    summary = read_json(run_dir / "summary.json", {})
    if summary.get("model") not in (None, "skipgram") or not (run_dir / "vocab.tsv").is_file():
        raise RunError(f"{run_dir} is not a skip-gram run (model {summary.get('model', '?')!r}, no vocab.tsv)")
    path = run_dir / "checkpoints" / f"{which}.npz"
    arrays, _ = load_checkpoint(path)
    if CENTER not in arrays:
        raise CheckpointError(f"{path} holds no word vectors ({CENTER})")
    vocab = Vocabulary.load(run_dir / "vocab.tsv")
    if len(vocab) != len(arrays[CENTER]):
        raise CheckpointError(f"{path}: {len(arrays[CENTER])} vectors but vocab.tsv has {len(vocab)} words")
    return WordVectors(vocab.words, arrays[CENTER])
