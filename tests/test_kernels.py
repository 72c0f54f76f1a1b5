"""Every compiled kernel against its vectorised reference (NNPIPE_KERNELS=reference):
values and gradients, float32 and float64, odd sizes, and the same bits for any number of
threads."""
import numpy as np
import pytest

import nnpipe.autograd.functions as F
import nnpipe.optim as optim
from nnpipe import kernels
from nnpipe.autograd import SparseRows, Tensor
from nnpipe.data.text import NegativeSampler, skipgram_pairs
from nnpipe.nn import Parameter

numba = pytest.importorskip("numba")


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


def word_batch(seed, vocab=37, windows=23, k=4, shared=True):
    """Windows with 0 to 5 pairs each (some without any), as the text task makes them."""
    rng = np.random.default_rng(seed)
    pairs_per_window = rng.integers(0, 6, windows) if shared else np.ones(windows, np.int64)
    pair_window = np.repeat(np.arange(windows), pairs_per_window)
    return (rng.integers(0, vocab, windows), rng.integers(0, vocab, len(pair_window)), pair_window,
            rng.integers(0, vocab, (windows, k)))


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


@pytest.mark.parametrize("shape,kernel,stride,padding", [
    ((4, 3, 8, 8), 2, 2, 0), ((2, 2, 7, 9), 2, 2, 0), ((2, 3, 9, 8), 3, 2, 1), ((1, 2, 6, 6), 3, 1, 0),
    ((2, 1, 5, 7), 2, 1, 1),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_kernel_matches_the_reference(both_paths, shape, kernel, stride, padding, dtype):
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, shape).astype(dtype)  # many ties: the first maximum must win
    x = np.asfortranarray(x) if shape[0] == 2 else x  # a non-contiguous input too

    def pool():
        tensor = Tensor(x.copy(order="A"), requires_grad=True)
        y = F.max_pool2d(tensor, kernel, stride, padding)
        upstream = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
        (y * Tensor(upstream)).sum().backward()
        return y.data, tensor.grad

    (ref_y, ref_gx), (y, gx) = both_paths(pool)
    np.testing.assert_array_equal(y, ref_y)
    np.testing.assert_allclose(gx, ref_gx, rtol=1e-6)
    assert y.dtype == dtype and gx.dtype == dtype


def test_cnn_pools_before_a_monotonic_activation_with_the_same_result():
    """max(relu(x)) = relu(max(x)), gradients included: the CNN's order does not change it."""
    import nnpipe.nn as nn

    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((3, 4, 6, 6)).astype(np.float32), requires_grad=True)
    pooled_last = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))(x)
    (pooled_last * pooled_last).sum().backward()
    expected = x.grad
    x.grad = None
    pooled_first = nn.Sequential(nn.MaxPool2d(2), nn.ReLU())(x)
    (pooled_first * pooled_first).sum().backward()
    np.testing.assert_array_equal(pooled_first.data, pooled_last.data)
    np.testing.assert_array_equal(x.grad, expected)


def test_winograd_kernels_apply_the_matrices_named_beside_them():
    """Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A is the 2×2 correlation of a 4×4 tile d with a 3×3 filter g,
    and the input and output kernels compute Bᵀ d B and Aᵀ M A (+ bias, pool, ReLU)."""
    from nnpipe.kernels import conv_pool

    BT, G, AT = conv_pool.WINOGRAD_BT, conv_pool.WINOGRAD_G, conv_pool.WINOGRAD_AT
    rng = np.random.default_rng(0)
    d, g = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
    direct = np.array([[(d[i:i + 3, j:j + 3] * g).sum() for j in range(2)] for i in range(2)])
    np.testing.assert_allclose(AT @ ((G @ g @ G.T) * (BT @ d @ BT.T)) @ AT.T, direct, rtol=1e-12)
    x = rng.standard_normal((1, 1, 2, 2))  # one tile: its 4×4 input is x zero-padded by 1
    v = np.empty((16, 1, 1))
    conv_pool.winograd_input(x, v)
    padded = np.pad(x[0, 0], 1)
    np.testing.assert_allclose(v[:, 0, 0].reshape(4, 4), BT @ padded @ BT.T, rtol=1e-12)
    m = rng.standard_normal((16, 1, 1))
    y, winner = np.empty((1, 1, 1, 1)), np.empty((1, 1, 1, 1), np.int8)
    conv_pool.winograd_output_pool(m, np.array([0.25]), y, winner)
    tile = AT @ m[:, 0, 0].reshape(4, 4) @ AT.T + 0.25
    assert y[0, 0, 0, 0] == pytest.approx(max(tile.max(), 0.0), rel=1e-12)
    np.testing.assert_allclose(conv_pool.winograd_weights(g[None, None])[:, 0, 0].reshape(4, 4), G @ g @ G.T)


