"""Weights in safetensors files (the no-pickle format PyTorch and Hugging Face load):
written by ``nnpipe export``, read by ``model.init_from``.  The ``safetensors`` package
comes with the ``export`` extra."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .files import DataError

INSTALL = 'pip install -e ".[export]"'


def _safetensors():
    try:
        import safetensors
        import safetensors.numpy
    except ImportError:
        raise DataError(f"safetensors files need the safetensors package: {INSTALL}") from None
    return safetensors


def safetensors_bytes(arrays: dict, metadata: dict | None = None) -> bytes:
    """``arrays`` (name -> NumPy array) as the bytes of a safetensors file."""
    return _safetensors().numpy.save({name: np.ascontiguousarray(a) for name, a in arrays.items()}, metadata)


def read_safetensors(path, what) -> dict:
    """The arrays of a safetensors file; ``what`` names it in the messages."""
    safetensors, path = _safetensors(), Path(path)
    if not path.is_file():
        raise DataError(f"{what} {path} {'is a folder' if path.is_dir() else 'not found'}")
    try:
        return safetensors.numpy.load_file(path)
    except (safetensors.SafetensorError, OSError) as exc:
        raise DataError(f"{what} {path} is not a safetensors file ({exc})") from None
