"""Numba's disk cache for the kernels, kept fresh as a whole.

Numba stamps a cached kernel with its own source file only, but a kernel compiles in the
helpers it calls from other kernel modules (``prefetch_row`` from ``prefetch.py``,
``output_tile`` from ``winograd.py``, ``_dot`` from ``word2vec.py``): after a change to
such a helper alone (an editable install after ``git pull``), Numba would go on loading
the old machine code.  Here every kernel's cache entry is stamped with the hash of all the
kernel modules together, so a change to any of them recompiles each kernel on its next
use.  Other code's Numba functions keep Numba's own locators and stamps.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from numba.core import caching

KERNELS = Path(__file__).resolve().parent


@functools.cache
def sources_stamp(folder=KERNELS):
    """A hash of every module in ``folder`` (names and bytes), read once per process."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.digest()


class _WholeKernelsStamp:
    """A locator mixin: for functions defined in the kernel modules, Numba's locator (the
    class after this one) with the stamp of all of them."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if Path(py_file).resolve().parent != KERNELS:
            return None
        return super().from_function(py_func, py_file)

    def get_source_stamp(self):
        return sources_stamp()


def _numba_class(name):
    """Numba's class ``name`` (public in recent Numba, ``_name`` in older releases), or None."""
    return getattr(caching, name, None) or getattr(caching, f"_{name}", None)


# Numba's own order: NUMBA_CACHE_DIR, the package's __pycache__, the user's cache folder
BASES = [_numba_class(name) for name in ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")]
LOCATORS = [type(f"Kernels{base.__name__}", (_WholeKernelsStamp, base), {}) for base in BASES if base is not None]


def keep_fresh():
    """Put the kernels' locators first in Numba's list (once per process); a Numba whose
    caching classes have other names keeps its own stamps."""
    cache_impl = _numba_class("CacheImpl")
    if cache_impl is None or len(LOCATORS) != len(BASES):
        return
    locators = cache_impl._locator_classes
    if not any(issubclass(locator, _WholeKernelsStamp) for locator in locators):
        locators[:0] = LOCATORS
