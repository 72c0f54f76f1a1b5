"""Worked example 7: word2vec on a trained run (`nnpipe train configs/skipgram.yaml`
first): the nearest words of "frog", and the analogies king − man + woman and
paris − france + italy with the rank of the expected answer among all words."""
import sys
from pathlib import Path

import nnpipe
from nnpipe.training.rundir import latest_run

QUERIES = [("man", "king", "woman", "queen"), ("france", "paris", "italy", "rome")]


def rank_of(vectors, a, b, c, expected):
    """1-based rank of ``expected`` among answers to b - a + c (inputs excluded)."""
    answers = [word for word, _ in vectors.analogy(a, b, c, k=len(vectors.words))]
    return answers.index(expected) + 1 if expected in answers else None, answers[:5]


def main(run_dir=None):
    run = Path(run_dir) if run_dir else latest_run("runs", "skipgram")
    vectors = nnpipe.load_run(run).vectors
    print(f"run {run}")
    print("nearest to frog: " + ", ".join(f"{w} ({s:.2f})" for w, s in vectors.nearest("frog", 8)))
    results = {}
    for a, b, c, expected in QUERIES:
        rank, top = rank_of(vectors, a, b, c, expected)
        results[(a, b, c)] = (rank, top)
        print(f"{b} - {a} + {c}: {', '.join(top)}  ({expected!r} ranks {rank})")
    return results


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
