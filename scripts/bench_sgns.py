"""Skip-gram speed and quality: nnpipe against gensim Word2Vec(sg=1), workers=1 and 2,
with the same corpus (the six shipped corpora, the same tokens), the same settings and
the same evaluation (WordSim-353 Spearman, Google analogies on the 30,000 most frequent
words).  Words/s counts the in-vocabulary corpus tokens times epochs over training time."""
from __future__ import annotations

import argparse
import time

from benchlib import header, pin_threads, write_section


from nnpipe.config import load_config
from nnpipe.data.text import load_corpus
from nnpipe.data.wordeval import ANALOGIES, WORDSIM, WordVectors, default_eval_file
from nnpipe.train import Trainer


def evaluate(vectors):
    rho, _, _ = vectors.evaluate_word_pairs(default_eval_file(WORDSIM))
    accuracy, _, _, _ = vectors.evaluate_analogies(default_eval_file(ANALOGIES))
    nearest = ", ".join(word for word, _ in vectors.nearest("frog", 5))
    return rho, accuracy, nearest


def run_gensim(corpus, args, workers):
    from gensim.models import Word2Vec

    words = corpus.vocab.words
    sentences = [[words[i] for i in corpus.ids[start:stop]]
                 for start, stop in zip(corpus.sentence_starts, list(corpus.sentence_starts[1:]) + [len(corpus.ids)])]
    model = Word2Vec(vector_size=args.dim, window=args.window, negative=args.negatives, min_count=args.min_count,
                     sample=args.sample, sg=1, workers=workers, seed=args.seed, alpha=0.025, min_alpha=0.0001)
    model.build_vocab(sentences)
    started = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=args.epochs)
    seconds = time.perf_counter() - started
    kv = model.wv
    return seconds, WordVectors(kv.index_to_key, kv.vectors)


def run_nnpipe(args, tmp):
    config = load_config("configs/skipgram.yaml", [
        f"train.epochs={args.epochs}", f"data.batch_size={args.batch}", f"model.dim={args.dim}",
        f"seed={args.seed}", "device=cpu", f"run.root={tmp}",
    ])
    trainer = Trainer(config, quiet=True)
    trainer.start_run()
    trainer.task.evaluate = lambda *a, **k: {}  # time training only; evaluation is done below
    started = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - started
    return seconds, trainer.task.word_vectors(trainer.model)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=250, help="nnpipe words per step")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()
    threads = pin_threads()
    corpus = load_corpus(min_count=args.min_count)
    tokens = len(corpus.ids) * args.epochs
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in [("gensim 4.4 sg, workers=1", lambda: run_gensim(corpus, args, 1)),
                          ("gensim 4.4 sg, workers=2", lambda: run_gensim(corpus, args, 2)),
                          (f"nnpipe ({args.batch} words/step)", lambda: run_nnpipe(args, tmp))]:
            seconds, vectors = run()
            rho, accuracy, nearest = evaluate(vectors)
            rows.append((name, seconds, tokens / seconds, rho, accuracy, nearest))
            print(rows[-1], flush=True)
    base = rows[1][2]
    lines = [
        header(threads),
        "",
        f"Corpus: the six shipped corpora, {len(corpus.ids):,} in-vocabulary tokens, {len(corpus.vocab):,} words "
        f"(min_count {args.min_count}); D={args.dim}, window {args.window}, {args.negatives} negatives, sample "
        f"{args.sample:g}, {args.epochs} epochs, lr 0.025 → 0.0001 linear. Target: ≥ gensim workers=2 words/s at "
        "equal or better quality.",
        "",
        "| implementation | train time | words/s | ratio to gensim workers=2 | WS353 ρ | analogy acc. | nearest to frog |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, seconds, rate, rho, accuracy, nearest in rows:
        lines.append(f"| {name} | {seconds:.1f} s | {rate:,.0f} | {rate / base:.2f}× | {rho:.3f} | {accuracy:.3f} | {nearest} |")
    if not args.no_write:
        write_section("sgns", "Skip-gram vs gensim (scripts/bench_sgns.py)", lines)
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
