"""Shared helpers for scripts/bench_*.py: equal thread pinning, interleaved timing, machine
facts, and writing one section of BENCHMARKS.md per script."""
from __future__ import annotations

import os
import platform
import re
import statistics
import time
from pathlib import Path

THREADS = int(os.environ.get("NNPIPE_BENCH_THREADS", os.cpu_count() or 1))
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, str(THREADS))

import nnpipe  # noqa: E402,F401,I001  (before NumPy, as in `nnpipe train`: it sets OpenBLAS's idle-spin time)

import numpy as np  # noqa: E402

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def pin_threads():
    """Give NumPy's BLAS and torch the same number of threads; return a description."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(THREADS)
    try:
        import torch

        torch.set_num_threads(THREADS)
        torch.set_num_interop_threads(1)
    except (ImportError, RuntimeError):
        pass
    return f"{THREADS} threads for NumPy's BLAS (threadpoolctl) and torch.set_num_threads"


def machine_facts():
    from threadpoolctl import threadpool_info

    blas = ", ".join(f"{i['internal_api']} {i['version']} ({i.get('architecture', '?')})" for i in threadpool_info())
    facts = [f"{os.cpu_count()} cores", platform.processor() or platform.machine(),
             f"Python {platform.python_version()}", f"NumPy {np.__version__} with {blas or 'unknown BLAS'}"]
    try:
        import torch

        facts.append(f"torch {torch.__version__}")
    except ImportError:
        pass
    return "; ".join(facts)


def interleaved(candidates: dict, repeats: int, warmup: int = 1):
    """Time each zero-argument callable ``repeats`` times, alternating between them so
    drifts in machine load hit all alike.  Returns {name: [seconds, ...]}."""
    for _ in range(warmup):
        for run in candidates.values():
            run()
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def _status_kb(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def measure_peak(run):
    """Peak resident memory (MB) that ``run()`` adds above what is in use now (Linux):
    the high-water mark is reset first, so earlier allocations do not count."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    before = _status_kb("VmRSS")
    run()
    return (_status_kb("VmHWM") - before) / 1024


def peak_rss_mb(script, name):
    """Run ``script --peak NAME`` in a fresh process (threads and fork do not mix) and
    return the peak memory it reports for implementation ``name``."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, script, "--peak", name], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def peak_child(runners_factory):
    """In a ``--peak NAME`` child: build the runners, measure one run of NAME, print MB.
    Returns True when this process was such a child."""
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--peak":
        pin_threads()
        runners = runners_factory()
        print(f"{measure_peak(runners[sys.argv[2]]):.1f}")
        return True
    return False


def header(threads):
    """The first line of every section: the machine and the thread pinning."""
    spin = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
    return (f"Machine: {machine_facts()}. Threads: {threads}; OpenBLAS idle threads spin 2^{spin} cycles "
            "(OPENBLAS_THREAD_TIMEOUT, nnpipe's default).")


def time_and_memory(script, runners, repeats):
    """Interleaved timings of ``runners`` and the peak memory of one run of each, the
    latter measured by re-running ``script`` with --peak NAME in fresh processes."""
    times = interleaved(runners, repeats=repeats, warmup=1)
    return times, {name: peak_rss_mb(script, name) for name in runners}


def summary(samples):
    """(median, spread as (max - min) / median) of a list of timings."""
    median = statistics.median(samples)
    return median, (max(samples) - min(samples)) / median


def fmt_time(seconds):
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def write_section(name: str, title: str, lines: list[str], print_only=False):
    """Replace (or append) the section of BENCHMARKS.md written by script ``name``
    (``print_only``: the scripts' --no-write, print it and leave the file)."""
    if print_only:
        print("\n".join(lines))
        return
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = "\n".join([start, f"## {title}", "", *lines, end])
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else (
        "# Benchmarks\n\nEach section is rewritten by the script it names (`python scripts/bench_all.py` "
        "runs them all). Ratios are nnpipe / baseline measured in the same run: below 1 is faster.\n"
    )
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS.write_text(text)
    print(block)


def ratio_table(rows, baseline_name):
    """Markdown rows: name | median | spread | ratio against ``baseline_name``."""
    base = statistics.median(rows[baseline_name])
    out = ["| implementation | median | spread | ratio |", "|---|---|---|---|"]
    for name, samples in rows.items():
        median, spread = summary(samples)
        out.append(f"| {name} | {fmt_time(median)} | {spread:.0%} | {median / base:.2f}× |")
    return out


def compile_seconds(code):
    """Seconds ``python -c code`` takes with an empty Numba cache (compiling every kernel
    it calls) and then again with that cache filled (loading them), each in a fresh process."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        seconds = []
        for _ in range(2):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env, check=True,
                           cwd=Path(__file__).resolve().parent.parent)
            seconds.append(time.perf_counter() - start)
    return seconds


def kernel_threads():
    """How many threads Numba's parallel kernels use."""
    try:
        import numba
    except ImportError:
        return "no Numba (reference path only)"
    return f"{numba.get_num_threads()} Numba threads ({numba.config.THREADING_LAYER} threading layer)"
