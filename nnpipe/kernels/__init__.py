"""Compiled CPU kernels (Numba) for the ops where vectorised NumPy runs out.

Every kernel here has a vectorised ``xp`` reference in the op that uses it (which is
also the CuPy path on a GPU); the op calls the kernel only when :func:`use_compiled`
says so for its arrays, and the tests check each kernel against its reference.

The switch: ``NNPIPE_KERNELS=reference`` (environment) or :func:`set_mode` forces the
reference path everywhere; the default ``auto`` uses the kernels on NumPy arrays when
Numba imports.  Kernels are compiled on first use and cached on disk (``cache=True``):
Numba keeps the cache in ``nnpipe/kernels/__pycache__``, or in its user-wide cache
folder when the package folder is read-only; ``NUMBA_CACHE_DIR`` moves it.  A change to
any kernel module recompiles every kernel (:mod:`.kernel_cache`).
"""
from __future__ import annotations

import ctypes
import importlib
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext

import numpy as np

from ..settings import KERNEL_MODES

MODES = KERNEL_MODES
_mode = os.environ.get("NNPIPE_KERNELS", "auto")

try:
    import numba
except ImportError:  # the reference path serves everything
    numba = None
else:  # a change to any kernel module recompiles them all (Numba checks only a kernel's own file)
    from .kernel_cache import keep_fresh

    keep_fresh()


def set_mode(mode):
    """``auto`` (compiled kernels where they apply) or ``reference`` (vectorised xp only)."""
    global _mode
    if mode not in MODES:
        raise ValueError(f"kernel mode must be one of {', '.join(MODES)}, got {mode!r}")
    _mode = mode


def mode():
    return _mode if _mode in MODES else "auto"


def threads() -> int:
    """How many threads a parallel kernel may use (Numba's setting; NUMBA_NUM_THREADS)."""
    return numba.get_num_threads()


_executors = {}
_blas = None


def set_threads(count):
    """Parallel kernels called from this thread use ``count`` threads (at most Numba's
    NUMBA_NUM_THREADS); other threads keep their own count."""
    if numba is not None:
        numba.set_num_threads(max(1, min(count, numba.config.NUMBA_NUM_THREADS)))


@contextmanager
def at_most_threads(count):
    """Parallel kernels called in the block use at most ``count`` threads (Numba's setting
    is per calling thread): a kernel with one chunk of work runs as a team of one, so no
    second thread spins beside it on a core that other work (the next batch) could use."""
    before = threads()
    set_threads(min(count, before))
    try:
        yield
    finally:
        set_threads(before)


def fixed_chunks(count, size):
    """Slices of ``size`` items over ``count`` (the last one shorter): the chunks callers of
    :func:`map_chunks` cut, the same whatever the thread count."""
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]


