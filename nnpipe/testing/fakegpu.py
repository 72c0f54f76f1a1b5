"""A strict fake CuPy on NumPy, to run the GPU path on a machine without a GPU.

``NNPIPE_FAKE_GPU=1`` makes :mod:`nnpipe.backend` use this module wherever it would use
CuPy, in this process and in every subprocess (the CLI, ``mpiexec`` ranks).  Device
arrays are NumPy arrays wrapped in :class:`ndarray`, which is stricter than CuPy where
CuPy would hide a mistake:

- implicit conversion to the host (``numpy.asarray(a)``, saving with ``np.savez``) raises
  CuPy's TypeError; explicit reads (``get``, ``asnumpy``, ``float``, ``int``, ``bool``,
  ``item``, ``tolist``, printing) work and are counted in :func:`host_reads`;
- host arrays are refused by every function and operator but the uploads (``asarray``,
  ``array``, ``ascontiguousarray``), and ``numpy.*`` functions refuse device arrays;
- only the names and keywords that CuPy itself has are offered (``cupy_api.json``,
  written from the real wheel by ``scripts/cupy_api_snapshot.py``);
- reductions return 0-d arrays, ``flags`` has no ``writeable``;
- two fake GPUs: an array used while another device is current raises, as in CuPy.
"""
from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np

API = json.loads(Path(__file__).with_name("cupy_api.json").read_text())
IMPLICIT_ERROR = ("Implicit conversion to a NumPy array is not allowed. "
                  "Please use `.get()` to construct a NumPy array explicitly.")
DEVICE_COUNT = 2
SIZE_FROM_DATA = {"nonzero", "flatnonzero", "argwhere", "unique", "ndarray.nonzero"}
_state = {"host_reads": 0, "size_syncs": 0, "device": 0}


def host_reads() -> int:
    """How many device-to-host reads (each a synchronisation on a real GPU) so far."""
    return _state["host_reads"]


def size_syncs() -> int:
    """How many calls so far made an array whose size depends on the data (``flatnonzero``,
    ``unique``, a boolean mask): CuPy must wait for the device to learn that size."""
    return _state["size_syncs"]


def _read(array):
    _state["host_reads"] += 1
    return array


# ---- devices ---------------------------------------------------------------------------
class Device:
    def __init__(self, device=None):
        self.id = _state["device"] if device is None else int(device)
        if not 0 <= self.id < DEVICE_COUNT:
            raise ValueError(f"invalid device ordinal {self.id}")

    def use(self):
        _state["device"] = self.id

    def synchronize(self):
        pass

    def __enter__(self):
        self._previous = _state["device"]
        _state["device"] = self.id
        return self

    def __exit__(self, *exc):
        _state["device"] = self._previous

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return self.id

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


cuda = types.SimpleNamespace(
    Device=Device,
    runtime=types.SimpleNamespace(getDeviceCount=lambda: DEVICE_COUNT),
    Stream=types.SimpleNamespace(null=types.SimpleNamespace(synchronize=lambda: None)),
)


# ---- wrapping and unwrapping -----------------------------------------------------------
def _host(value, where):
    """The NumPy array behind a device array; scalars pass; host arrays are refused."""
    if isinstance(value, ndarray):
        if value._device != _state["device"]:
            raise ValueError(f"The device where the array resides ({value._device}) is different "
                             f"from the current device ({_state['device']}).")
        return value._a
    if isinstance(value, np.ndarray):
        raise TypeError(f"Unsupported type {type(value)} in {where}: upload it with cupy.asarray first")
    if isinstance(value, (list, tuple)):
        return type(value)(_host(v, where) for v in value)
    return value


def _device(result):
    if isinstance(result, np.ndarray):
        return ndarray(result)
    if isinstance(result, np.generic):
        return ndarray(np.asarray(result))
    if isinstance(result, tuple):
        return tuple(_device(r) for r in result)
    if isinstance(result, list):
        return [_device(r) for r in result]
    return result


def _check_keywords(where, allowed, kwargs):
    if allowed is not None:
        unknown = sorted(set(kwargs) - set(allowed))
        if unknown:
            raise TypeError(f"{where}() got an unexpected keyword argument {unknown[0]!r} (CuPy {API['version']})")


def _function(name, numpy_function, allowed):
    def call(*args, **kwargs):
        _check_keywords(f"cupy.{name}", allowed, kwargs)
        _state["size_syncs"] += name in SIZE_FROM_DATA
        return _device(numpy_function(*_host(args, f"cupy.{name}"),
                                      **{k: _host(v, f"cupy.{name}") for k, v in kwargs.items()}))
    call.__name__ = name
    return call


class ufunc:
    """A NumPy ufunc behind CuPy's ufunc methods (``at``, ``reduce``, ...)."""

    def __init__(self, name):
        self.__name__, self._ufunc = name, getattr(np, name)
        self._call = _function(name, self._ufunc, API["functions"][name])

    def __call__(self, *args, **kwargs):
        return self._call(*args, **kwargs)

    def __getattr__(self, method):
        if method not in API["ufunc_methods"]:
            raise AttributeError(f"cupy ufunc has no method {method!r}")
        return _function(f"{self.__name__}.{method}", getattr(self._ufunc, method), None)


