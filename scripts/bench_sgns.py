"""Skip-gram and CBOW speed and quality: nnpipe against gensim Word2Vec, workers=2, with the
same corpus (the six shipped corpora, the same tokens), the same settings and the same
evaluation (WordSim-353 Spearman, Google analogies on the 30,000 most frequent words).
Words/s counts the in-vocabulary corpus tokens times epochs over training time.

Every run is a process of its own (``--one NAME SEED``), so no library's idle threads
slow the next; the contenders of a target alternate over the rounds.  nnpipe runs through
the Trainer as its config sets it up (word2vec's fused update), then as 0.3.0 trained
(gradients, then the optimizer's step, 1,000 words per step), with shared negatives, and on
its vectorised reference path (NNPIPE_KERNELS=reference) for --reference-epochs epochs.
The end-to-end row times the whole ``nnpipe train configs/skipgram.yaml`` command (start-up
and the per-epoch evaluation included) against gensim's ``train`` on the same tokens."""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import compile_seconds, header, kernel_threads, pin_threads, write_section

ROOT = Path(__file__).resolve().parent.parent


def evaluate(vectors):
    from nnpipe.data.wordeval import ANALOGIES, WORDSIM, default_eval_file

    rho, _, _ = vectors.evaluate_word_pairs(default_eval_file(WORDSIM))
    accuracy, _, _, _ = vectors.evaluate_analogies(default_eval_file(ANALOGIES))
    nearest = ", ".join(word for word, _ in vectors.nearest("frog", 5))
    return rho, accuracy, nearest


def run_gensim(corpus, args, workers, sg=1, seed=None):
    """gensim's skip-gram (sg=1, lr 0.025) or CBOW (sg=0, lr 0.05, word2vec.c's defaults)
    on the same tokens as nnpipe; (training seconds, vectors)."""
    from gensim.models import Word2Vec

    from nnpipe.data.wordeval import WordVectors

    words = corpus.vocab.words
    sentences = [[words[i] for i in corpus.ids[start:stop]]
                 for start, stop in zip(corpus.sentence_starts, list(corpus.sentence_starts[1:]) + [len(corpus.ids)])]
    model = Word2Vec(vector_size=args.dim, window=args.window, negative=args.negatives, min_count=args.min_count,
                     sample=args.sample, sg=sg, workers=workers, seed=args.seed if seed is None else seed,
                     alpha=0.025 if sg else 0.05, min_alpha=0.0001)
    model.build_vocab(sentences)
    started = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=args.epochs)
    seconds = time.perf_counter() - started
    kv = model.wv
    return seconds, WordVectors(kv.index_to_key, kv.vectors)


def train_config(model, overrides):
    """configs/<model>.yaml with ``overrides`` through the Trainer on the CPU, evaluation
    left out of the timing; (training seconds, vectors)."""
    from nnpipe.config import load_config
    from nnpipe.training import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(f"configs/{model}.yaml", ["device=cpu", f"run.root={tmp}", *overrides])
        trainer = Trainer(config, quiet=True)
        trainer.start_run()
        trainer.task.evaluate = lambda *a, **k: {}
        started = time.perf_counter()
        trainer.fit()
        return time.perf_counter() - started, trainer.task.word_vectors(trainer.model)


def run_nnpipe(args, model, epochs, seed, overrides=()):
    return train_config(model, [f"train.epochs={epochs}", f"model.dim={args.dim}", f"seed={seed}", *overrides])


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


AS_030 = ["train.fused_update=false", "data.batch_size=1000", "model.init_range=0.5"]  # how 0.3.0 trained


