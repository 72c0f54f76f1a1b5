"""The word-vector, optimizer and sampling kernels against their vectorised references
(NNPIPE_KERNELS=reference): values and gradients, float32 and float64, odd sizes, the same
bits for any number of threads; and how the kernels share the machine's cores."""
import os
import subprocess
import sys

import numpy as np
import pytest

import nnpipe.autograd.functions as F
import nnpipe.optim as optim
from nnpipe import kernels
from nnpipe.autograd import SparseRows, Tensor
from nnpipe.data.text import NegativeSampler, skipgram_pairs
from nnpipe.nn import Parameter

from helpers import word_batch

numba = pytest.importorskip("numba")


def word_loss(op, batch, dtype, vocab=37, dim=7, **options):
    """(loss, input-table gradient, output-table gradient) of ``op`` on random tables."""
    rng = np.random.default_rng(1)
    W_in = Tensor(rng.standard_normal((vocab, dim)).astype(dtype), requires_grad=True)
    W_out = Tensor(rng.standard_normal((vocab, dim)).astype(dtype), requires_grad=True)
    loss = op(W_in, W_out, *batch, **options)
    loss.backward()
    return loss, W_in.grad, W_out.grad


def skipgram_loss(batch, dtype, reduction, vocab=37, dim=7):
    return word_loss(F.skipgram_ns, batch, dtype, vocab, dim, reduction=reduction)