# ---- the array -------------------------------------------------------------------------
class Flags:
    def __init__(self, flags):
        self.c_contiguous, self.f_contiguous, self.owndata = flags.c_contiguous, flags.f_contiguous, flags.owndata


class ndarray:
    __slots__ = ("_a", "_device")

    def __init__(self, array):
        self._a, self._device = array, _state["device"]

    # what CuPy has as plain attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    T = property(lambda self: ndarray(self._a.T))
    flags = property(lambda self: Flags(self._a.flags))
    device = property(lambda self: Device(self._device))

    def __getattr__(self, name):
        if name not in API["ndarray"]:
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")
        method = getattr(self._a, name)
        return _function(f"ndarray.{name}", method, API["ndarray"][name])

    # explicit reads: allowed, counted
    def get(self, stream=None, order="C", out=None, blocking=True):
        return _read(self._a.copy(order=order))

    def item(self):
        return _read(self._a.item())

    def tolist(self):
        return _read(self._a.tolist())

    def __float__(self):
        return float(_read(self._a))

    def __int__(self):
        return int(_read(self._a))

    def __index__(self):
        return _read(self._a).__index__()

    def __bool__(self):
        return bool(_read(self._a))

    def __format__(self, spec):
        return format(_read(self._a).item() if self._a.ndim == 0 else self._a, spec)

    def __repr__(self):
        return repr(_read(self._a)).replace("array", "fakegpu.array", 1)

    __str__ = __repr__

    def set(self, array):
        self._a[...] = array

    # what must not happen implicitly
    def __array__(self, *args, **kwargs):
        raise TypeError(IMPLICIT_ERROR)

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(f"numpy.{func.__name__} was called on a device array: use the array's module (xp)")

    def __array_ufunc__(self, ufunc_, method, *inputs, **kwargs):
        # CuPy runs NumPy ufuncs on device arrays when the other operands are scalars
        # (np.float32(2) * a); host arrays are refused.
        if method != "__call__":
            raise TypeError(f"numpy.{ufunc_.__name__}.{method} was called on a device array")
        return _function(ufunc_.__name__, ufunc_, None)(*inputs, **kwargs)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_device(row) for row in self._a)

    def __getitem__(self, key):
        key = _host(key, "indexing")
        keys = key if isinstance(key, tuple) else (key,)
        _state["size_syncs"] += any(getattr(k, "dtype", None) == np.bool_ for k in keys)
        return _device(self._a[key])

    def __setitem__(self, key, value):
        self._a[_host(key, "indexing")] = _host(value, "assignment")

    __hash__ = None


def _binary(name, inplace=False):
    def method(self, other):
        if not isinstance(other, (ndarray, np.ndarray, np.generic, int, float, bool, complex)):
            return NotImplemented
        result = getattr(_host(self, name), name)(_host(other, name))
        if inplace:
            return self
        return NotImplemented if result is NotImplemented else _device(result)
    return method


for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
            "lshift", "rshift"):
    for _name in (f"__{_op}__", f"__r{_op}__"):
        setattr(ndarray, _name, _binary(_name))
    setattr(ndarray, f"__i{_op}__", _binary(f"__i{_op}__", inplace=True))
for _name in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
    setattr(ndarray, _name, _binary(_name))
for _name in ("__neg__", "__pos__", "__abs__", "__invert__"):
    setattr(ndarray, _name, (lambda name: lambda self: _device(getattr(_host(self, name), name)()))(_name))


# ---- the module's functions ------------------------------------------------------------
def asarray(a, dtype=None, order=None, copy=None, blocking=False):
    """Upload: host arrays, lists and scalars are copied to the current device."""
    if isinstance(a, ndarray):
        if a._device == _state["device"] and (dtype is None or a.dtype == dtype):
            return a
        a = a._a
    return ndarray(np.array(a, dtype=dtype, order=order or "K"))


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, blocking=False):
    return ndarray(np.array(obj._a if isinstance(obj, ndarray) else obj, dtype=dtype, order=order, ndmin=ndmin))


def ascontiguousarray(a, dtype=None):
    return ndarray(np.ascontiguousarray(a._a if isinstance(a, ndarray) else a, dtype=dtype))


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    if isinstance(a, ndarray):
        return a.get()
    return np.asarray(a, order=order)


def get_array_module(*args):
    return _module if any(isinstance(a, ndarray) for a in args) else np


lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(
    as_strided=_function("lib.stride_tricks.as_strided", np.lib.stride_tricks.as_strided,
                         API["stride_tricks"]["as_strided"])))
random = types.SimpleNamespace(**{name: _function(f"random.{name}", getattr(np.random, name), allowed)
                                  for name, allowed in API["random"].items() if hasattr(np.random, name)})
_module = None
_OWN = {"ndarray", "asarray", "array", "ascontiguousarray", "asnumpy", "get_array_module"}


def __getattr__(name):
    if name in API["functions"] and hasattr(np, name):
        value = getattr(np, name)
        return ufunc(name) if isinstance(value, np.ufunc) else _function(name, value, API["functions"][name])
    if (name in API["types"] or name in API["constants"]) and hasattr(np, name):
        return getattr(np, name)
    raise AttributeError(f"module 'cupy' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(API["functions"]) | set(API["types"]) | set(API["constants"]))


_module = __import__(__name__, fromlist=["_"])
