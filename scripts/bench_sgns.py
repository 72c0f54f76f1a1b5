"""Skip-gram speed and quality: nnpipe against gensim Word2Vec(sg=1), workers=1 and 2,
with the same corpus (the six shipped corpora, the same tokens), the same settings and
the same evaluation (WordSim-353 Spearman, Google analogies on the 30,000 most frequent
words).  Words/s counts the in-vocabulary corpus tokens times epochs over training time.

nnpipe runs through the Trainer as configs/skipgram.yaml sets it up (compiled kernels,
word2vec's per-pair negatives), then with negatives shared per centre word's window, and
its vectorised reference path (NNPIPE_KERNELS=reference) for --reference-epochs epochs."""
from __future__ import annotations

import argparse
import time

from benchlib import compile_seconds, header, kernel_threads, pin_threads, write_section

from nnpipe import kernels
from nnpipe.config import load_config
from nnpipe.data.text import load_corpus
from nnpipe.data.wordeval import ANALOGIES, WORDSIM, WordVectors, default_eval_file
from nnpipe.training import Trainer


def evaluate(vectors):
    rho, _, _ = vectors.evaluate_word_pairs(default_eval_file(WORDSIM))
    accuracy, _, _, _ = vectors.evaluate_analogies(default_eval_file(ANALOGIES))
    nearest = ", ".join(word for word, _ in vectors.nearest("frog", 5))
    return rho, accuracy, nearest


def run_gensim(corpus, args, workers, sg=1):
    """gensim's skip-gram (sg=1, lr 0.025) or CBOW (sg=0, lr 0.05, word2vec.c's defaults)
    on the same tokens as nnpipe; (training seconds, vectors)."""
    from gensim.models import Word2Vec

    words = corpus.vocab.words
    sentences = [[words[i] for i in corpus.ids[start:stop]]
                 for start, stop in zip(corpus.sentence_starts, list(corpus.sentence_starts[1:]) + [len(corpus.ids)])]
    model = Word2Vec(vector_size=args.dim, window=args.window, negative=args.negatives, min_count=args.min_count,
                     sample=args.sample, sg=sg, workers=workers, seed=args.seed, alpha=0.025 if sg else 0.05,
                     min_alpha=0.0001)
    model.build_vocab(sentences)
    started = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=args.epochs)
    seconds = time.perf_counter() - started
    kv = model.wv
    return seconds, WordVectors(kv.index_to_key, kv.vectors)


def run_nnpipe(args, tmp, epochs, overrides=()):
    config = load_config("configs/skipgram.yaml", [
        f"train.epochs={epochs}", f"data.batch_size={args.batch}", f"model.dim={args.dim}",
        f"seed={args.seed}", "device=cpu", f"run.root={tmp}", *overrides,
    ])
    trainer = Trainer(config, quiet=True)
    trainer.start_run()
    trainer.task.evaluate = lambda *a, **k: {}  # time training only; evaluation is done below
    started = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - started
    return seconds, trainer.task.word_vectors(trainer.model)


