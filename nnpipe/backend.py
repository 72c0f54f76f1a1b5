"""One place that decides where arrays live: NumPy on the CPU or CuPy on a GPU.

Every op is written once against ``xp = get_array_module(array)``.  CuPy is imported
lazily, only when a CUDA device is asked for.  ``NNPIPE_FAKE_GPU=1`` puts the strict fake
device of :mod:`nnpipe.testing.fakegpu` in CuPy's place (tests on machines without a GPU).
"""
from __future__ import annotations

import os
import sys

import numpy as np

DEFAULT_DTYPE = np.dtype(np.float32)
_cupy = None


class DeviceError(RuntimeError):
    """A device was asked for that this machine cannot provide."""


def fake_gpu() -> bool:
    return os.environ.get("NNPIPE_FAKE_GPU", "") not in ("", "0")


def cupy_module():
    """Import CuPy on first use, with a clear error when it or a GPU is missing."""
    global _cupy
    if _cupy is None and fake_gpu():
        from .testing import fakegpu

        _cupy = fakegpu
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


def _loaded_cupy():
    """The CuPy module if any code has imported it (a CuPy array can exist only then),
    even before :func:`cupy_module` has checked for a GPU."""
    if _cupy is not None:
        return _cupy
    if fake_gpu():
        return cupy_module()
    return sys.modules.get("cupy")


def is_cupy_array(array) -> bool:
    if isinstance(array, (np.ndarray, np.generic)):
        return False
    cupy = _loaded_cupy()
    return cupy is not None and isinstance(array, cupy.ndarray)


def get_array_module(*arrays):
    """numpy, or cupy when any of ``arrays`` is a CuPy array."""
    for array in arrays:
        if is_cupy_array(array):
            return _loaded_cupy()
    return np


def parse_device(spec: str, local_rank: int = 0) -> str:
    """Normalise a device string: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.  ``cuda`` and
    ``auto`` mean the GPU of this node-local MPI rank (GPU 0 without MPI)."""
    spec = str(spec).strip().lower()
    if spec == "auto":
        if not cuda_available():
            return "cpu"
        spec = "cuda"
    if spec == "cpu":
        return "cpu"
    if spec == "cuda":
        spec = f"cuda:{local_rank % cupy_module().cuda.runtime.getDeviceCount()}"
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


def use_device(device: str, local_rank: int = 0):
    """Make ``device`` current, so that every array made from now on (batches, optimizer
    state, kernel outputs) lives there, not on GPU 0."""
    device = parse_device(device, local_rank)
    if device != "cpu":
        cupy_module().cuda.Device(int(device.split(":")[1])).use()
    return device


def to_device(array, device: str):
    """Copy ``array`` to ``device`` (a no-op when it is already there)."""
    device = parse_device(device)
    if device == "cpu":
        return to_numpy(array)
    cupy = cupy_module()
    with cupy.cuda.Device(int(device.split(":")[1])):
        return cupy.asarray(array)


def to_numpy(array) -> np.ndarray:
    return _loaded_cupy().asnumpy(array) if is_cupy_array(array) else np.asarray(array)


def segment_sum(sorted_keys, values):
    """(unique keys, summed rows): rows of ``values`` whose ``sorted_keys`` are equal are
    added together, never with ``add.at``.

    NumPy: ``add.reduceat`` costs about half a microsecond per segment, which dominates
    when most keys are distinct (embedding gradients), so then segments are grouped by
    length and each group is summed as one (segments, length, D) block — a loop over the
    few distinct lengths, not over keys.  CuPy: a float64 running sum differenced at the
    segment ends — no atomic adds, so the result is the same on every run (resume stays
    bit-exact on a GPU) and no host read beyond the one ``flatnonzero`` needs.
    """
    xp = get_array_module(values)
    first = xp.empty(len(sorted_keys), dtype=bool)
    first[:1] = True
    xp.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    starts = xp.flatnonzero(first)
    if xp is not np:
        running = xp.cumsum(values.astype(xp.float64), axis=0)
        summed = running[xp.append(starts[1:], len(sorted_keys)) - 1]  # each segment's last row
        summed[1:] -= running[starts[1:] - 1]
        return sorted_keys[starts], summed.astype(values.dtype)
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