# every contender by name: run(corpus, seed) -> (training seconds, vectors)
def contenders(args):
    reference = ("nnpipe skip-gram, reference path (NNPIPE_KERNELS=reference, 1,000 words/step), "
                 f"{args.reference_epochs} epoch(s)")
    return {
        "gensim 4.4 skip-gram, workers=1": lambda corpus, seed: run_gensim(corpus, args, 1, seed=seed),
        "gensim 4.4 skip-gram, workers=2": lambda corpus, seed: run_gensim(corpus, args, 2, seed=seed),
        "nnpipe skip-gram, configs/skipgram.yaml (fused update)":
            lambda corpus, seed: run_nnpipe(args, "skipgram", args.epochs, seed),
        "nnpipe skip-gram as 0.3.0 (gradients then SGD step, 1,000 words/step)":
            lambda corpus, seed: run_nnpipe(args, "skipgram", args.epochs, seed, AS_030),
        "nnpipe skip-gram, fused, negatives shared per window":
            lambda corpus, seed: run_nnpipe(args, "skipgram", args.epochs, seed, ["data.share_negatives=true"]),
        reference: lambda corpus, seed: _reference(args, seed),
        "gensim 4.4 CBOW, workers=2": lambda corpus, seed: run_gensim(corpus, args, 2, sg=0, seed=seed),
        "nnpipe CBOW, configs/cbow.yaml (fused update)":
            lambda corpus, seed: run_nnpipe(args, "cbow", args.epochs, seed),
        "nnpipe CBOW as 0.3.0 (gradients then SGD step, 1,000 words/step)":
            lambda corpus, seed: run_nnpipe(args, "cbow", args.epochs, seed, AS_030),
    }


def _reference(args, seed):
    from nnpipe import kernels

    kernels.set_mode("reference")  # gradients summed over a step: larger steps diverge
    return run_nnpipe(args, "skipgram", args.reference_epochs, seed, ["data.batch_size=1000"])


def run_one(args, name, seed):
    """One contender in this process: prints its JSON row."""
    from nnpipe.data.text import load_corpus

    pin_threads()
    corpus = load_corpus(min_count=args.min_count)
    seconds, vectors = contenders(args)[name](corpus, seed)
    rho, accuracy, nearest = evaluate(vectors)
    print(json.dumps({"seconds": seconds, "rho": rho, "accuracy": accuracy, "nearest": nearest,
                      "tokens": len(corpus.ids), "vocab": len(corpus.vocab)}))