def word2vec_arguments(description):
    """The settings word2vec and its comparisons share, as command-line options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=5, help="skip-gram and CBOW (nnpipe and gensim)")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    return parser


def main():
    parser = word2vec_arguments(__doc__)
    parser.add_argument("--batch", type=int, default=1000, help="nnpipe words per step")
    parser.add_argument("--reference-epochs", type=int, default=1, help="epochs of the reference path (0: skip)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of gensim workers=2 and of nnpipe's shipped config, alternating (medians reported)")
    args = parser.parse_args()
    threads = pin_threads()
    corpus = load_corpus(min_count=args.min_count)
    import tempfile

    compile_code = ("import numpy as np; import nnpipe.autograd.functions as F; from nnpipe.autograd import Tensor;"
                    "W = Tensor(np.ones((9, 4), np.float32), requires_grad=True);"
                    "F.skipgram_ns(W, W, np.arange(3), np.arange(4), np.array([0, 0, 1, 2]), "
                    "np.ones((3, 2), int)).backward()")
    cold, warm = compile_seconds(compile_code)
    rows = []
    # (name, epochs, run, repeats): the two contenders of the target alternate over the rounds
    runs = [("gensim 4.4 sg, workers=1", args.epochs, lambda: run_gensim(corpus, args, 1), 1),
            ("gensim 4.4 sg, workers=2", args.epochs, lambda: run_gensim(corpus, args, 2), args.rounds)]
    with tempfile.TemporaryDirectory() as tmp:
        runs += [(f"nnpipe, compiled, per-pair negatives as configs/skipgram.yaml ({args.batch} words/step)",
                  args.epochs, lambda: run_nnpipe(args, tmp, args.epochs, ["data.share_negatives=false"]), args.rounds),
                 (f"nnpipe, compiled, negatives shared per window ({args.batch} words/step)", args.epochs,
                  lambda: run_nnpipe(args, tmp, args.epochs, ["data.share_negatives=true"]), 1)]
        if args.reference_epochs:
            def reference():
                kernels.set_mode("reference")
                try:
                    return run_nnpipe(args, tmp, args.reference_epochs)
                finally:
                    kernels.set_mode("auto")

            runs.append((f"nnpipe, reference path (NNPIPE_KERNELS=reference), per-pair negatives, "
                         f"{args.reference_epochs} epoch(s)", args.reference_epochs, reference, 1))
        results = {name: [] for name, *_ in runs}
        for round_ in range(max(repeats for *_, repeats in runs)):
            for name, epochs, run, repeats in runs:
                if round_ < repeats:
                    seconds, vectors = run()
                    results[name].append((seconds, *evaluate(vectors)))
                    print(name, results[name][-1], flush=True)
        for name, epochs, _, _ in runs:
            timed = sorted(results[name])
            seconds, rho, accuracy, nearest = timed[len(timed) // 2]  # the median run (its quality too)
            rates = [len(corpus.ids) * epochs / t for t, *_ in timed]
            rows.append((name, seconds, len(corpus.ids) * epochs / seconds, min(rates), max(rates), rho, accuracy,
                         nearest, epochs, len(timed)))
    base = rows[1][2]  # gensim workers=2, median
    lines = [
        header(threads) + f" Kernels: {kernel_threads()}; first use compiles them in {cold:.1f} s, "
        f"later processes load them from Numba's cache in {warm:.1f} s (both: a whole fresh process).",
        "",
        f"Corpus: the six shipped corpora, {len(corpus.ids):,} in-vocabulary tokens, {len(corpus.vocab):,} words "
        f"(min_count {args.min_count}); D={args.dim}, window {args.window}, {args.negatives} negatives, sample "
        f"{args.sample:g}, {args.epochs} epochs, lr 0.025 → 0.0001 linear. Target: ≥ gensim workers=2 words/s at "
        "equal or better quality.",
        "",
        f"Rows marked ×{args.rounds} are the median of {args.rounds} runs, alternating gensim and nnpipe (the "
        "range of words/s in brackets, the quality of the median run).",
        "",
        "| implementation | train time | words/s | ratio to gensim workers=2 | WS353 ρ | analogy acc. "
        "| nearest to frog |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, seconds, rate, low, high, rho, accuracy, nearest, epochs, count in rows:
        quality = f"{rho:.3f} | {accuracy:.3f} | {nearest}" if epochs == args.epochs else \
            f"({rho:.3f}) | ({accuracy:.3f}) | (after {epochs} epoch(s) only)"
        spread = f" ({low:,.0f}–{high:,.0f})" if count > 1 else ""
        label = f"{name} ×{count}" if count > 1 else name
        lines.append(f"| {label} | {seconds:.1f} s | {rate:,.0f}{spread} | {rate / base:.2f}× | {quality} |")
    if not args.no_write:
        write_section("sgns", "Skip-gram vs gensim (scripts/bench_sgns.py)", lines)
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
