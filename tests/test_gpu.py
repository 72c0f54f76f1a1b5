"""The GPU path: the strict fake device itself, the fixes it found, no host reads per
step, and CPU-vs-device agreement of optimizers, layers, training, resume and checkpoints.

Tests marked ``gpu`` run on CuPy where a GPU is usable and on the fake device elsewhere
(the ``gpu_module`` fixture), so CPU-only CI runs every one of them.
"""
import io
import sys

import numpy as np
import pytest

import nnpipe.autograd.functions as F
from nnpipe import backend, nn, optim
from nnpipe.autograd import CounterRandom, SparseRows, Tensor
from nnpipe.config import load_config
from nnpipe.testing import fakegpu
from nnpipe.training import Interrupted, Trainer
from nnpipe.training.checkpoint import load_model_weights, read_state

from helpers import skipgram_config, write_config

pytestmark = pytest.mark.gpu


@pytest.fixture
def fake_gpu(monkeypatch):
    """The fake device, even where a real GPU is present (it counts host reads)."""
    monkeypatch.setenv("NNPIPE_FAKE_GPU", "1")
    monkeypatch.setattr(backend, "_cupy", None)
    return backend.cupy_module()


def _on(module, array):
    return module.asarray(np.asarray(array, dtype=np.float32))


# ---- the fake device is strict ---------------------------------------------------------
def test_fake_refuses_implicit_host_conversion_host_arrays_and_numpy_functions(fake_gpu):
    a = fakegpu.asarray(np.arange(6, dtype=np.float32))
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(a)
    with pytest.raises(TypeError, match="device array"):  # a checkpoint that forgot to_numpy
        np.savez(io.BytesIO(), a=a)
    with pytest.raises(TypeError, match="Unsupported type"):
        a + np.ones(6, np.float32)
    with pytest.raises(TypeError, match="Unsupported type"):
        a[np.array([0, 1])]
    with pytest.raises(TypeError, match="numpy.concatenate"):
        np.concatenate([a, a])
    assert isinstance(a * np.float32(2), fakegpu.ndarray)  # NumPy scalars are scalars, as in CuPy
    assert isinstance(a.sum(), fakegpu.ndarray) and a.sum().ndim == 0  # reductions stay on the device
    assert not hasattr(a.flags, "writeable")


def test_fake_offers_only_what_cupy_has(fake_gpu):
    a = fakegpu.zeros((2, 3), dtype=np.float32)
    with pytest.raises(TypeError, match="writeable"):  # the conv crash: CuPy's as_strided has no writeable=
        fakegpu.lib.stride_tricks.as_strided(a, (2, 3), a.strides, writeable=False)
    with pytest.raises(TypeError, match="sparse"):  # the gather crash: cupy.indices has no sparse=
        fakegpu.indices((2, 3), sparse=True)
    with pytest.raises(AttributeError):
        fakegpu.errstate
    assert fakegpu.API["version"] == "14.2.0"


def test_fake_counts_reads_and_refuses_arrays_of_another_gpu(fake_gpu):
    a = fakegpu.ones(3, dtype=np.float32)
    before = fakegpu.host_reads()
    float(a.sum()), a.get(), fakegpu.asnumpy(a), bool(a[0] > 0)
    assert fakegpu.host_reads() - before == 4
    with fakegpu.cuda.Device(1):
        with pytest.raises(ValueError, match="different from the current device"):
            a + 1
        assert (fakegpu.asarray(a) + 1).device.id == 1  # an explicit copy is how arrays move


# ---- what the fake device found --------------------------------------------------------
def test_device_arrays_are_recognised_before_the_backend_has_looked_for_a_gpu(monkeypatch):
    """``Tensor(cupy_array)`` and ``to_numpy`` in library use, before any device was parsed."""
    monkeypatch.delenv("NNPIPE_FAKE_GPU", raising=False)
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setitem(sys.modules, "cupy", fakegpu)  # as after a plain ``import cupy``
    array = fakegpu.asarray(np.arange(4, dtype=np.float32))
    t = Tensor(array, requires_grad=True)
    (t * t).sum().backward()
    assert backend.is_cupy_array(t.grad) and backend.get_array_module(t.data) is fakegpu
    np.testing.assert_array_equal(backend.to_numpy(t.grad), 2 * np.arange(4))


@pytest.mark.parametrize("scalar", [np.float32(2.5), np.float64(2.5), np.int64(3), 2.5])
def test_numpy_scalars_combine_with_device_tensors(gpu_module, scalar):
    x = Tensor(_on(gpu_module, [1.0, 2.0]), requires_grad=True)
    y = (x * scalar + scalar - x / scalar) ** 2
    y.sum().backward()
    assert backend.is_cupy_array(y.data) and y.dtype == np.float32
    s = float(scalar)
    np.testing.assert_allclose(backend.to_numpy(x.grad), 2 * (np.array([1, 2]) * (s - 1 / s) + s) * (s - 1 / s),
                               rtol=1e-6)


