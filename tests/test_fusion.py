"""Automatic fusion in ``nn.Sequential``: plain ``Conv2d → ReLU → MaxPool2d(2)`` (either
order of the last two) and ``Linear → ReLU`` run as the fused ops, with the same values and
gradients as the layers one by one, and the same state-dict names; ``ReLU → MaxPool2d``
elsewhere pools first; runs that do not match stay as they are."""
import numpy as np
import pytest

import nnpipe.autograd.functions as F
import nnpipe.nn as nn
from nnpipe.autograd import Tensor


def layer_by_layer(model, x):
    for layer in model:
        x = layer(x)
    return x


def plain_cnn(dtype, size):
    rng = np.random.default_rng(0)
    conv = dict(rng=rng, dtype=dtype)
    flat = 16 * (size // 4) ** 2
    return nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, **conv), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, 1, 1, **conv), nn.MaxPool2d(2, 2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(flat, 32, **conv), nn.ReLU(), nn.Linear(32, 10, **conv))


def gradients(model, x, forward):
    for parameter in model.parameters():
        parameter.grad = None
    inputs = Tensor(x, requires_grad=True)
    out = forward(model, inputs)
    (out * Tensor(np.linspace(-1, 1, out.size).reshape(out.shape).astype(x.dtype))).sum().backward()
    return out.data, [inputs.grad, *(p.grad for p in model.parameters())]


@pytest.mark.parametrize("dtype, size, tolerance", [(np.float32, 12, 1e-5), (np.float64, 12, 1e-11),
                                                    (np.float32, 14, 1e-5), (np.float64, 10, 1e-11)])
def test_a_plain_sequential_runs_fused_with_the_values_and_gradients_of_its_layers(dtype, size, tolerance,
                                                                                    monkeypatch):
    calls = {"conv2d_relu_pool": 0, "linear_relu": 0}
    for name in calls:
        original = getattr(F, name)
        monkeypatch.setattr(F, name, lambda *args, name=name, original=original, **kwargs: (
            calls.__setitem__(name, calls[name] + 1), original(*args, **kwargs))[1])
    model = plain_cnn(dtype, size)
    x = np.random.default_rng(1).normal(size=(5, 3, size, size)).astype(dtype)
    fused, fused_grads = gradients(model, x, lambda m, t: m(t))
    assert calls == {"conv2d_relu_pool": 2, "linear_relu": 1}
    plain, plain_grads = gradients(model, x, layer_by_layer)
    np.testing.assert_allclose(fused, plain, rtol=tolerance, atol=tolerance)
    for got, expected in zip(fused_grads, plain_grads):
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias",
                                        "9.weight", "9.bias"]


@pytest.mark.parametrize("layers", [
    lambda rng: [nn.Conv2d(3, 4, 3, 1, 1, bias=False, rng=rng), nn.ReLU(), nn.MaxPool2d(2)],  # no bias to fuse
    lambda rng: [nn.Conv2d(3, 4, 3, 1, 1, rng=rng), nn.ReLU(), nn.MaxPool2d(3)],
    lambda rng: [nn.Conv2d(3, 4, 3, 1, 1, rng=rng), nn.LeakyReLU(), nn.MaxPool2d(2)],
    lambda rng: [nn.Conv2d(3, 4, 3, 1, 1, rng=rng), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2)],
    lambda rng: [nn.Conv2d(3, 4, 3, 1, 1, rng=rng), nn.ReLU(), nn.AvgPool2d(2)],
    lambda rng: [nn.Conv2d(3, 4, 3, 1, 1, rng=rng), nn.ReLU(), nn.MaxPool2d(2, stride=1)],
])
def test_runs_that_are_not_the_pattern_stay_layer_by_layer(layers, monkeypatch):
    monkeypatch.setattr(F, "conv2d_relu_pool", lambda *args: pytest.fail("fused a run that is not the pattern"))
    model = nn.Sequential(*layers(np.random.default_rng(0)))
    x = Tensor(np.random.default_rng(1).normal(size=(2, 3, 8, 8)).astype(np.float32))
    np.testing.assert_array_equal(model(x).data, layer_by_layer(model, x).data)