def even_chunks(count, most):
    """Slices over ``count`` items, as few as hold at most ``most`` each and as even as can
    be (two threads finish together), the same whatever the thread count."""
    parts = max(1, -(-count // most))
    bounds = [count * part // parts for part in range(parts + 1)]
    return [slice(low, high) for low, high in zip(bounds, bounds[1:])]


def map_chunks(function, chunks):
    """``[function(chunk) for chunk in chunks]``, run on :func:`threads` Python threads with
    one BLAS thread each while they last (the kernels release the GIL, and so do NumPy's
    GEMMs): the in-process form of one process per core, which beat one process whose
    BLAS calls use both cores.  Callers cut the work into the same chunks whatever the
    thread count, so the results do not depend on it."""
    workers = min(threads(), len(chunks))
    if workers <= 1:
        return [function(chunk) for chunk in chunks]
    if workers not in _executors:
        _executors[workers] = ThreadPoolExecutor(workers, thread_name_prefix="nnpipe-kernel")
    with _one_blas_thread():
        return list(_executors[workers].map(function, chunks))


def share_cores(processes):
    """Give each of ``processes`` processes on this machine its share of the cores, for the
    kernels' threads and for BLAS, unless the user set those counts (NUMBA_NUM_THREADS,
    OPENBLAS_NUM_THREADS, OMP_NUM_THREADS); MPI ranks on one node call it, so that they do
    not each start a thread per core.  Returns the threads per process."""
    share = max(1, (os.cpu_count() or 1) // max(1, processes))
    use_threads(share, respect_environment=True)
    return share


BLAS_THREAD_VARIABLES = {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"}
THREAD_VARIABLES = {"NUMBA_NUM_THREADS", *BLAS_THREAD_VARIABLES}  # a thread count the user set


def use_threads(count, respect_environment=False):
    """Run the kernels (this thread's Numba count) and BLAS on ``count`` threads; with
    ``respect_environment``, a count the user set in THREAD_VARIABLES stays."""
    if numba is not None and not (respect_environment and "NUMBA_NUM_THREADS" in os.environ):
        set_threads(count)
    if not (respect_environment and BLAS_THREAD_VARIABLES & set(os.environ)):
        from threadpoolctl import threadpool_limits

        threadpool_limits(count, user_api="blas")


class IdleCores:
    """How many cores other processes leave idle, from the machine's CPU time (/proc/stat)
    between construction and :meth:`count`, less this process's own: spinning thread pools
    that share cores with other work wait on each other at every barrier (an epoch measured
    15× slower with 2 threads than with 1 beside two busy processes), so a run takes the
    cores that are free when it starts."""

    TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self):
        self.start = self._busy_and_total(), time.process_time(), time.monotonic()

    @staticmethod
    def _busy_and_total():
        try:
            with open("/proc/stat") as stat:
                values = [int(value) for value in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        return sum(values) - values[3] - values[4], sum(values)  # idle and iowait are not busy

    def count(self, least_seconds=0.05):
        """The idle cores (at least 1), or every core where /proc/stat cannot be read."""
        cores = os.cpu_count() or 1
        (first, own, started) = self.start
        if first is None or cores == 1:
            return cores
        time.sleep(max(0.0, least_seconds - (time.monotonic() - started)))
        last = self._busy_and_total()
        busy, total = last[0] - first[0], last[1] - first[1]
        others = busy - (time.process_time() - own) * self.TICKS
        return max(1, min(cores, round(cores * (1 - max(others, 0) / max(total, 1)))))


def _one_blas_thread():
    """Limit BLAS to one thread per call (threadpoolctl; the libraries are found once)."""
    global _blas
    if _blas is None:
        _blas = _blas_libraries()
    return _blas.limit(limits=1) if _blas.lib_controllers else nullcontext()


def _blas_libraries():
    """The BLAS libraries this process has loaded so far (threadpoolctl)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def _shorten_openblas_spin():
    """Make OpenBLAS's idle threads take the spin that nnpipe/__init__.py set
    (OPENBLAS_THREAD_TIMEOUT) where NumPy loaded OpenBLAS before it was set, as in a script
    that imports NumPy first: OpenBLAS reads the variable when it loads and its thread
    server takes it when it starts, so re-read it and restart the server (OpenBLAS's own
    exported calls; another BLAS, or an OpenBLAS without them, is left as it is).  Kept at
    the default 0.1 s, the idle thread took a core from the kernels' threads: the CNN's
    2-thread step ran 46-52 ms against 28-31 ms.  Not while other Python threads run: one
    inside an OpenBLAS call would wait forever on the threads the restart replaces."""
    wanted = os.environ.get("OPENBLAS_THREAD_TIMEOUT", "")
    if not wanted.isdigit() or threading.active_count() > 1:
        return
    for library in _blas_libraries().lib_controllers:
        if (library.internal_api, getattr(library, "threading_layer", "")) != ("openblas", "pthreads"):
            continue
        try:
            openblas = ctypes.CDLL(library.filepath)  # already loaded: the same library
            read_settings, spin, stop, start = (openblas.openblas_read_env, openblas.openblas_thread_timeout,
                                                openblas.blas_thread_shutdown_, openblas.blas_thread_init)
        except (OSError, AttributeError):
            continue
        spin.restype = ctypes.c_uint
        if spin() != int(wanted):
            read_settings()
            stop()
            start()


def use_compiled(*arrays) -> bool:
    """Whether an op on ``arrays`` takes its compiled kernel: Numba is there, the mode is
    ``auto`` and every array is a NumPy array (CuPy arrays take the reference path)."""
    return numba is not None and mode() == "auto" and all(isinstance(a, np.ndarray) for a in arrays)


# Reassociation lets LLVM vectorise sums (dot products); no "nnan"/"ninf", so NaN and
# infinity still behave (a divergence check after a kernel can be trusted).
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


def jit(function=None, **options):
    """``numba.njit`` with the project's settings: cached on disk, no Python objects.  Used
    bare (``@jit``) or with options (``@jit(parallel=True)``)."""
    options.setdefault("cache", True)
    options.setdefault("nogil", True)
    if function is None:
        return lambda function: _compiled(function, options)
    return _compiled(function, options)


def _compiled(function, options):
    """The kernel, cached if Numba finds a folder it can write (the package's
    ``__pycache__``, the user's cache or ``NUMBA_CACHE_DIR``); where none is writable, it is
    compiled afresh in each process, said once on stderr, and the run goes on."""
    try:
        return numba.njit(**options)(function)
    except RuntimeError as exc:
        if not options.get("cache") or "cannot cache" not in str(exc):
            raise
        global _told_uncached
        if not _told_uncached:
            _told_uncached = True
            print(f"warning: Numba cannot cache the kernels here ({str(exc).split(':')[0]}: no writable cache "
                  "folder; NUMBA_CACHE_DIR names one); they are compiled afresh in each process", file=sys.stderr)
        return numba.njit(**{**options, "cache": False})(function)


_told_uncached = False


def jit_math(*args, **options):
    """:func:`jit` that may reorder floating-point sums (for dot products and reductions)."""
    options.setdefault("fastmath", FASTMATH)
    return jit(*args, **options)


def start_up():
    """Numba's one-time set-up in this process, done now: the first kernel compiled or
    loaded from the cache imports Numba's compiler registries (~0.35 s on the benchmark
    machine), which a run would otherwise spend inside its first step, counted in the
    first epoch's time and words/s.  The trainer calls it while it sets a run up."""
    if numba is not None and mode() == "auto":
        _first_kernel(np.zeros(1))


@jit
def _first_kernel(x):
    return x[0]


_shorten_openblas_spin()


class lazy:  # lower case: reads like the module it stands for
    """A kernel module imported on first use, so importing nnpipe does not import Numba."""

    def __init__(self, name):
        self._name, self._module = f"{__name__}.{name}", None

    def __getattr__(self, attr):
        if self._module is None:  # importlib's lookup costs ~10 µs, a few times every step
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)
