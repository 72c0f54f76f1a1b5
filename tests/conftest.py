import numpy as np
import pytest

from nnpipe import backend


def _array_modules():
    modules = [pytest.param(np, id="numpy")]
    modules.append(
        pytest.param(
            "cupy",
            id="cupy",
            marks=[
                pytest.mark.gpu,
                pytest.mark.skipif(not backend.cuda_available(), reason="needs CuPy and a GPU"),
            ],
        )
    )
    return modules


@pytest.fixture(params=_array_modules())
def xp(request):
    """The array module under test: numpy, and cupy where a GPU is present."""
    return backend.cupy_module() if request.param == "cupy" else np
