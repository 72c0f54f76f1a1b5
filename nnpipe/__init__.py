"""nnpipe: a teaching-grade yet fast deep-learning pipeline on its own autograd engine."""
import os

__version__ = "0.4.0"

# OpenBLAS's idle threads spin for 2^28 cycles (~0.1 s) after each call, taking the cores
# from the compiled kernels' threads that run next; 2^20 cycles (~0.3 ms) still keeps them
# warm between back-to-back GEMMs (BENCHMARKS.md has the measurements).  OpenBLAS reads it
# when NumPy loads; where NumPy was imported first, importing nnpipe.kernels has OpenBLAS
# read it again.  A value already set wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")


def __getattr__(name):
    """``nnpipe.train``, ``nnpipe.load_run`` and ``nnpipe.Run`` (from :mod:`nnpipe.runs`),
    imported on first use: ``import nnpipe.autograd`` alone stays light."""
    if name in ("train", "load_run", "Run"):
        from . import runs

        return getattr(runs, name)
    raise AttributeError(f"module 'nnpipe' has no attribute {name!r}")


__all__ = ["Run", "__version__", "load_run", "train"]