@pytest.mark.parametrize("dtype,tolerance", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("shared", [True, False])
def test_skipgram_kernel_matches_the_reference(both_paths, dtype, tolerance, reduction, shared):
    batch = word_batch(0, shared=shared)
    (ref_loss, ref_in, ref_out), (loss, g_in, g_out) = both_paths(lambda: skipgram_loss(batch, dtype, reduction))
    assert loss.dtype == dtype and g_in.values.dtype == dtype
    assert loss.item() == pytest.approx(ref_loss.item(), rel=tolerance)
    np.testing.assert_allclose(g_in.to_dense(), ref_in.to_dense(), rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(g_out.to_dense(), ref_out.to_dense(), rtol=tolerance, atol=tolerance)
    # coalesced: each row once, and only rows that some pair touches
    assert g_in.coalesced and len(set(g_in.rows.tolist())) == len(g_in.rows)
    assert set(g_in.rows.tolist()) == set(ref_in.rows.tolist())
    assert set(g_out.rows.tolist()) == set(ref_out.rows.tolist())


def test_skipgram_kernel_gives_the_same_bits_for_any_thread_count(threads):
    batch = word_batch(3, vocab=500, windows=400)
    first, second = threads(lambda: skipgram_loss(batch, np.float32, "sum", vocab=500, dim=33))
    assert first[0].item() == second[0].item()
    for a, b in zip(first[1:], second[1:]):
        np.testing.assert_array_equal(a.rows, b.rows)
        np.testing.assert_array_equal(a.values, b.values)


def cbow_loss(batch, dtype, reduction, exact, vocab=37, dim=7):
    return word_loss(F.cbow_ns, batch, dtype, vocab, dim, reduction=reduction, exact=exact)


def cbow_batch(seed, vocab=37, windows=23):
    """CBOW windows: 1 to 5 contexts each (the text task drops windows without any)."""
    rng = np.random.default_rng(seed)
    pair_window = np.repeat(np.arange(windows), rng.integers(1, 6, windows))
    return (rng.integers(0, vocab, windows), rng.integers(0, vocab, len(pair_window)), pair_window,
            rng.integers(0, vocab, (windows, 4)))


@pytest.mark.parametrize("dtype,tolerance", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("exact", [True, False])
def test_cbow_kernel_matches_the_reference(both_paths, dtype, tolerance, reduction, exact):
    batch = cbow_batch(0)
    (ref_loss, ref_in, ref_out), (loss, g_in, g_out) = both_paths(lambda: cbow_loss(batch, dtype, reduction, exact))
    assert loss.dtype == dtype and g_in.values.dtype == dtype and g_in.coalesced and g_out.coalesced
    assert loss.item() == pytest.approx(ref_loss.item(), rel=tolerance)
    np.testing.assert_allclose(g_in.to_dense(), ref_in.to_dense(), rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(g_out.to_dense(), ref_out.to_dense(), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("empty", [0, 11, 22])  # the first window, one inside, the last
def test_cbow_refuses_a_window_without_contexts_on_every_path(both_paths, empty):
    window_centers, contexts, pair_window, negatives = cbow_batch(0)
    keep = pair_window != empty
    batch = (window_centers, contexts[keep], pair_window[keep], negatives)

    def refused():
        with pytest.raises(ValueError, match="every CBOW window needs at least one context word"):
            cbow_loss(batch, np.float32, "sum", exact=False)
        return True

    assert both_paths(refused) == (True, True)
    assert not kernels.lazy("word2vec").any_empty_window(np.array([0, 2, 3, 7]))


@pytest.mark.parametrize("mode", ["auto", "reference"])
def test_cbow_gives_every_context_the_whole_error_as_word2vec(mode):
    """With three contexts in every window, word2vec's update of an input row is exactly
    three times the gradient of the mean; the output rows get the gradient itself."""
    rng = np.random.default_rng(2)
    batch = (rng.integers(0, 37, 20), rng.integers(0, 37, 60), np.repeat(np.arange(20), 3),
             rng.integers(0, 37, (20, 4)))
    kernels.set_mode(mode)
    try:
        _, exact_in, exact_out = cbow_loss(batch, np.float64, "sum", exact=True)
        _, word2vec_in, word2vec_out = cbow_loss(batch, np.float64, "sum", exact=False)
    finally:
        kernels.set_mode("auto")
    np.testing.assert_allclose(word2vec_in.to_dense(), 3 * exact_in.to_dense(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(word2vec_out.to_dense(), exact_out.to_dense(), rtol=1e-12, atol=1e-14)


def test_cbow_kernel_gives_the_same_bits_for_any_thread_count(threads):
    batch = cbow_batch(3, vocab=500, windows=400)
    first, second = threads(lambda: cbow_loss(batch, np.float32, "sum", False, vocab=500, dim=33))
    assert first[0].item() == second[0].item()
    for a, b in zip(first[1:], second[1:]):
        np.testing.assert_array_equal(a.rows, b.rows)
        np.testing.assert_array_equal(a.values, b.values)


def test_skipgram_kernel_refuses_unsorted_pairs():
    windows, contexts, pair_window, negatives = word_batch(0)
    with pytest.raises(ValueError, match="sorted by window"):
        skipgram_loss((windows, contexts, pair_window[::-1].copy(), negatives), np.float32, "sum")


@pytest.mark.parametrize("seed", range(4))
def test_window_starts_are_where_each_window_begins(seed):
    from nnpipe.kernels import word2vec

    windows, _, pair_window, _ = word_batch(seed, windows=40)  # empty windows among them, first and last too
    pair_window = pair_window[(pair_window > 0) & (pair_window < 39)] if seed % 2 else pair_window
    expected = np.searchsorted(pair_window, np.arange(len(windows) + 1))
    np.testing.assert_array_equal(word2vec.window_starts(pair_window, len(windows)), expected)


@pytest.mark.parametrize("pair_window,windows", [([0, 2, 1], 3), ([0, 3], 3), ([-1, 0], 3), ([0], 0)])
def test_window_starts_refuse_unsorted_or_outside_windows(pair_window, windows):
    from nnpipe.kernels import word2vec

    with pytest.raises(ValueError, match="sorted by window, with windows in range"):
        word2vec.window_starts(np.array(pair_window, np.int64), windows)


@pytest.mark.parametrize("window", [1, 3, 5])
def test_pair_kernel_matches_the_reference(both_paths, window):
    rng = np.random.default_rng(window)
    ids = rng.integers(0, 50, 300).astype(np.int32)
    sentence_of = np.repeat(np.arange(30), rng.multinomial(300, np.ones(30) / 30))
    centers = np.arange(7, 290)
    reference, compiled = both_paths(lambda: skipgram_pairs(ids, sentence_of, centers, window,
                                                            np.random.default_rng(0)))
    for expected, got in zip(reference, compiled):
        np.testing.assert_array_equal(got, expected)
        assert got.dtype.kind == expected.dtype.kind


OPTIMIZER_CASES = [("sgd", {}), ("sgd", {"weight_decay": 0.1}), ("adagrad", {}), ("adagrad", {"weight_decay": 0.1}),
                   ("adam", {}), ("adam", {"weight_decay": 0.01}), ("adamw", {}), ("momentum", {"nesterov": True})]


@pytest.mark.parametrize("name,options", OPTIMIZER_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_updates_are_the_reference_bit_for_bit(both_paths, name, options, dtype):
    """A whole weight matrix and a bias, updated by the compiled one-row kernels."""
    def train():
        draws = np.random.default_rng(0)
        params = [Parameter(draws.standard_normal(shape).astype(dtype)) for shape in ((31, 9), (9,))]
        opt = optim.build_optimizer(name, params, lr=0.1, **options)
        for _ in range(4):
            for p in params:
                p.grad = draws.standard_normal(p.shape).astype(dtype)
            opt.step()
        return [p.data for p in params] + [array.copy() for state in opt.state for array in state.values()]

    for got, expected in zip(*both_paths(train)[::-1]):
        np.testing.assert_array_equal(got, expected)


def glove_loss(dtype, reduction, vocab=37, dim=7, entries=300, seed=0):
    rng = np.random.default_rng(seed)
    tables = [Tensor(rng.standard_normal(shape).astype(dtype) * 0.3, requires_grad=True)
              for shape in ((vocab, dim), (vocab, dim), (vocab, 1), (vocab, 1))]
    rows, cols = rng.integers(0, vocab, entries), rng.integers(0, vocab, entries)
    loss = F.glove(*tables, rows, cols, rng.gamma(0.5, 40.0, entries) + 0.1, reduction=reduction)
    loss.backward()
    return [loss] + [t.grad for t in tables]


@pytest.mark.parametrize("dtype,tolerance", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_glove_kernel_matches_the_reference(both_paths, dtype, tolerance, reduction):
    reference, compiled = both_paths(lambda: glove_loss(dtype, reduction))
    assert compiled[0].dtype == dtype
    assert compiled[0].item() == pytest.approx(reference[0].item(), rel=tolerance)
    for got, expected in zip(compiled[1:], reference[1:]):
        assert got.coalesced and got.values.dtype == dtype
        np.testing.assert_allclose(got.to_dense(), expected.to_dense(), rtol=tolerance, atol=tolerance)


def test_glove_kernel_gives_the_same_bits_for_any_thread_count(threads):
    first, second = threads(lambda: glove_loss(np.float32, "sum", vocab=400, dim=33, entries=5000))
    assert first[0].item() == second[0].item()
    for a, b in zip(first[1:], second[1:]):
        np.testing.assert_array_equal(a.rows, b.rows)
        np.testing.assert_array_equal(a.values, b.values)


@pytest.mark.parametrize("name", ["sgd", "adagrad", "adam"])
def test_dense_updates_take_the_kernels(monkeypatch, name):
    param = Parameter(np.ones((4, 3), np.float32))
    opt = optim.build_optimizer(name, [param], lr=0.1)
    monkeypatch.setattr(type(opt), "update", lambda *args: pytest.fail("the NumPy reference ran"))
    param.grad = np.ones((4, 3), np.float32)
    opt.step()
    assert param.data[0, 0] == pytest.approx(0.9)


@pytest.mark.parametrize("name,options", OPTIMIZER_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_row_updates_are_the_reference_bit_for_bit(both_paths, name, options, dtype):
    def train():
        W = Parameter(np.random.default_rng(0).standard_normal((50, 9)).astype(dtype))
        opt = optim.build_optimizer(name, [W], lr=0.1, **options)
        draws = np.random.default_rng(1)
        for _ in range(4):
            rows = np.unique(draws.integers(0, 50, 12))
            W.grad = SparseRows(rows, draws.standard_normal((len(rows), 9)).astype(dtype), W.shape, coalesced=True)
            opt.step()
        return W.data, [array.copy() for array in opt.state[0].values()]

    (ref_param, ref_state), (param, state) = both_paths(train)
    np.testing.assert_array_equal(param, ref_param)
    for got, expected in zip(state, ref_state):
        np.testing.assert_array_equal(got, expected)


def test_alias_sampler_kernel_matches_the_reference(both_paths):
    sampler = NegativeSampler(np.array([900, 300, 300, 40, 7, 1]))
    reference, compiled = both_paths(lambda: sampler.sample(np.random.default_rng(5), (300, 7)))
    np.testing.assert_array_equal(compiled, reference)


def test_switch_and_cupy_arrays_take_the_reference():
    assert kernels.use_compiled(np.zeros(3))
    kernels.set_mode("reference")
    try:
        assert not kernels.use_compiled(np.zeros(3))
    finally:
        kernels.set_mode("auto")
    assert not kernels.use_compiled(np.zeros(3), [1, 2])  # anything that is not a NumPy array
    with pytest.raises(ValueError, match="kernel mode"):
        kernels.set_mode("fast")


def test_importing_nnpipe_first_shortens_openblas_idle_spin():
    """OpenBLAS's idle threads must not spin for 0.1 s beside the kernel threads; a value the
    user set is kept."""
    code = "import nnpipe, os; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "20"
    env["OPENBLAS_THREAD_TIMEOUT"] = "8"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "8"


# CPU seconds this process spends in a 0.2 s sleep right after a GEMM on two BLAS threads:
# what OpenBLAS's idle thread spins away (without nnpipe's setting, ~0.1 s)
SPIN_AFTER_GEMM = """
import time, numpy
{imports}
from threadpoolctl import threadpool_limits
threadpool_limits(2, user_api="blas")
a = numpy.ones((800, 800), numpy.float32)
a @ a
before = time.process_time()
time.sleep(0.2)
print(time.process_time() - before)
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS starts no second thread on one core")
def test_numpy_imported_first_still_gets_the_short_openblas_spin():
    """A script that imports NumPy before nnpipe loads OpenBLAS before nnpipe sets
    OPENBLAS_THREAD_TIMEOUT: importing the kernels makes OpenBLAS's idle thread take it
    all the same.  The control (NumPy alone) shows the default spin that the test tells
    apart."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("OPENBLAS_THREAD_TIMEOUT", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}

    def spin_seconds(imports):
        out = subprocess.run([sys.executable, "-c", SPIN_AFTER_GEMM.format(imports=imports)], env=env,
                             capture_output=True, text=True, check=True)
        return float(out.stdout)

    assert spin_seconds("") > 0.04
    assert spin_seconds("import nnpipe.kernels") < 0.02
    # not beside another thread, which could be inside OpenBLAS while its threads restart
    busy = ("import threading; threading.Thread(target=threading.Event().wait, daemon=True).start()\n"
            "import nnpipe.kernels")
    assert spin_seconds(busy) > 0.04


@pytest.mark.parametrize("count,most,sizes", [(401408, 1 << 18, [200704, 200704]), (10, 3, [2, 3, 2, 3]),
                                               (9, 3, [3, 3, 3]), (1, 5, [1])])
def test_even_chunks_are_as_few_and_as_even_as_can_be(count, most, sizes):
    chunks = kernels.even_chunks(count, most)
    assert [part.stop - part.start for part in chunks] == sizes
    assert np.array_equal(np.concatenate([np.arange(count)[part] for part in chunks]), np.arange(count))


def test_numba_sets_itself_up_with_the_run_not_in_its_first_step(tmp_path):
    """The first kernel of a process imports Numba's compiler registries (a third of a
    second): a Trainer on the CPU does it while it sets the run up."""
    from helpers import write_config

    config = write_config(tmp_path, device="cpu")
    code = ("import sys\nfrom nnpipe.config import load_config\nfrom nnpipe.training import Trainer\n"
            "before = 'numba.np.npyimpl' in sys.modules\n"
            f"Trainer(load_config({str(config)!r}), quiet=True)\n"
            "print(before, 'numba.np.npyimpl' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split()[-2:] == ["False", "True"], result.stdout + result.stderr


def test_processes_on_one_machine_share_its_cores(monkeypatch):
    """MPI ranks on one node each get cores / ranks threads (kernels and BLAS), unless the
    user set the counts."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before_kernels, before_blas = numba.get_num_threads(), blas_threads()
    for variable in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(variable, raising=False)
    pool = numba.config.NUMBA_NUM_THREADS  # the most threads Numba can use here
    monkeypatch.setattr("os.cpu_count", lambda: 2 * pool)
    try:
        assert kernels.share_cores(2) == pool
        assert numba.get_num_threads() == pool and set(blas_threads()) == {pool}
        assert kernels.share_cores(4 * pool) == 1  # more ranks than cores: one thread each
        assert numba.get_num_threads() == 1 and set(blas_threads()) == {1}
        numba.set_num_threads(before_kernels)
        monkeypatch.setenv("NUMBA_NUM_THREADS", "2")
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        threadpool_limits(before_blas[0], user_api="blas")
        kernels.share_cores(4)  # the user's settings win
        assert numba.get_num_threads() == before_kernels and set(blas_threads()) == {before_blas[0]}
    finally:
        numba.set_num_threads(before_kernels)
        threadpool_limits(before_blas[0], user_api="blas")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_prefetch_is_only_a_hint(dtype, index_dtype):
    """Prefetching rows (any index type, rows longer and shorter than a cache line) compiles
    and changes nothing."""
    from nnpipe.kernels import jit
    from nnpipe.kernels.prefetch import prefetch_row

    @jit(cache=False)
    def touch(table, rows):
        total = 0.0
        for r in rows:
            prefetch_row(table, r)
            total += table[r, 0]
        return total

    for width in (3, 100):
        table = np.arange(7 * width, dtype=dtype).reshape(7, width)
        before = table.copy()
        rows = np.array([6, 0, 3], index_dtype)
        assert touch(table, rows) == table[rows, 0].sum()
        np.testing.assert_array_equal(table, before)


def test_prefetch_steps_by_a_constant_line():
    """One prefetch per cache line, the step known when the kernel compiles (16 float32, 8
    float64, 4 complex128 items); a run-time step (the array's itemsize) put an integer
    division in every row's prefetch, 12% of the CBOW kernel's time."""
    import re

    from nnpipe.kernels import jit
    from nnpipe.kernels.prefetch import _columns_per_line, prefetch_row

    @jit(cache=False)
    def columns(table):
        return _columns_per_line(table)

    @jit(cache=False)
    def ask(table, rows):
        for r in rows:
            prefetch_row(table, r)

    assert columns(np.zeros((1, 1), np.float32)) == 16 and columns(np.zeros((1, 1), np.float64)) == 8
    assert columns(np.zeros((1, 1), np.complex128)) == 4
    table, rows = np.zeros((4, 100), np.float32), np.array([3, 1], np.int64)
    ask(table, rows)
    assembly = ask.inspect_asm(ask.signatures[0])
    assert "prefetch" in assembly and not re.search(r"\bi?div[lq]?\s", assembly)