def spawn(args, *command):
    """The JSON row of ``command`` run as this script in a fresh process."""
    options = [f"--epochs={args.epochs}", f"--dim={args.dim}", f"--window={args.window}",
               f"--negatives={args.negatives}", f"--min-count={args.min_count}", f"--sample={args.sample}",
               f"--seed={args.seed}", f"--reference-epochs={args.reference_epochs}"]
    result = subprocess.run([sys.executable, __file__, *options, *command], cwd=ROOT, check=True,
                            capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def end_to_end(args):
    """Seconds of the whole ``nnpipe train configs/skipgram.yaml`` command (a fresh process:
    start-up, corpus store, training and the per-epoch evaluation)."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run(["nnpipe", "train", "configs/skipgram.yaml", "--set", f"run.root={tmp}", "--set",
                        f"train.epochs={args.epochs}", "--set", f"seed={args.seed}"], cwd=ROOT, check=True,
                       capture_output=True)
        return time.perf_counter() - started


def main():
    parser = word2vec_arguments(__doc__)
    parser.add_argument("--reference-epochs", type=int, default=1, help="epochs of the reference path (0: skip)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of the skip-gram target's contenders")
    parser.add_argument("--cbow-seeds", type=int, default=4, help="CBOW: seeds 0..N-1 of gensim and nnpipe")
    parser.add_argument("--one", nargs=2, metavar=("NAME", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return run_one(args, args.one[0], int(args.one[1]))
    threads = pin_threads()
    names = list(contenders(args))
    gensim_sg1, gensim_sg2, fused, old, shared, reference, gensim_cbow, cbow, old_cbow = names
    schedule = [(gensim_sg1, args.seed)]
    for _ in range(args.rounds):
        schedule += [(gensim_sg2, args.seed), (fused, args.seed)]
    schedule += [(old, args.seed), (shared, args.seed)] + ([(reference, args.seed)] if args.reference_epochs else [])
    for seed in range(args.cbow_seeds):
        schedule += [(gensim_cbow, seed), (cbow, seed)]
    schedule += [(old_cbow, args.seed)]
    results = {name: [] for name in names}
    for name, seed in schedule:
        results[name].append(spawn(args, "--one", name, str(seed)))
        print(name, seed, results[name][-1], flush=True)
    gensim_train = statistics.median(r["seconds"] for r in results[gensim_sg2])
    whole = [end_to_end(args) for _ in range(2)]
    cold, warm = compile_seconds(
        "import numpy as np; import nnpipe.autograd.functions as F; from nnpipe.nn.module import Parameter;"
        "from nnpipe.optim import build_optimizer; W = Parameter(np.ones((9, 4), np.float32));"
        "build_optimizer('sgd', [W], lr=0.1).apply_in_backward();"
        "F.skipgram_ns(W, W, np.arange(3), np.arange(4), np.array([0, 0, 1, 2]), np.ones((3, 2), int)).backward()")
    tokens, vocab = results[fused][0]["tokens"], results[fused][0]["vocab"]
    lines = [
        header(threads) + f" Kernels: {kernel_threads()}; a fresh process compiles the fused skip-gram kernels in "
        f"{cold:.1f} s, later processes load them from Numba's cache in {warm:.1f} s.",
        "",
        f"Corpus: the six shipped corpora, {tokens:,} in-vocabulary tokens, {vocab:,} words (min_count "
        f"{args.min_count}); D={args.dim}, window {args.window}, {args.negatives} negatives, sample {args.sample:g}, "
        f"{args.epochs} epochs, linear decay from word2vec's rates (skip-gram 0.025, CBOW 0.05). Each run is a "
        "process of its own; rows marked ×N give the median words/s of N runs (the range in brackets) with "
        "their mean quality; CBOW's rows are seeds 0–"
        f"{args.cbow_seeds - 1}, the others seed {args.seed}. Target: ≥ 1.5× gensim workers=2 at equal or better "
        "quality.",
        "",
        "| implementation | train time | words/s | ratio to gensim workers=2 | WS353 ρ | analogy acc. "
        "| nearest to frog |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        runs = results[name]
        if not runs:
            continue
        epochs = args.reference_epochs if name == reference else args.epochs
        rates = sorted(tokens * epochs / r["seconds"] for r in runs)
        rate = statistics.median(rates)
        base = statistics.median(tokens * args.epochs / r["seconds"]
                                 for r in results[gensim_cbow if "CBOW" in name else gensim_sg2])
        rho, accuracy = (statistics.mean(r[key] for r in runs) for key in ("rho", "accuracy"))
        quality = f"{rho:.3f} | {accuracy:.3f}" if epochs == args.epochs else f"({rho:.3f}) | ({accuracy:.3f})"
        spread = f" ({rates[0]:,.0f}–{rates[-1]:,.0f})" if len(runs) > 1 else ""
        label = f"{name} ×{len(runs)}" if len(runs) > 1 else name
        seconds = statistics.median(r["seconds"] for r in runs)
        lines.append(f"| {label} | {seconds:.1f} s | {rate:,.0f}{spread} | {rate / base:.2f}× | {quality} | "
                     f"{runs[len(runs) // 2]['nearest']} |")
    lines += ["", f"End to end: `nnpipe train configs/skipgram.yaml` ({args.epochs} epochs, start-up and the "
              f"per-epoch evaluation included) took {min(whole):.1f} s and {max(whole):.1f} s; gensim workers=2's "
              f"`train` on the same tokens {gensim_train:.1f} s (median above): {min(whole) / gensim_train:.2f}×."]
    write_section("sgns", "Skip-gram and CBOW vs gensim (scripts/bench_sgns.py)", lines, print_only=args.no_write)


if __name__ == "__main__":
    main()
