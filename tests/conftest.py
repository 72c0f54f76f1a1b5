import numpy as np
import pytest

from nnpipe import backend


@pytest.fixture
def gpu_module(monkeypatch):
    """CuPy where a GPU is usable (or NNPIPE_FAKE_GPU=1 is set); elsewhere the strict fake
    device of nnpipe.testing.fakegpu, installed for this test only."""
    if not backend.cuda_available():
        monkeypatch.setenv("NNPIPE_FAKE_GPU", "1")
        monkeypatch.setattr(backend, "_cupy", None)
    return backend.cupy_module()


@pytest.fixture(params=[pytest.param("numpy", id="numpy"), pytest.param("cupy", id="cupy", marks=pytest.mark.gpu)])
def xp(request):
    """The array module under test: NumPy, then CuPy (a real GPU, or the fake device)."""
    return request.getfixturevalue("gpu_module") if request.param == "cupy" else np
