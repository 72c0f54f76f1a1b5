"""Optimizers against hand-computed closed forms and torch.optim; sparse row updates;
schedules; clipping."""
import math

import numpy as np
import pytest

import nnpipe.autograd.functions as F
import nnpipe.optim as optim
from nnpipe.autograd import SparseRows
from nnpipe.nn import Parameter

W0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -0.2], [2.0, 1.0]])
Y = np.array([[0.1, 0.2, 0.3], [-0.5, 0.0, 1.0], [0.2, 0.2, 0.2], [1.0, -1.0, 0.0]])


def _loss(W):
    return F.mse(F.matmul(X, W), Y)


def _grad(W):
    """d/dW of mean((XW - Y)²), the closed form."""
    return 2 * X.T @ (X @ W - Y) / Y.size


def _hand_steps(name, steps=3, lr=0.1):
    """The slides' update rules written out directly."""
    W = W0.copy()
    a, b = np.zeros_like(W), np.zeros_like(W)
    for t in range(1, steps + 1):
        g = _grad(W)
        if name == "sgd":
            W = W - lr * g
        elif name == "momentum":
            a = 0.9 * a + g
            W = W - lr * a
        elif name == "nesterov":
            a = 0.9 * a + g
            W = W - lr * (g + 0.9 * a)
        elif name == "adagrad":
            a = a + g * g
            W = W - lr * g / (np.sqrt(a) + 1e-10)
        elif name == "rmsprop":
            a = 0.99 * a + 0.01 * g * g
            W = W - lr * g / (np.sqrt(a) + 1e-8)
        elif name in ("adam", "adamw"):
            if name == "adamw":
                W = W * (1 - lr * 0.01)
            a = 0.9 * a + 0.1 * g
            b = 0.999 * b + 0.001 * g * g
            W = W - lr * (a / (1 - 0.9**t)) / (np.sqrt(b / (1 - 0.999**t)) + 1e-8)
    return W


def _ours(name, steps=3, lr=0.1):
    W = Parameter(W0.copy())
    kind = {"nesterov": "momentum"}.get(name, name)
    options = {"momentum": {"momentum": 0.9}, "nesterov": {"momentum": 0.9, "nesterov": True}}.get(name, {})
    opt = optim.build_optimizer(kind, [W], lr=lr, **options)
    for _ in range(steps):
        opt.zero_grad()
        _loss(W).backward()
        opt.step()
    return W.data


def _torch(name, steps=3, lr=0.1):
    torch = pytest.importorskip("torch")
    W = torch.tensor(W0.copy(), requires_grad=True)
    make = {
        "sgd": lambda p: torch.optim.SGD(p, lr=lr),
        "momentum": lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9),
        "nesterov": lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True),
        "adagrad": lambda p: torch.optim.Adagrad(p, lr=lr),
        "rmsprop": lambda p: torch.optim.RMSprop(p, lr=lr),
        "adam": lambda p: torch.optim.Adam(p, lr=lr),
        "adamw": lambda p: torch.optim.AdamW(p, lr=lr),
    }
    opt = make[name]([W])
    for _ in range(steps):
        opt.zero_grad()
        ((torch.tensor(X) @ W - torch.tensor(Y)) ** 2).mean().backward()
        opt.step()
    return W.detach().numpy()


NAMES = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]


