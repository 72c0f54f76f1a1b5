"""``nnpipe embed``: query, evaluate and export the word vectors of a trained run."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

import typer

from ..config import ConfigError
from ..data.vector_files import load_vectors
from ..data.wordeval import ANALOGIES, WORDSIM, default_eval_file, read_analogies, read_word_pairs
from ..models.word_tables import VECTOR_CHOICES
from ..runs import Run
from ..training import find_runs, resolve_run
from ..training.rundir import RunError, has_checkpoint
from .common import CheckpointOption, DebugOption, RootOption, guarded, say_latest
from .projector import project


def _print_words(title, rows):
    typer.echo(title)
    for rank, (word, score) in enumerate(rows, 1):
        typer.echo(f"  {rank:>3}  {word:<20} {score:.4f}")


@guarded
def embed(
    run: Optional[str] = typer.Argument(None, help="A word-vector run directory (default: the latest one), or a "
                                        "vectors file: word2vec text or binary, fastText .vec, GloVe text."),
    nearest: Optional[str] = typer.Option(None, "--nearest", help="Print the words closest to this one."),
    k: int = typer.Option(10, "-k", help="How many words to print."),
    analogy: Optional[Tuple[str, str, str]] = typer.Option(
        None, "--analogy", help="A B C: words x with B - A + C ≈ x (man king woman → queen)."),
    export: Optional[Path] = typer.Option(None, "--export", help="Write the vectors in word2vec format."),
    binary: bool = typer.Option(False, "--binary", help="With --export: the binary word2vec format."),
    evaluate_: bool = typer.Option(False, "--evaluate", help="WordSim-353 Spearman and Google-analogy accuracy."),
    project_: bool = typer.Option(False, "--project", help="Write vectors.tsv, metadata.tsv, projection.png and "
                                  "projector.html into the run (with --analogy: the parallelogram too)."),
    words: int = typer.Option(500, "--words", help="With --project: how many of the most frequent words to map."),
    around: Optional[str] = typer.Option(None, "--around", help="With --project: highlight this word and its nearest."),
    vectors_: Optional[str] = typer.Option(None, "--vectors", help="input, output, sum or concat (default: the "
                                           "model's: input for skip-gram, CBOW and SVD, sum for GloVe)."),
    wordsim: Optional[Path] = typer.Option(None,
                                           help="Word-pair similarity file (default: data/wordeval/wordsim353.tsv)."),
    analogies: Optional[Path] = typer.Option(None, help="Analogy file (default: data/wordeval/questions-words.txt)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="With a vectors file: read only its first N words."),
    checkpoint: str = CheckpointOption,
    root: Path = RootOption,
    debug: bool = DebugOption,
):
    """Query, evaluate, export and map the word vectors of a trained word-vector run.

    Examples:

      nnpipe embed --nearest frog

      nnpipe embed --analogy man king woman

      nnpipe embed runs/skipgram/20261125-101500-a3f9 --export vectors.txt

      nnpipe embed --evaluate --vectors sum

      nnpipe embed --project --words 500 --around frog

      nnpipe embed --analogy man king woman --project

      nnpipe embed glove.6B.100d.txt --nearest frog --limit 100000
    """
    if nearest is None and not (analogy or export or evaluate_ or project_):
        raise ConfigError("say what to do: --nearest WORD, --analogy A B C, --export FILE, --evaluate or --project")
    if vectors_ is not None and vectors_ not in VECTOR_CHOICES:
        raise ConfigError(f"--vectors {vectors_!r}: use one of {', '.join(VECTOR_CHOICES)}")
    if (around is not None or words != 500) and not project_:
        raise ConfigError("--around and --words go with --project")
    if nearest is not None and not nearest.strip():
        raise ConfigError("--nearest needs a word, got an empty one")
    if k < 1:
        raise ConfigError(f"-k must be at least 1, got {k}")
    if export is not None and export.is_dir():
        raise ConfigError(f"--export {export} is a folder; give a file name such as {export / 'vectors.txt'}")
    if evaluate_:  # both files read before anything is printed
        pairs = read_word_pairs(wordsim or default_eval_file(WORDSIM))
        sections = read_analogies(analogies or default_eval_file(ANALOGIES))
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {limit}")
    # a file that is not a run's checkpoint: vectors trained elsewhere (the projector goes beside them)
    from_file = run is not None and Path(run).is_file() and Path(run).parent.name != "checkpoints"
    if from_file:
        run_dir, vectors = Path(run).parent / f"{Path(run).stem}-projector", load_vectors(run, limit)
    elif run is None:  # the newest word-vector run, even if other models were trained since
        found = [path for path in find_runs(root) if (path / "vocab.tsv").is_file() and has_checkpoint(path)]
        if not found:
            raise RunError(f"no word-vector runs under {root}/: train one with nnpipe train configs/skipgram.yaml")
        run_dir = found[-1]
    else:
        run_dir = resolve_run(run, root)
    say_latest(run, run_dir, "word-vector run", err=str(export) == "-")
    if not from_file:
        vectors = Run(run_dir).word_vectors(checkpoint, vectors_)
    if nearest:
        word = nearest.lower()
        _print_words(f"nearest to {word!r}", vectors.nearest(word, k))
    if analogy:
        a, b, c = (w.lower() for w in analogy)
        _print_words(f"{b} - {a} + {c}", vectors.analogy(a, b, c, k))
    if evaluate_:
        rho, used, oov = vectors.evaluate_word_pairs(pairs)
        typer.echo(f"WordSim-353 Spearman {rho:.4f} ({used} pairs, {oov} out of vocabulary)")
        accuracy, per_section, answered, skipped = vectors.evaluate_analogies(sections)
        typer.echo(f"analogy accuracy {accuracy:.4f} ({answered} questions, {skipped} out of the "
                   f"30,000 most frequent words)")
        for section, value in per_section.items():
            typer.echo(f"  {section:<28} {value:.4f}")
    if project_:
        run_dir.mkdir(exist_ok=True)
        written = project(run_dir, vectors, words, around and around.lower(),
                          analogy and tuple(w.lower() for w in analogy))
        typer.echo("wrote " + ", ".join(str(path) for path in written))
    if export:
        vectors.save_word2vec(export, binary=binary)
        typer.echo(f"wrote {len(vectors.words):,} vectors of size {vectors.vectors.shape[1]} to {export}",
                   err=str(export) == "-")  # the vectors themselves went to standard output
