"""The suite keeps to itself: tests that read MNIST and the corpora, in module-scoped
fixtures too, write no cache into the user's cache folder."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# tests whose caching once reached the user's folder: MNIST decoding, and a module-scoped
# fixture that tokenises every shipped corpus before any function-scoped fixture ran
CACHING_TESTS = ["tests/test_data.py::test_shipped_mnist_loads_with_known_label_counts",
                 "tests/test_word2vec.py::test_nearest_and_analogy_exclude_inputs"]


@pytest.mark.slow
def test_the_suite_leaves_the_users_cache_alone(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "NNPIPE_CACHE"}
    env["HOME"] = str(tmp_path / "home")  # the user's cache folder is then home/.cache/nnpipe
    users_cache = tmp_path / "home/.cache/nnpipe"
    # without the suite's private cache these calls write there: the check below can fail
    subprocess.run([sys.executable, "-c", "from nnpipe.data import files; from nnpipe.data.mnist import "
                    "load_idx_dataset; load_idx_dataset(files.data_root())"], env=env, cwd=ROOT, check=True)
    assert any(users_cache.glob("idx-*.npz"))
    for path in users_cache.iterdir():
        path.unlink()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CACHING_TESTS],
                            env=env, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "2 passed" in result.stdout
    assert not any(users_cache.iterdir()), sorted(p.name for p in users_cache.iterdir())
