"""The IDX format of MNIST: a big-endian header (magic 0x0000TTNN, T the element type,
N the number of dimensions, then N 32-bit sizes) followed by the raw elements."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from .files import DataError

IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(raw: bytes, name="IDX data") -> np.ndarray:
    """Decode IDX bytes, checking the magic number, type code and size."""
    if len(raw) < 4:
        raise DataError(f"{name}: {len(raw)} bytes is too short for an IDX header")
    zero, type_code, ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    if zero != 0 or type_code not in IDX_TYPES:
        raise DataError(f"{name}: not an IDX file (magic {raw[:4].hex()}, expected 0000 then a type code "
                        f"of {', '.join(f'{c:02x}' for c in IDX_TYPES)})")
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{name}: header for {ndim} dimensions is truncated")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_TYPES[type_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{name}: header says shape {shape} ({expected} bytes of data) but the file holds "
                        f"{len(raw) - header} bytes{' (truncated)' if len(raw) - header < expected else ''}")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def read_idx(path) -> np.ndarray:
    """Read an IDX file, gzip-compressed (``.gz``) or raw."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataError(f"IDX file not found: {path}") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot decompress ({exc})") from None
    return parse_idx(raw, str(path))
