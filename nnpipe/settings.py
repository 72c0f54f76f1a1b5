"""The environment variables nnpipe reads, checked before anything that reads them loads:
a bad value is one ``error:`` line, not a traceback from deep inside a library (Numba
refuses ``NUMBA_NUM_THREADS=0`` while it is being imported) or a value silently ignored."""
from __future__ import annotations

import os

KERNEL_MODES = ("auto", "reference")  # NNPIPE_KERNELS (nnpipe.kernels.set_mode takes the same)

# name: (what it may be, the check)
VARIABLES = {
    "NNPIPE_KERNELS": (" or ".join(KERNEL_MODES), lambda value: value in KERNEL_MODES),
    "NUMBA_NUM_THREADS": ("a whole number >= 1", lambda value: value.strip().isdigit() and int(value) >= 1),
}


def environment_problem():
    """The first set variable whose value cannot work, as a message; None when all can."""
    for name, (what, check) in VARIABLES.items():
        value = os.environ.get(name)
        if value is not None and value != "" and not check(value):
            return f"{name}={value[:40]!r}: must be {what} (or unset)"
    return None
