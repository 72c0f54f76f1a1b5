"""Threads on a busy machine: one epoch of skip-gram (the Austen corpus) and of the MLP, as
``nnpipe train`` runs them with the default thread choice, with ``--threads 1`` and with
one thread per core, on an idle machine and beside two CPU-bound processes (``python -c
'while True: pass'``).  The figure is the epoch's own time from metrics.jsonl; the
environment carries no thread variables, as a user's shell does not.  Target: under load,
the default within 1.5× of the best thread count; idle, today's speed."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import header, write_section

ROOT = Path(__file__).resolve().parent.parent
JOBS = {
    "skip-gram, Austen, 1 epoch": ["configs/skipgram.yaml", "--set", "data.corpus=[corpus/austen-novels.txt.gz]"],
    "MLP, MNIST, 1 epoch": ["configs/mlp.yaml"],
}


def epoch_seconds(job, threads):
    """The first epoch's time of ``nnpipe train`` in a fresh process (no thread variables)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "nnpipe", "train", *JOBS[job], "--quiet", "--set", "train.epochs=1",
                   "--run-dir", f"{tmp}/run"] + (["--threads", str(threads)] if threads else [])
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        rows = [json.loads(line) for line in Path(f"{tmp}/run/metrics.jsonl").read_text().splitlines()]
        return next(row["time_s"] for row in rows if row["kind"] == "epoch")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    choices = [("default", None), ("--threads 1", 1), (f"--threads {cores}", cores)]
    results = {}
    for load in ("idle", "two busy processes"):
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(0 if load == "idle" else 2)]
        time.sleep(1.0 if busy else 0.0)  # the background work is under way, as a user's would be
        try:
            for job in JOBS:
                for label, threads in choices:
                    results[load, job, label] = epoch_seconds(job, threads)
                    print(load, job, label, f"{results[load, job, label]:.1f} s", flush=True)
        finally:
            for process in busy:
                process.kill()
    lines = [header("the choice under test (no thread variables in the environment)"), "",
             f"| machine | run | default | --threads 1 | --threads {cores} | default / best |",
             "|---|---|---|---|---|---|"]
    for load in ("idle", "two busy processes"):
        for job in JOBS:
            times = [results[load, job, label] for label, _ in choices]
            cells = " | ".join(f"{t:.1f} s" for t in times)
            lines.append(f"| {load} | {job} | {cells} | {times[0] / min(times):.2f}× |")
    write_section("busy", "Threads on a busy machine (scripts/bench_busy.py)", lines, print_only=args.no_write)


if __name__ == "__main__":
    main()