def test_strided_convolution_and_gather_run_on_the_device(gpu_module):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 9, 9)).astype(np.float32), rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    index = rng.integers(0, 4, (2, 4, 5, 5))
    results = []
    for module in (np, gpu_module):
        tx, tw = Tensor(_on(module, x) if module is not np else x, requires_grad=True), Tensor(
            _on(module, w) if module is not np else w, requires_grad=True)
        out = F.gather(F.conv2d(tx, tw, stride=2, padding=1), index, axis=1)
        (out * out).sum().backward()
        results.append([backend.to_numpy(a) for a in (out.data, tx.grad, tw.grad)])
    for on_device, on_cpu in zip(*results[::-1]):
        np.testing.assert_allclose(on_device, on_cpu, rtol=1e-5, atol=1e-5)


def test_repeated_rows_sum_the_same_on_the_device_every_time(gpu_module):
    rng = np.random.default_rng(2)
    rows = rng.integers(0, 50, 4000)
    values = rng.standard_normal((4000, 8)).astype(np.float32)
    expected = SparseRows(rows, values, (50, 8)).coalesce()
    first = SparseRows(_on(gpu_module, rows), _on(gpu_module, values), (50, 8)).coalesce()
    again = SparseRows(_on(gpu_module, rows), _on(gpu_module, values), (50, 8)).coalesce()
    np.testing.assert_array_equal(backend.to_numpy(first.rows), expected.rows)
    np.testing.assert_allclose(backend.to_numpy(first.values), expected.values, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(backend.to_numpy(first.values), backend.to_numpy(again.values))


def test_dropout_masks_are_drawn_on_the_device_and_equal_the_cpus(gpu_module):
    x = np.ones((64, 33), np.float32)
    cpu = F.dropout(Tensor(x), 0.3, rng=CounterRandom(7)).data
    device = F.dropout(Tensor(_on(gpu_module, x)), 0.3, rng=CounterRandom(7)).data
    assert backend.is_cupy_array(device)
    np.testing.assert_array_equal(backend.to_numpy(device), cpu)
    assert abs((cpu == 0).mean() - 0.3) < 0.03 and set(np.unique(cpu)) == {0, np.float32(1 / 0.7)}


# ---- CPU against the device ------------------------------------------------------------
@pytest.mark.parametrize("name,options", [("sgd", {}), ("momentum", {"nesterov": True}), ("adam", {}),
                                          ("adagrad", {}), ("rmsprop", {}), ("adamw", {})])
def test_optimizers_dense_and_sparse_match_numpy(gpu_module, name, options):
    rng = np.random.default_rng(3)
    weight, grads = rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((5, 6, 4)).astype(np.float32)
    rows, row_grads = rng.integers(0, 6, (5, 7)), rng.standard_normal((5, 7, 4)).astype(np.float32)
    results = []
    for module in (np, gpu_module):
        dense, sparse = (nn.Parameter(module.asarray(weight.copy())) for _ in range(2))
        optimizers = [optim.build_optimizer(name, [p], lr=0.01, **options) for p in (dense, sparse)]
        for step in range(5):
            dense.grad = module.asarray(grads[step])
            sparse.grad = SparseRows(module.asarray(rows[step]), module.asarray(row_grads[step]), (6, 4))
            for optimizer in optimizers:
                optimizer.step()
        results.append([backend.to_numpy(p.data) for p in (dense, sparse)])
    for on_device, on_cpu in zip(results[1], results[0]):
        np.testing.assert_allclose(on_device, on_cpu, rtol=1e-5, atol=1e-6)


def test_clipping_and_batch_norm_match_numpy(gpu_module):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 3, 4, 4)).astype(np.float32)
    results = []
    for module in (np, gpu_module):
        layer = nn.BatchNorm2d(3)
        if module is not np:
            layer.to("cuda")
        tx = Tensor(module.asarray(x), requires_grad=True)
        (layer(tx) ** 2).sum().backward()
        norm = optim.clip_grad_norm(layer.parameters() + [tx], 0.5)
        optim.clip_grad_value([tx], 0.01)
        evaluated = layer.eval()(Tensor(module.asarray(x))).data
        results.append([backend.to_numpy(a) for a in (norm, tx.grad, layer.weight.grad, layer.running_var, evaluated)])
    for on_device, on_cpu in zip(results[1], results[0]):
        np.testing.assert_allclose(on_device, on_cpu, rtol=1e-5, atol=1e-6)


def _trainer(tmp_path, device, config_path):
    trainer = Trainer(load_config(config_path), run_dir=tmp_path / f"run-{device}", device=device, quiet=True)
    trainer.start_run()
    return trainer