@pytest.mark.parametrize("name", NAMES)
def test_three_steps_equal_closed_form(name):
    np.testing.assert_allclose(_ours(name), _hand_steps(name), atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_three_steps_equal_torch_optim(name):
    np.testing.assert_allclose(_ours(name), _torch(name), atol=1e-6)


def test_weight_decay_is_l2_for_coupled_optimizers():
    W = Parameter(W0.copy())
    opt = optim.SGD([W], lr=0.1, weight_decay=0.5)
    _loss(W).backward()
    opt.step()
    np.testing.assert_allclose(W.data, W0 - 0.1 * (_grad(W0) + 0.5 * W0), atol=1e-12)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"])
def test_sparse_rows_update_equals_dense_on_touched_rows(name):
    rng = np.random.default_rng(0)
    table = rng.standard_normal((50, 4)).astype(np.float32)
    rows = np.array([3, 7, 3, 20])
    values = rng.standard_normal((4, 4)).astype(np.float32)
    sparse_param, dense_param = Parameter(table.copy()), Parameter(table.copy())
    sparse_param.grad = SparseRows(rows, values, table.shape)
    dense_param.grad = SparseRows(rows, values, table.shape).to_dense()
    for param in (sparse_param, dense_param):
        optim.build_optimizer(name, [param], lr=0.1).step()
    touched = np.unique(rows)
    np.testing.assert_allclose(sparse_param.data[touched], dense_param.data[touched], rtol=1e-6)
    untouched = np.setdiff1d(np.arange(50), touched)
    assert np.array_equal(sparse_param.data[untouched], table[untouched])  # bit-identical


def test_sparse_adam_keeps_state_only_where_touched():
    param = Parameter(np.ones((10, 2), np.float32))
    opt = optim.Adam([param], lr=0.1)
    param.grad = SparseRows(np.array([1]), np.ones((1, 2), np.float32), (10, 2))
    opt.step()
    assert np.flatnonzero(opt.state[0]["m"].any(axis=1)).tolist() == [1]


def test_optimizer_state_dict_round_trip_continues_identically():
    def run(split):
        W = Parameter(W0.copy())
        opt = optim.Adam([W], lr=0.05)
        for step in range(4):
            if step == split:
                saved = {k: v for k, v in opt.state_dict().items()}
                saved["state"] = [{k: a.copy() for k, a in s.items()} for s in saved["state"]]
                data = W.data.copy()
                W = Parameter(data)
                opt = optim.Adam([W], lr=0.05)
                opt.load_state_dict(saved)
            opt.zero_grad()
            _loss(W).backward()
            opt.step()
        return W.data

    assert np.array_equal(run(split=None), run(split=2))


def test_clip_grad_norm_and_value():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros((3, 2)))
    a.grad = np.array([3.0, 0.0])
    b.grad = SparseRows(np.array([1, 1]), np.array([[2.0, 0.0], [2.0, 0.0]]), (3, 2))
    norm = optim.clip_grad_norm([a, b], 1.0)
    assert norm == pytest.approx(5.0)
    total = math.sqrt((a.grad**2).sum() + (b.grad.values**2).sum())
    assert total == pytest.approx(1.0, rel=1e-5)
    a.grad = np.array([3.0, -0.1])
    optim.clip_grad_value([a], 0.5)
    np.testing.assert_array_equal(a.grad, [0.5, -0.1])


def test_unknown_optimizer_and_bad_lr():
    with pytest.raises(ValueError, match="valid: adagrad, adam, adamw, momentum, rmsprop, sgd"):
        optim.build_optimizer("lion", [], lr=0.1)
    with pytest.raises(ValueError, match="optimizer 'sgd' option lr: must be > 0, got 0"):
        optim.build_optimizer("sgd", [], lr=0)
    with pytest.raises(ValueError, match=r"schedule 'step' option step_size: must be >= 1, got 0"):
        optim.Schedule("step", 0.1, step_size=0)


def test_schedules_closed_forms():
    assert optim.Schedule("constant", 0.1)(50) == 0.1
    assert optim.Schedule("step", 1.0, step_size=10, gamma=0.5)(25) == 0.25
    assert optim.Schedule("exponential", 1.0, gamma=0.9)(2) == pytest.approx(0.81)
    cosine = optim.Schedule("cosine", 1.0, total=100, min_lr=0.1)
    assert cosine(0) == 1.0 and cosine(50) == pytest.approx(0.55) and cosine(100) == pytest.approx(0.1)
    linear = optim.Schedule("linear", 0.025, total=1000, min_lr=0.0001)
    assert linear(500) == pytest.approx(0.0125) and linear(999) == pytest.approx(0.0001)
    warm = optim.Schedule("constant", 1.0, warmup=4)
    assert [warm(t) for t in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    with pytest.raises(ValueError, match="unknown schedule"):
        optim.Schedule("poly", 1.0)


def test_schedules_match_torch_lr_schedulers():
    torch = pytest.importorskip("torch")
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=1.0)
    reference = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20, eta_min=0.05)
    ours = optim.Schedule("cosine", 1.0, total=20, min_lr=0.05)
    for t in range(20):
        assert ours(t) == pytest.approx(opt.param_groups[0]["lr"], abs=1e-12)
        opt.step()
        reference.step()


@pytest.mark.parametrize("name", ["sgd", "adagrad", "adam"])
def test_a_large_dense_update_runs_in_slices_with_the_bits_of_the_reference(name, both_paths):
    """A parameter over ``DENSE_CHUNK`` elements is updated in slices on the kernel
    threads: the same bits as the NumPy reference, on one thread or on several."""
    from nnpipe import kernels
    from nnpipe.optim.optimizers import DENSE_CHUNK

    rng = np.random.default_rng(0)
    start = rng.standard_normal((3, DENSE_CHUNK // 2 + 7)).astype(np.float32)  # 2 slices, an odd size
    grads = rng.standard_normal((3, *start.shape)).astype(np.float32)

    def three_steps():
        param = Parameter(start.copy())
        opt = optim.build_optimizer(name, [param], lr=0.01, weight_decay=1e-3)
        for grad in grads:
            param.grad = grad.copy()
            opt.step()
        return param.data

    with kernels.at_most_threads(1):
        one_thread = three_steps()
    reference, compiled = both_paths(three_steps)
    np.testing.assert_array_equal(compiled, reference)
    np.testing.assert_array_equal(one_thread, reference)
