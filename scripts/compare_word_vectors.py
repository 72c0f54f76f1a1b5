"""The word-vector lecture side by side: nnpipe's skip-gram, CBOW, GloVe and PPMI-SVD and
gensim's skip-gram and CBOW, on the six shipped corpora (the same tokens and vocabulary),
with the same dimension and minimum count, the same window and epochs where they apply
(GloVe takes its config's window and passes, chosen by the grid in BENCHMARKS.md);
WordSim-353 Spearman, Google analogies (30,000 most frequent words), the nearest words of
"frog", training time and words/s, all measured in this run.  Rewrites its section of
BENCHMARKS.md.

Each model uses the vectors its config names (skip-gram, CBOW, SVD: the input vectors;
GloVe: W + W̃).  GloVe and PPMI-SVD first count the co-occurrences (timed on its own,
then cached); their "epochs" are passes over the matrix, not over the text.
"""
from __future__ import annotations

import time

from bench_sgns import evaluate, run_gensim, train_config, word2vec_arguments
from benchlib import header, kernel_threads, pin_threads, write_section

from nnpipe.config import load_config
from nnpipe.data.cooccurrence import count_cooccurrences
from nnpipe.data.text import load_corpus


def main():
    parser = word2vec_arguments(__doc__)
    args = parser.parse_args()
    threads = pin_threads()
    corpus = load_corpus(min_count=args.min_count)
    tokens = len(corpus.ids)
    glove = load_config("configs/glove.yaml")
    started = time.perf_counter()
    for window in sorted({args.window, glove.data.window}):
        count_cooccurrences(corpus, window, "harmonic")
    counting = time.perf_counter() - started
    shared = [f"model.dim={args.dim}", f"data.min_count={args.min_count}", f"seed={args.seed}"]
    windows = [f"data.window={args.window}", f"train.epochs={args.epochs}", f"data.negatives={args.negatives}",
               f"data.sample={args.sample}"]
    runs = [
        ("gensim 4.4 skip-gram (workers=2)", args.epochs, lambda: run_gensim(corpus, args, 2, sg=1)),
        ("nnpipe skip-gram", args.epochs, lambda: train_config("skipgram", shared + windows)),
        ("gensim 4.4 CBOW (workers=2)", args.epochs, lambda: run_gensim(corpus, args, 2, sg=0)),
        ("nnpipe CBOW", args.epochs, lambda: train_config("cbow", shared + windows)),
        ("nnpipe GloVe (its config's window and passes)", None, lambda: train_config("glove", shared)),
        ("nnpipe PPMI-SVD", None, lambda: train_config("svd", shared + [f"data.window={args.window}"])),
    ]
    rows = []
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
        f"skip-gram, 0.05 CBOW). GloVe as configs/glove.yaml: window {glove.data.window}, x_max "
        f"{glove.loss.x_max:g}, α {glove.loss.alpha:g}, AdaGrad, {glove.train.epochs} passes over the co-occurrences, "
        "vectors W + W̃. PPMI-SVD: context smoothing 0.75, U·Σ^0.5, one closed-form step. "
        f"Counting the 1/d-weighted co-occurrences (GloVe and PPMI-SVD, once per corpus, then cached) took "
        f"{counting:.1f} s and is not in their training time; words/s is tokens × epochs / training time.",
        "",
        "| model | training time | words/s | WS353 ρ | analogy acc. | nearest to frog |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    write_section("words", "Word-vector models compared (scripts/compare_word_vectors.py)", lines,
                  print_only=args.no_write)


if __name__ == "__main__":
    main()
