"""The word-vector lecture side by side: nnpipe's skip-gram, CBOW, GloVe and PPMI-SVD and
gensim's skip-gram and CBOW, on the six shipped corpora (the same tokens and vocabulary),
with the same window, dimension and minimum count, and the epochs where they apply;
WordSim-353 Spearman, Google analogies (30,000 most frequent words), the nearest words of
"frog", training time and words/s, all measured in this run.  Rewrites its section of
BENCHMARKS.md.

Each model uses the vectors its config names (skip-gram, CBOW, SVD: the input vectors;
GloVe: W + W̃).  GloVe and PPMI-SVD first count the co-occurrences (timed on its own,
then cached); their "epochs" are passes over the matrix, not over the text.
"""
from __future__ import annotations

import tempfile
import time

from bench_sgns import evaluate, run_gensim, word2vec_arguments
from benchlib import header, kernel_threads, pin_threads, write_section

from nnpipe.config import load_config
from nnpipe.data.cooccurrence import count_cooccurrences
from nnpipe.data.text import load_corpus
from nnpipe.training import Trainer


def run_nnpipe(model, tmp, overrides):
    """Train configs/<model>.yaml (evaluation left out of the timing); (seconds, vectors)."""
    config = load_config(f"configs/{model}.yaml", ["device=cpu", f"run.root={tmp}", *overrides])
    trainer = Trainer(config, quiet=True)
    trainer.start_run()
    trainer.task.evaluate = lambda *a, **k: {}
    started = time.perf_counter()
    trainer.fit()
    return time.perf_counter() - started, trainer.task.word_vectors(trainer.model)


def main():
    parser = word2vec_arguments(__doc__)
    parser.add_argument("--glove-epochs", type=int, default=50, help="passes over the co-occurrences (the paper: 50)")
    args = parser.parse_args()
    threads = pin_threads()
    corpus = load_corpus(min_count=args.min_count)
    tokens = len(corpus.ids)
    started = time.perf_counter()
    count_cooccurrences(corpus, args.window, "harmonic")
    counting = time.perf_counter() - started
    shared = [f"model.dim={args.dim}", f"data.window={args.window}", f"data.min_count={args.min_count}",
              f"seed={args.seed}"]
    windows = [f"train.epochs={args.epochs}", f"data.negatives={args.negatives}", f"data.sample={args.sample}"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = [
            ("gensim 4.4 skip-gram (workers=2)", args.epochs, lambda: run_gensim(corpus, args, 2, sg=1)),
            ("nnpipe skip-gram", args.epochs, lambda: run_nnpipe("skipgram", tmp, shared + windows)),
            ("gensim 4.4 CBOW (workers=2)", args.epochs, lambda: run_gensim(corpus, args, 2, sg=0)),
            ("nnpipe CBOW", args.epochs, lambda: run_nnpipe("cbow", tmp, shared + windows)),
            ("nnpipe GloVe", None, lambda: run_nnpipe("glove", tmp, shared + [f"train.epochs={args.glove_epochs}"])),
            ("nnpipe PPMI-SVD", None, lambda: run_nnpipe("svd", tmp, shared)),
        ]
        for name, epochs, run in runs:
            seconds, vectors = run()
            rho, accuracy, nearest = evaluate(vectors)
            rate = f"{tokens * epochs / seconds:,.0f}" if epochs else "—"
            rows.append(f"| {name} | {seconds:.1f} s | {rate} | {rho:.3f} | {accuracy:.3f} | {nearest} |")
            print(rows[-1], flush=True)
    lines = [
        header(threads) + f" Kernels: {kernel_threads()}.",
        "",
        f"Corpus: the six shipped corpora, {tokens:,} in-vocabulary tokens, {len(corpus.vocab):,} words "
        f"(min_count {args.min_count}); D={args.dim}, window {args.window}. Skip-gram and CBOW: {args.negatives} "
        f"negatives, sample {args.sample:g}, {args.epochs} epochs, linear decay from word2vec's rates (0.025 "
        f"skip-gram, 0.05 CBOW). GloVe: x_max 100, α 0.75, GloVe's AdaGrad (η 0.05), {args.glove_epochs} "
        "passes over the "
        "co-occurrences, vectors W + W̃. PPMI-SVD: context smoothing 0.75, U·Σ^0.5, one closed-form step. "
        f"Counting the 1/d-weighted co-occurrences (GloVe and PPMI-SVD, once per corpus, then cached) took "
        f"{counting:.1f} s and is not in their training time; words/s is tokens × epochs / training time.",
        "",
        "| model | training time | words/s | WS353 ρ | analogy acc. | nearest to frog |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    if args.no_write:
        print("\n".join(lines))
    else:
        write_section("words", "Word-vector models compared (scripts/compare_word_vectors.py)", lines)


if __name__ == "__main__":
    main()
