"""One place that decides where arrays live: NumPy on the CPU or CuPy on a GPU.

Every op is written once against ``xp = get_array_module(array)``.  CuPy is imported
lazily, only when a CUDA device is asked for or a CuPy array is seen.
"""
from __future__ import annotations

import numpy as np

DEFAULT_DTYPE = np.dtype(np.float32)
_cupy = None


class DeviceError(RuntimeError):
    """A device was asked for that this machine cannot provide."""


def cupy_module():
    """Import CuPy on first use, with a clear error when it or a GPU is missing."""
    global _cupy
    if _cupy is None:
        try:
            import cupy
        except ImportError as exc:
            raise DeviceError(
                "device 'cuda' needs CuPy: install it with pip install -e \".[gpu]\""
            ) from exc
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CUDA driver missing or broken
            raise DeviceError(f"CuPy is installed but no CUDA GPU is usable: {exc}") from exc
        if count == 0:
            raise DeviceError("CuPy is installed but no CUDA GPU was found")
        _cupy = cupy
    return _cupy


def cuda_available() -> bool:
    try:
        cupy_module()
    except DeviceError:
        return False
    return True


def is_cupy_array(array) -> bool:
    return _cupy is not None and isinstance(array, _cupy.ndarray)


def get_array_module(*arrays):
    """numpy, or cupy when any of ``arrays`` is a CuPy array."""
    for array in arrays:
        if is_cupy_array(array):
            return _cupy
    return np


def parse_device(spec: str) -> str:
    """Normalise a device string: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``."""
    spec = str(spec).strip().lower()
    if spec == "auto":
        return "cuda:0" if cuda_available() else "cpu"
    if spec == "cpu":
        return "cpu"
    if spec == "cuda":
        spec = "cuda:0"
    if spec.startswith("cuda:") and spec[5:].isdigit():
        cupy = cupy_module()
        index = int(spec[5:])
        count = cupy.cuda.runtime.getDeviceCount()
        if index >= count:
            raise DeviceError(f"device {spec} does not exist: this machine has {count} GPU(s)")
        return spec
    raise DeviceError(f"unknown device {spec!r}: use cpu, cuda, cuda:N or auto")


def device_of(array) -> str:
    return f"cuda:{array.device.id}" if is_cupy_array(array) else "cpu"


def to_device(array, device: str):
    """Copy ``array`` to ``device`` (a no-op when it is already there)."""
    device = parse_device(device)
    if device == "cpu":
        return _cupy.asnumpy(array) if is_cupy_array(array) else np.asarray(array)
    cupy = cupy_module()
    with cupy.cuda.Device(int(device.split(":")[1])):
        return cupy.asarray(array)


def to_numpy(array) -> np.ndarray:
    return _cupy.asnumpy(array) if is_cupy_array(array) else np.asarray(array)


def segment_sum(sorted_keys, values):
    """(unique keys, summed rows): rows of ``values`` whose ``sorted_keys`` are equal are
    added together, never with ``add.at``.

    NumPy: ``add.reduceat`` costs about half a microsecond per segment, which dominates
    when most keys are distinct (embedding gradients), so then segments are grouped by
    length and each group is summed as one (segments, length, D) block — a loop over the
    few distinct lengths, not over keys.  CuPy: one scatter-add.
    """
    xp = get_array_module(values)
    first = xp.empty(len(sorted_keys), dtype=bool)
    first[:1] = True
    xp.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    starts = xp.flatnonzero(first)
    if xp is not np:
        import cupyx

        summed = xp.zeros((len(starts),) + values.shape[1:], dtype=values.dtype)
        cupyx.scatter_add(summed, xp.cumsum(first) - 1, values)
        return sorted_keys[starts], summed
    lengths = np.diff(np.append(starts, len(sorted_keys)))
    distinct = np.unique(lengths)
    if len(starts) < 18 * len(distinct):  # few segments: reduceat's per-segment cost is small
        return sorted_keys[starts], np.add.reduceat(values, starts, axis=0)
    summed = np.empty((len(starts),) + values.shape[1:], dtype=values.dtype)
    for length in distinct:
        which = np.flatnonzero(lengths == length)
        block = values[starts[which][:, None] + np.arange(length)]
        summed[which] = block[:, 0] if length == 1 else block.sum(axis=1)
    return sorted_keys[starts], summed
