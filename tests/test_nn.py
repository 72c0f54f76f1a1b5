"""Modules and layers: registration, state dicts, modes, and agreement with torch.nn."""
import numpy as np
import pytest

import nnpipe.nn as nn
from nnpipe.autograd import Tensor


def test_parameters_are_registered_in_stable_dotted_order():
    model = nn.Sequential(nn.Linear(4, 3, rng=np.random.default_rng(0)), nn.ReLU(), nn.Linear(3, 2))
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert model.num_parameters() == 4 * 3 + 3 + 3 * 2 + 2
    assert "# 23 params" in repr(model)


def test_initialisers_are_seeded_and_float32():
    a = nn.Linear(10, 5, rng=np.random.default_rng(3))
    b = nn.Linear(10, 5, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert a.weight.dtype == np.float32


@pytest.mark.parametrize("name,expected_std", [
    ("kaiming_uniform", np.sqrt(2 / 400)), ("kaiming_normal", np.sqrt(2 / 400)),
    ("xavier_uniform", np.sqrt(2 / 600)), ("xavier_normal", np.sqrt(2 / 600)),
])
def test_initialiser_scales(name, expected_std):
    W = nn.init.initialise(name, np.random.default_rng(0), (400, 200), 400, 200)
    assert W.std() == pytest.approx(expected_std, rel=0.03)


def test_state_dict_round_trip_and_clear_errors():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(4, 3, rng=rng), nn.BatchNorm1d(3))
    other = nn.Sequential(nn.Linear(4, 3, rng=np.random.default_rng(1)), nn.BatchNorm1d(3))
    other.load_state_dict({k: v.copy() for k, v in model.state_dict().items()})
    for (_, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a, b)
    state = dict(model.state_dict())
    state.pop("0.bias")
    state["extra"] = np.zeros(1)
    with pytest.raises(nn.StateDictError, match=r"missing keys: 0\.bias; unexpected keys: extra"):
        other.load_state_dict(state)
    bad = dict(model.state_dict(), **{"0.weight": np.zeros((3, 4))})
    with pytest.raises(nn.StateDictError, match=r"0\.weight: shape \(3, 4\)"):
        other.load_state_dict(bad)


def test_train_eval_modes_switch_dropout_and_batchnorm():
    model = nn.Sequential(nn.BatchNorm1d(3), nn.Dropout(0.5, rng=np.random.default_rng(0)))
    x = Tensor(np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32))
    model.eval()
    assert all(not m.training for m in model.modules())
    np.testing.assert_allclose(model(x).data, x.data / np.sqrt(1 + 1e-5), rtol=1e-6)
    model.train()
    assert (model(x).data == 0).any()


@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm1d, (16, 3)), (nn.BatchNorm2d, (4, 3, 5, 5))])
def test_batchnorm_matches_torch_in_both_modes(cls, shape):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(shape) * 3 + 1
    ours = cls(3, dtype=np.float64)
    theirs = getattr(torch.nn, cls.__name__)(3).double()
    for _ in range(3):
        out = ours(Tensor(x, requires_grad=True))
        ref = theirs(torch.tensor(x))
        np.testing.assert_allclose(out.data, ref.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), atol=1e-12)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), atol=1e-10)


def test_layers_match_torch_functional_forward():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1, rng=rng)
    conv.bias.data[:] = rng.standard_normal(4)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(conv.weight.data), torch.tensor(conv.bias.data),
                                     stride=2, padding=1)
    np.testing.assert_allclose(conv(Tensor(x)).data, ref.numpy(), atol=1e-5)
    for ours, theirs in [(nn.GELU(), torch.nn.GELU("tanh")), (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
                         (nn.Tanh(), torch.nn.Tanh()), (nn.Sigmoid(), torch.nn.Sigmoid())]:
        np.testing.assert_allclose(ours(Tensor(x)).data, theirs(torch.tensor(x)).numpy(), atol=1e-6)
    expected = torch.nn.AvgPool2d(2)(torch.tensor(x)).numpy()
    np.testing.assert_allclose(nn.AvgPool2d(2)(Tensor(x)).data, expected, atol=1e-6)


def test_embedding_initialisation_and_sparse_grad():
    emb = nn.Embedding(100, 8, rng=np.random.default_rng(0))
    assert np.abs(emb.weight.data).max() <= 0.5 / 8
    zero = nn.Embedding(100, 8, scale=0)
    assert not zero.weight.data.any()
    emb(np.array([3, 3, 5])).sum().backward()
    assert emb.weight.grad.coalesce().rows.tolist() == [3, 5]


def test_unknown_activation_and_loss_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid: relu, leaky_relu"):
        nn.activation("swish")
    with pytest.raises(ValueError, match="valid: cross_entropy, glove, multiclass_hinge, nll, ppmi_svd, sgns$"):
        nn.build_loss("huber")
    with pytest.raises(ValueError, match="no option smoothing; valid: label_smoothing"):
        nn.build_loss("cross_entropy", smoothing=0.1)
    loss = nn.build_loss("cross_entropy", label_smoothing=0.1)
    value = loss(Tensor(np.zeros((2, 4), np.float32)), np.array([0, 1]))
    assert value.item() == pytest.approx(np.log(4), rel=1e-6)
