"""What every test module shares: the suite's private cache, the array modules under test,
and one finished run for the commands to work on.  Plain helpers are in helpers.py."""
import os
import shutil

import numpy as np
import pytest

from nnpipe import backend, kernels

from helpers import invoke, only_run, write_config


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Every cache the suite writes (decoded MNIST, tokenised corpora, co-occurrence counts,
    downloads) goes to a folder of this session, never to the user's ``NNPIPE_CACHE`` or
    ``~/.cache/nnpipe``.  Session-scoped, so module-scoped fixtures and subprocesses are
    covered too; ``test_the_suite_leaves_the_users_cache_alone`` proves it."""
    folder = tmp_path_factory.mktemp("cache")
    saved = os.environ.get("NNPIPE_CACHE")
    os.environ["NNPIPE_CACHE"] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop("NNPIPE_CACHE", None)
    else:
        os.environ["NNPIPE_CACHE"] = saved


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache folder of this test's own, for tests of the cache itself."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("NNPIPE_CACHE", str(folder))
    return folder


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


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """One finished one-epoch run of the tiny MLP config, trained once per session."""
    folder = tmp_path_factory.mktemp("trained")
    result = invoke("train", write_config(folder, train={"epochs": 1}), "--quiet")
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def workspace(trained, tmp_path):
    """A fresh copy of ``trained`` for one test: (folder, its config, the run)."""
    shutil.copytree(trained, tmp_path / "ws")
    ws = tmp_path / "ws"
    return ws, write_config(ws, train={"epochs": 1}), only_run(ws / "runs")


@pytest.fixture
def both_paths():
    """Run a function under the reference path and under the compiled kernels."""
    def run(function):
        results = {}
        for mode in ("reference", "auto"):
            kernels.set_mode(mode)
            try:
                results[mode] = function()
            finally:
                kernels.set_mode("auto")
        return results["reference"], results["auto"]

    return run


@pytest.fixture
def threads():
    """Run a function with 1 and with 2 kernel threads."""
    numba = pytest.importorskip("numba")

    def run(function):
        before = numba.get_num_threads()
        results = []
        for count in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(count)
            try:
                results.append(function())
            finally:
                numba.set_num_threads(before)
        return results

    return run
