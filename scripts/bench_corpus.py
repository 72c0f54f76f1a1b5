"""Corpus preparation at growing sizes: nnpipe's token store against gensim 4.4's
build_vocab (LineSentence and corpus_file), time and peak memory, each in its own process.

The corpora are the shipped ones, tokenised as nnpipe's ``words`` tokenizer does, one
sentence per line, lines shuffled (seed 0), then repeated 1×, 4× and 16×, and the 4×
corpus as one text8-style line.  Being tokenised already, every contender (gensim splits
on whitespace; nnpipe runs with ``tokenizer: whitespace`` and with its default ``words``)
finds the same words.  Writes its section of BENCHMARKS.md.

    python scripts/bench_corpus.py [--sizes 1 4 16] [--train-epoch]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from benchlib import machine_facts, write_section

from nnpipe.data.corpus import corpus_paths, sentence_batches

ROOT = Path(__file__).resolve().parent.parent

NNPIPE = """
import resource
from nnpipe.data.text import load_corpus
store = load_corpus([{path!r}], tokenizer={tokenizer!r})
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # the largest worker's
print(len(store.ids), len(store.vocab), sum(p.stat().st_size for p in store.folder.iterdir()))
"""
# nnpipe 0.2's preparation: every line tokenised into lists held at once, counted, encoded
IN_MEMORY = """
import collections
import numpy as np
sentences = [line.split() for line in open({path!r}, encoding="utf-8")]
sentences = [s for s in sentences if s]
counts = collections.Counter(word for sentence in sentences for word in sentence)
kept = sorted((w for w, c in counts.items() if c >= 5), key=lambda w: (-counts[w], w))
index = {{w: i for i, w in enumerate(kept)}}
encoded = [s for s in ([index[w] for w in sentence if w in index] for sentence in sentences) if s]
ids = np.fromiter((i for s in encoded for i in s), dtype=np.int32)
print(0)
print(len(ids), len(kept), 0)
"""
GENSIM_LINES = """
print(0)
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence
model = Word2Vec(vector_size=100, min_count=5, workers=2)
model.build_vocab(LineSentence({path!r}))
print(model.corpus_total_words, len(model.wv), 0)
"""
GENSIM_FILE = """
print(0)
from gensim.models import Word2Vec
model = Word2Vec(vector_size=100, min_count=5, workers=2)
model.build_vocab(corpus_file={path!r})
print(model.corpus_total_words, len(model.wv), 0)
"""


def build_corpora(folder: Path, sizes):
    """{name: (path, tokens)}: the shipped corpora tokenised, shuffled and repeated."""
    sentences = [" ".join(s) for path in corpus_paths() for batch, _ in sentence_batches(path) for s in batch]
    order = np.random.default_rng(0).permutation(len(sentences))
    once = "\n".join(sentences[i] for i in order) + "\n"
    tokens = sum(len(s.split()) for s in sentences)
    corpora = {}
    for size in sizes:
        path = folder / f"corpus-{size}x.txt"
        with open(path, "w") as handle:
            for _ in range(size):
                handle.write(once)
        corpora[f"{size}×"] = (path, tokens * size)
    if 4 in sizes:
        path = folder / "corpus-4x-one-line.txt"
        with open(path, "w") as handle:
            for copy in range(4):
                handle.write(once.replace("\n", " ") if copy < 3 else once.replace("\n", " ").rstrip() + "\n")
        corpora["4× on one line"] = (path, tokens * 4)
    return corpora


# the child's own high-water mark (ru_maxrss of a child starts at its parent's after fork);
# nnpipe's worker processes are measured by the same line in each of them, the largest kept
PEAK = ("\nfrom pathlib import Path\n"
        "print(Path('/proc/self/status').read_text().split('VmHWM:')[1].split()[0])\n")


def run_child(code, env):
    """(seconds, peak RSS in MB, printed numbers) of ``python -c code`` in a process of its own."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code + PEAK], env=env, stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, check=True)
    seconds = time.perf_counter() - start
    out = [int(x) for x in result.stdout.split()[-5:]]
    return seconds, out[4] / 1024, out[0] / 1024, out[1:4]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--train-epoch", action="store_true", help="also one skip-gram epoch on the largest size")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    rows, details = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpora = build_corpora(tmp, args.sizes)
        for name, (path, tokens) in corpora.items():
            mb = path.stat().st_size / 2**20
            contenders = (("nnpipe (tokenizer: whitespace)", NNPIPE.format(path=str(path), tokenizer="whitespace")),
                          ("nnpipe (tokenizer: words)", NNPIPE.format(path=str(path), tokenizer="words")),
                          ("nnpipe 0.2's in-memory preparation", IN_MEMORY.format(path=str(path))),
                          ("gensim 4.4 build_vocab(LineSentence)", GENSIM_LINES.format(path=str(path))),
                          ("gensim 4.4 build_vocab(corpus_file)", GENSIM_FILE.format(path=str(path))))
            for label, code in contenders:
                cache = tmp / f"cache-{len(rows)}"
                seconds, peak, worker_peak, numbers = run_child(code, dict(env, NNPIPE_CACHE=str(cache)))
                store_mb = numbers[2] / 2**20
                rows.append((name, mb, label, seconds, tokens / seconds, peak, worker_peak, store_mb, numbers[1]))
                print(rows[-1], flush=True)
                details[(name, label)] = (seconds, peak)
        if args.train_epoch:
            largest = max(args.sizes)
            path, tokens = corpora[f"{largest}×"]
            run = tmp / "run"
            start = time.perf_counter()
            # /usr/bin/time reports the peak of the training process itself (a child forked from
            # this big process would start from its high-water mark)
            timed = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "nnpipe", "train",
                                    str(ROOT / "configs/skipgram.yaml"), "--quiet", "--run-dir", str(run),
                                    "--set", f"data.corpus=[{path}]", "--set", "data.tokenizer=whitespace",
                                    "--set", "train.epochs=1"],
                                   env=dict(env, NNPIPE_CACHE=str(tmp / "cache-train")), cwd=ROOT,
                                   stderr=subprocess.PIPE, text=True)
            seconds = time.perf_counter() - start
            status, peak_kb = timed.returncode, int(timed.stderr.split()[-1])
            summary = json.loads((run / "summary.json").read_text())
            epoch = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()][-1]
            details["train"] = (largest, tokens, seconds, peak_kb / 1024, summary, epoch, status)
    write(rows, details, args)


