"""Write nnpipe/testing/cupy_api.json: the names and keyword parameters of the CuPy API
that the fake device (nnpipe/testing/fakegpu.py) may offer.

Run where a CuPy wheel is importable (it imports without a GPU):
    python scripts/cupy_api_snapshot.py
The fake refuses any name or keyword that is not in this file, so code that runs under
``NNPIPE_FAKE_GPU=1`` calls only what the real CuPy has.
"""
from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import cupy
import cupy.lib.stride_tricks

OUT = Path(__file__).resolve().parents[1] / "nnpipe" / "testing" / "cupy_api.json"
DOC_SIGNATURE = re.compile(r"^[\w.]+\((.*)\)")


def parameters(obj):
    """Keyword names accepted, or None when anything goes (``**kwargs``, no signature)."""
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        match = DOC_SIGNATURE.match((obj.__doc__ or "").strip().splitlines()[0] if obj.__doc__ else "")
        if not match:
            return None
        names = [p.strip().split("=")[0].strip().replace("\\", "") for p in match.group(1).split(",")]
        if any(n.startswith("**") for n in names):
            return None
        return [n for n in names if n and n not in ("self", "/") and not n.startswith("*")]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind is not p.VAR_POSITIONAL and p.name != "self"]


def public(namespace):
    return {name: parameters(getattr(namespace, name)) for name in dir(namespace)
            if not name.startswith("_") and callable(getattr(namespace, name))
            and not isinstance(getattr(namespace, name), type)}


def main():
    api = {
        "version": cupy.__version__,
        "functions": public(cupy),
        "constants": sorted(n for n in dir(cupy) if not n.startswith("_") and not callable(getattr(cupy, n))
                            and not inspect.ismodule(getattr(cupy, n))),
        "types": sorted(n for n in dir(cupy) if not n.startswith("_") and isinstance(getattr(cupy, n), type)),
        "ndarray": {name: parameters(getattr(cupy.ndarray, name)) for name in dir(cupy.ndarray)
                    if not name.startswith("_")},
        "ufunc_methods": sorted(n for n in dir(cupy.add) if not n.startswith("_")),
        "random": public(cupy.random),
        "stride_tricks": public(cupy.lib.stride_tricks),
    }
    OUT.write_text(json.dumps(api, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT} from CuPy {cupy.__version__}")


if __name__ == "__main__":
    main()