@pytest.mark.parametrize("pool", [lambda: nn.MaxPool2d(2), lambda: nn.MaxPool2d(3, 2, 1)])
def test_relu_then_max_pooling_pools_first_with_the_same_values_and_gradients(pool):
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, 1, 1, bias=False, rng=rng), nn.BatchNorm2d(4), nn.ReLU(), pool())
    x = rng.integers(-2, 3, (3, 2, 8, 8)).astype(np.float32)  # ties, and windows of values <= 0
    fused, fused_grads = gradients(model, x, lambda m, t: m(t))
    plain, plain_grads = gradients(model, x, layer_by_layer)
    np.testing.assert_array_equal(fused, plain)
    for got, expected in zip(fused_grads, plain_grads):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("layers", [
    lambda rng: [nn.Conv2d(3, 8, 3, 1, 1, rng=rng), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2)],
    lambda rng: [nn.Conv2d(3, 8, 3, 1, 1, rng=rng), nn.BatchNorm2d(8), nn.MaxPool2d(2), nn.ReLU()],
    lambda rng: [nn.Flatten(), nn.Linear(192, 16, rng=rng), nn.BatchNorm1d(16), nn.ReLU()],
])
@pytest.mark.parametrize("mode", ["auto", "reference"])
def test_batch_norm_then_relu_in_training_is_one_op_with_the_bits_of_the_layers(layers, mode, monkeypatch):
    """``BatchNorm → ReLU`` (or → MaxPool2d → ReLU, the pooling after) in training: the ReLU
    inside the batch norm's passes, with the values, gradients and running statistics of the
    layers one by one, bit for bit."""
    from nnpipe import kernels

    monkeypatch.setattr(kernels, "_mode", mode)  # restored after the test
    calls = []
    original = F.batch_norm
    monkeypatch.setattr(F, "batch_norm", lambda *args: calls.append(args[-1]) or original(*args))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3, 8, 8)).astype(np.float32)
    results = []
    for forward in (lambda m, t: m(t), layer_by_layer):
        model = nn.Sequential(*layers(np.random.default_rng(0)))
        results.append((*gradients(model, x, forward), [b.copy() for _, b in model.named_buffers()]))
    assert calls == [True, False]  # fused, then the layers one by one
    (fused, fused_grads, fused_stats), (plain, plain_grads, plain_stats) = results
    np.testing.assert_array_equal(fused, plain)
    assert (fused == 0).any() and (fused > 0).any()
    for got, expected in [*zip(fused_grads, plain_grads), *zip(fused_stats, plain_stats)]:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("tail, fused_op", [(lambda: [nn.ReLU(), nn.MaxPool2d(2)], "conv2d_relu_pool"),
                                            (lambda: [nn.MaxPool2d(2), nn.ReLU()], "conv2d_relu_pool"),
                                            (lambda: [nn.ReLU()], "conv2d"), (lambda: [], "conv2d")])
@pytest.mark.parametrize("bias", [True, False])
def test_batch_norm_in_eval_mode_folds_into_the_convolution(tail, fused_op, bias, monkeypatch):
    """Conv2d → BatchNorm2d (eval) is one convolution with the normalisation in its weights
    and bias (fused further with a ReLU and pooling after it): the values and gradients of
    the layers one by one, and none of the batch norm's own arithmetic; training mode keeps
    the layers."""
    rng = np.random.default_rng(0)
    norm = nn.BatchNorm2d(6, dtype=np.float64)
    model = nn.Sequential(nn.Conv2d(3, 6, 3, 1, 1, bias=bias, rng=rng, dtype=np.float64), norm, *tail())
    norm.running_mean, norm.running_var = rng.normal(size=6), rng.uniform(0.5, 2, 6)
    norm.weight.data[...], norm.bias.data[...] = rng.uniform(0.5, 2, 6), rng.normal(size=6)
    x = rng.normal(size=(4, 3, 8, 8))
    model.eval()
    calls = []
    monkeypatch.setattr(nn.BatchNorm2d, "forward", lambda *a: calls.append("batch norm") or pytest.fail("not folded"))
    original = getattr(F, fused_op)
    monkeypatch.setattr(F, fused_op, lambda *args: calls.append(fused_op) or original(*args))
    fused, fused_grads = gradients(model, x, lambda m, t: m(t))
    assert calls == [fused_op]
    monkeypatch.undo()
    plain, plain_grads = gradients(model, x, layer_by_layer)
    np.testing.assert_allclose(fused, plain, rtol=1e-12, atol=1e-12)
    for got, expected in zip(fused_grads, plain_grads):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    model.train()
    monkeypatch.setattr(F, "batch_norm", lambda *args: calls.append("training") or pytest.fail("kept the layers"))
    with pytest.raises(pytest.fail.Exception, match="kept the layers"):
        model(Tensor(x))