def _steps(trainer, count):
    batches = trainer.task.batches()
    for _ in range(count):
        batch, _ = next(batches)
        trainer.train_step(batch)
    return {name: backend.to_numpy(p.data) for name, p in trainer.model.named_parameters()}


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mlp", "cnn", "skipgram"])
def test_twenty_training_steps_agree_between_cpu_and_device(tmp_path, gpu_module, model):
    if model == "skipgram":  # the device takes the reference path, so the CPU does too (not the fused update)
        path = skipgram_config(tmp_path, fused_update=False)
    else:
        path = write_config(tmp_path, model={"name": model, "hidden": [16], "dropout": 0.2,
                                             **({"channels": [4]} if model == "cnn" else {})},
                            train={"grad_clip": 1.0})
    cpu, device = (_steps(_trainer(tmp_path, d, path), 20) for d in ("cpu", "cuda"))
    for name in cpu:
        np.testing.assert_allclose(device[name], cpu[name], rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.slow
def test_resume_on_the_device_is_exact_and_its_checkpoint_evaluates_on_the_cpu(tmp_path, gpu_module):
    path = write_config(tmp_path, train={"epochs": 2, "grad_clip": 1.0})
    whole = _trainer(tmp_path, "cuda", path)
    whole.fit()
    stopped = Trainer(load_config(path), run_dir=tmp_path / "stopped", device="cuda", quiet=True)
    stopped.start_run()
    stopped.callbacks.append(lambda t: setattr(t, "stop_requested", t.step == 57))  # mid-epoch, as Ctrl-C
    with pytest.raises(Interrupted):
        stopped.fit()
    resumed = Trainer(load_config(path), device="cuda", quiet=True)
    resumed.resume(tmp_path / "stopped" / "checkpoints" / "last.npz")
    resumed.fit()
    for name, p in whole.model.named_parameters():
        np.testing.assert_array_equal(backend.to_numpy(dict(resumed.model.named_parameters())[name].data),
                                      backend.to_numpy(p.data))
    state = read_state(tmp_path / "run-cuda" / "checkpoints" / "last.npz")
    assert all(isinstance(v, np.ndarray) for v in state["model"].values())  # saved as host arrays
    on_cpu = Trainer(load_config(path), device="cpu", quiet=True)
    load_model_weights(on_cpu.model, tmp_path / "run-cuda" / "checkpoints" / "best.npz")
    device_metrics = whole.task.evaluate(whole.model, whole.loss_fn, "test", whole.comm)
    cpu_metrics = on_cpu.task.evaluate(on_cpu.model, on_cpu.loss_fn, "test", on_cpu.comm)
    assert abs(cpu_metrics["accuracy"] - device_metrics["accuracy"]) < 1e-3


def test_a_second_gpu_holds_the_whole_run(tmp_path, gpu_module):
    """``cuda:1``: batches, optimizer state and outputs must live there too (the fake GPU
    refuses any array of GPU 0 met while GPU 1 is current)."""
    if gpu_module.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("needs two GPUs (the fake device has two)")
    trainer = _trainer(tmp_path, "cuda:1", write_config(tmp_path, train={"epochs": 1, "grad_clip": 1.0}))
    try:
        summary = trainer.fit()
        assert summary["status"] == "completed"
        assert all(p.data.device.id == 1 for p in trainer.model.parameters())
    finally:
        gpu_module.cuda.Device(0).use()


# ---- no host reads per step ------------------------------------------------------------
def _reads_per_step(trainer, counter):
    seen = []
    trainer.callbacks.append(lambda t: seen.append(counter()))
    trainer.fit()
    return np.diff(seen)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_a_training_step_reads_the_host_once_per_log_interval(tmp_path, fake_gpu, model):
    log_every = 10
    path = write_config(tmp_path, model={"name": model, "hidden": [16], "dropout": 0.2,
                                         **({"channels": [4]} if model == "cnn" else {})},
                        train={"epochs": 1, "log_every": log_every, "grad_clip": 1.0})
    reads = _reads_per_step(_trainer(tmp_path, "cuda", path), fakegpu.host_reads)
    assert len(reads) > 5 * log_every
    assert reads.sum() <= len(reads) // log_every + 1, reads  # the log line's one read, nothing per step


@pytest.mark.slow
def test_skipgram_steps_read_the_host_once_per_log_interval(tmp_path, fake_gpu):
    trainer = _trainer(tmp_path, "cuda", skipgram_config(tmp_path, log_every=10))
    seen = []
    trainer.callbacks.append(lambda t: seen.append((fakegpu.host_reads(), fakegpu.size_syncs())))
    trainer.fit()
    reads, sizes = np.diff(np.array(seen), axis=0).T
    assert reads.sum() <= len(reads) // 10 + 1, reads
    assert sizes.max() <= 2  # the size of each table's summed rows, nothing else