@pytest.mark.parametrize("shape,weight,padding,path", [
    ((3, 5, 6, 8), (4, 5, 3, 3), 1, "winograd"), ((2, 8, 2, 14), (7, 8, 3, 3), 1, "winograd"),
    ((2, 1, 6, 6), (3, 1, 3, 3), 1, "rows"), ((2, 3, 5, 7), (4, 3, 2, 2), 0, "rows"),
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, "reference"),  # odd output height: pooling drops a row
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_conv_block_kernels_match_the_reference(both_paths, shape, weight, padding, path, dtype):
    from nnpipe.autograd.ops.conv_block import _fused_path

    rng = np.random.default_rng(0)
    # small integers: Winograd's transforms are exact on them, so ties (the first maximum
    # wins) and zeros (the ReLU's kink) fall the same way on both paths
    x, W = rng.integers(-2, 3, shape).astype(dtype), rng.integers(-1, 2, weight).astype(dtype)
    b = rng.integers(-6, 1, weight[0]).astype(dtype)  # negative biases: the ReLU cuts some maxima
    x = np.asfortranarray(x) if shape[0] == 2 else x  # a non-contiguous input too
    assert _fused_path(x, W, b, (1, 1), (padding, padding)) == path

    def block():
        tensors = [Tensor(a.copy(order="A"), requires_grad=True) for a in (x, W, b)]
        y = F.conv2d_relu_pool(*tensors, padding=padding)
        upstream = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
        (y * Tensor(upstream)).sum().backward()
        return (y.data, *(t.grad for t in tensors))

    reference, compiled = both_paths(block)
    np.testing.assert_array_equal(compiled[0], reference[0])
    assert (reference[0] == 0).mean() > 0.1 and compiled[0].dtype == dtype  # the ReLU cut some
    for grad, expected in zip(compiled[1:], reference[1:]):
        np.testing.assert_allclose(grad, expected, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)
        assert grad.dtype == dtype


def test_cnn_fuses_its_conv_relu_pool_blocks_with_the_same_result():
    """The CNN's fused blocks give what Conv2d → MaxPool2d → ReLU give with the same weights."""
    import nnpipe.nn as nn
    from nnpipe.config import load_config
    from nnpipe.models import build_model

    model = build_model(load_config("configs/cnn.yaml").model, np.random.default_rng(0), (1, 28, 28), 10)
    fused = [layer for layer in model if isinstance(layer, nn.Conv2dReLUPool)]
    assert len(fused) == 2
    x = np.random.default_rng(1).standard_normal((4, 1, 28, 28)).astype(np.float32)
    for block in fused:
        plain = nn.Conv2d(block.in_channels, block.out_channels, 3, padding=1)
        plain.load_state_dict(block.state_dict())
        tensors = [Tensor(x, requires_grad=True) for _ in range(2)]
        y_fused = block(tensors[0])
        y_plain = nn.Sequential(plain, nn.MaxPool2d(2), nn.ReLU())(tensors[1])
        (y_fused * y_fused).sum().backward()
        (y_plain * y_plain).sum().backward()
        np.testing.assert_allclose(y_fused.data, y_plain.data, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(tensors[0].grad, tensors[1].grad, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(block.weight.grad, plain.weight.grad, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(block.bias.grad, plain.bias.grad, rtol=1e-4, atol=1e-3)
        x = y_fused.data


def test_fused_conv_block_gives_the_same_bits_for_any_thread_count(threads, both_paths):
    """Batches longer than a chunk are cut the same way at any thread count, and the chunks'
    weight gradients summed in order; the result matches the reference too."""
    from nnpipe.autograd.ops.conv_block import CHUNK

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2 * CHUNK + 3, 4, 4, 6)).astype(np.float32)
    W, b = rng.standard_normal((5, 4, 3, 3)).astype(np.float32), rng.standard_normal(5).astype(np.float32)

    def block():
        tensors = [Tensor(a, requires_grad=True) for a in (x, W, b)]
        y = F.conv2d_relu_pool(*tensors, padding=1)
        (y * y).sum().backward()
        return (y.data, *(t.grad for t in tensors))

    one, two = threads(block)
    for a, b_ in zip(one, two):
        np.testing.assert_array_equal(a, b_)
    reference, compiled = both_paths(block)
    for got, expected in zip(compiled, reference):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_importing_nnpipe_first_shortens_openblas_idle_spin():
    """OpenBLAS's idle threads must not spin for 0.1 s beside the kernel threads; a value the
    user set is kept."""
    import os
    import subprocess
    import sys

    code = "import nnpipe, os; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "20"
    env["OPENBLAS_THREAD_TIMEOUT"] = "8"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "8"


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
