"""The autograd engine itself: accumulation, graph walking, memory, dtypes (the course's worked
examples are checked in test_examples.py)."""
import gc
import tracemalloc

import numpy as np
import pytest

import nnpipe.autograd.functions as F
from nnpipe import backend
from nnpipe.autograd import SparseRows, Tensor, no_grad


def test_gradients_accumulate_over_uses_and_calls():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 5.0])
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad, [5.0, 7.0])


def test_deep_chain_has_no_recursion_limit():
    x = Tensor(np.float64(0.5), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0
    y.backward()
    assert float(x.grad) == pytest.approx(1.0001**10_000, rel=1e-9)


def test_graph_is_freed_after_backward_without_gc():
    rng = np.random.default_rng(0)
    W1 = Tensor(rng.standard_normal((64, 32)).astype(np.float32), requires_grad=True)
    W2 = Tensor(rng.standard_normal((32, 10)).astype(np.float32), requires_grad=True)
    x = rng.standard_normal((16, 64)).astype(np.float32)
    labels = rng.integers(0, 10, 16)

    def step():
        loss = F.cross_entropy(F.relu(F.linear(Tensor(x), W1)) @ W2, labels)
        loss.backward()
        W1.grad = W2.grad = None

    gc.disable()
    try:
        for _ in range(20):  # warm-up: caches and allocator pools settle
            step()
        tracemalloc.start()
        step()
        baseline, _ = tracemalloc.get_traced_memory()
        for _ in range(200):
            step()
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        gc.enable()
    assert current - baseline < 50_000


def test_second_backward_needs_retain_graph():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    z = (x * x).sum()
    x.grad = None
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad, [4.0, 8.0])


def test_mutating_a_saved_array_in_place_is_refused():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = F.exp(x)  # Exp saves its output for backward
    y = (h * h).sum()
    with pytest.raises(ValueError, match="read-only"):
        h.data[0] = 0.0
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * np.exp(2 * np.array([1.0, 2.0])))


def test_leaf_grads_are_writable_and_not_shared():
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    (a + b).sum().backward()
    a.grad *= 5
    np.testing.assert_allclose(b.grad, np.ones(3))


def test_no_grad_records_nothing():
    x = Tensor(np.ones(3), requires_grad=True)
    with no_grad():
        y = x * 2
    assert y.creator is None and not y.requires_grad


def test_only_float_tensors_can_require_grad():
    with pytest.raises(TypeError, match="floating"):
        Tensor(np.array([1, 2]), requires_grad=True)


def test_python_scalars_and_lists_do_not_promote_to_float64():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    y = (x * 2.5 + 1) / 3.0 - 0.5
    y = y**2 + 2.0**x
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(3.0).dtype == np.float32


def test_integer_inputs_are_not_silently_made_float64():
    counts = Tensor(np.arange(3, dtype=np.int64))
    scaled = counts * 0.5  # an int tensor meeting a float scalar becomes float32
    assert scaled.dtype == np.float32


def test_embedding_gradient_is_sparse_rows():
    W = Tensor(np.zeros((1000, 4), np.float32), requires_grad=True)
    out = F.embedding(W, np.array([[5, 7], [5, 9]]))
    out.sum().backward()
    assert isinstance(W.grad, SparseRows)
    merged = W.grad.coalesce()
    np.testing.assert_array_equal(merged.rows, [5, 7, 9])
    np.testing.assert_allclose(merged.values, [[2] * 4, [1] * 4, [1] * 4])


def test_sparse_rows_add_to_dense_gradient():
    W = Tensor(np.ones((4, 2)), requires_grad=True)
    loss = F.embedding(W, np.array([1, 1, 3])).sum() + (W * 2).sum()
    loss.backward()
    np.testing.assert_allclose(W.grad, [[2, 2], [4, 4], [2, 2], [3, 3]])


def test_dropout_scales_kept_entries_and_is_seeded():
    x = Tensor(np.ones((200, 50), np.float32), requires_grad=True)
    y = F.dropout(x, 0.3, rng=np.random.default_rng(0))
    kept = y.data != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y.data[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)
    again = F.dropout(x, 0.3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(again.data, y.data)
    assert F.dropout(x, 0.3, training=False) is x


def test_gradcheck_reports_a_wrong_rule():
    from nnpipe.autograd import Function, gradcheck

    class WrongSquare(Function):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, gy):
            return gy * self.x  # missing the factor 2

    with pytest.raises(AssertionError, match="input 0"):
        gradcheck(lambda x: WrongSquare()(x), [np.array([1.0, 2.0])])


def test_unknown_device_and_missing_cuda_are_clear_errors():
    with pytest.raises(backend.DeviceError, match="unknown device"):
        backend.parse_device("tpu")
    if not backend.cuda_available():
        with pytest.raises(backend.DeviceError, match="CuPy|GPU"):
            backend.parse_device("cuda")
    expected = "cuda:0" if backend.cuda_available() else "cpu"
    assert backend.parse_device("auto") == expected


def test_auto_device_follows_gpu_availability(monkeypatch, gpu_module):
    assert backend.parse_device("auto") == "cuda:0"
    assert backend.parse_device("auto", local_rank=3) == f"cuda:{3 % gpu_module.cuda.runtime.getDeviceCount()}"
    monkeypatch.setattr(backend, "cuda_available", lambda: False)
    assert backend.parse_device("auto") == "cpu"


@pytest.mark.gpu
def test_tensor_moves_between_devices(gpu_module):
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    g = x.to("cuda")
    assert g.device == "cuda:0"
    (g * g).sum().backward()
    np.testing.assert_allclose(backend.to_numpy(g.grad), 2 * x.data)
    assert g.to("cpu").device == "cpu"


@pytest.mark.parametrize("keys", [
    np.array([0, 0, 0, 2, 2, 5, 9, 9, 9, 9]),  # few segments: add.reduceat
    np.sort(np.random.default_rng(0).integers(0, 400, 3000)),  # many segments: grouped by length
])
def test_segment_sum_matches_a_loop(keys):
    values = np.random.default_rng(1).standard_normal((len(keys), 3)).astype(np.float32)
    unique, summed = backend.segment_sum(keys, values)
    np.testing.assert_array_equal(unique, np.unique(keys))
    expected = np.array([values[keys == k].sum(axis=0) for k in unique])
    np.testing.assert_allclose(summed, expected, rtol=1e-5, atol=1e-5)
    assert summed.dtype == np.float32