def write(rows, details, args):
    facts = machine_facts()
    lines = [f"Machine: {facts}.", "",
             "The shipped corpora tokenised (nnpipe's `words` tokenizer), one sentence per line, lines shuffled "
             "(seed 0), repeated; each contender in a process of its own with an empty cache; peak RSS is the "
             "process's high-water mark (VmHWM), and for nnpipe also that of the largest of its preparation "
             "workers (one per core; `getrusage(RUSAGE_CHILDREN)`, which counts a worker from its parent's size "
             "when it was started, so it is an upper bound). nnpipe's time is both passes and the store written "
             "(word ids, sentence starts, vocabulary); gensim's `build_vocab` counts words only (its training "
             "reads the text again).", "",
             "| corpus | text | contender | time | tokens/s | peak RSS (+ largest worker) | store on disk | words |",
             "|---|---|---|---|---|---|---|---|"]
    for name, mb, label, seconds, rate, peak, worker_peak, store_mb, words in rows:
        store = f"{store_mb:,.0f} MB" if store_mb else "—"
        workers = f" (+ {worker_peak:,.0f} MB)" if worker_peak else ""
        lines.append(f"| {name} | {mb:,.0f} MB | {label} | {seconds:.1f} s | {rate / 1e6:.2f}M | {peak:,.0f} MB"
                     f"{workers} | {store} | {words:,} |")
    if "train" in details:
        largest, tokens, seconds, peak, summary, epoch, status = details["train"]
        lines += ["", f"End to end on the {largest}× corpus ({tokens / 1e6:.0f}M tokens): `nnpipe train "
                  f"configs/skipgram.yaml --set data.tokenizer=whitespace --set train.epochs=1` (prepare + 1 epoch + "
                  f"evaluation) took {seconds:.0f} s with a peak RSS of {peak:,.0f} MB (exit {status}); the epoch ran "
                  f"at {epoch.get('words_per_s', 0):,.0f} words/s, WS353 {epoch.get('val_ws353', float('nan')):.3f}, "
                  f"analogies {epoch.get('val_analogy', float('nan')):.3f}."]
    write_section("corpus", "Corpus preparation (scripts/bench_corpus.py)", lines)


if __name__ == "__main__":
    main()
