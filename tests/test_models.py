"""Models build from config dicts, fail clearly on bad names, and train to known losses."""
import numpy as np
import pytest

import nnpipe.autograd.functions as F
import nnpipe.nn as nn
import nnpipe.optim as optim
from nnpipe.autograd import Tensor, no_grad
from nnpipe.models import build_model


def rng():
    return np.random.default_rng(0)


def test_mlp_builds_from_dict():
    model = build_model({"name": "mlp", "hidden": [32, 16], "dropout": 0.1, "batch_norm": True}, rng(), (1, 28, 28), 10)
    out = model(Tensor(np.zeros((5, 1, 28, 28), np.float32)))
    assert out.shape == (5, 10) and out.dtype == np.float32
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model.modules()) == 2


@pytest.mark.parametrize("input_shape", [(1, 28, 28), (3, 32, 32)])
def test_cnn_builds_for_grey_and_rgb(input_shape):
    model = build_model({"name": "cnn", "channels": [8, 16], "hidden": [32]}, rng(), input_shape, 10)
    assert model(Tensor(np.zeros((2,) + input_shape, np.float32))).shape == (2, 10)


def test_cnn_honours_batch_norm_and_the_activations_gain_as_the_mlp_does():
    model = build_model({"name": "cnn", "channels": [32], "hidden": [16], "activation": "tanh", "batch_norm": True},
                        rng(), (1, 28, 28), 10)
    layers = [type(layer).__name__ for layer in model]
    assert layers == ["Conv2d", "BatchNorm2d", "MaxPool2d", "Tanh", "Flatten", "Linear", "BatchNorm1d", "Tanh",
                      "Linear"]
    # He-uniform weights within gain·√(3/fan_in), near it: tanh's gain 5/3, not ReLU's √2
    for layer, fan_in in ((model[0], 9), (model[5], 32 * 14 * 14)):
        largest = abs(layer.weight.data).max()
        assert np.sqrt(2) * np.sqrt(3 / fan_in) < largest <= 5 / 3 * np.sqrt(3 / fan_in)


@pytest.mark.parametrize("fused", [True, False])
def test_cnn_blocks_of_two_convolutions_pool_after_the_second(fused):
    options = {"name": "cnn", "channels": [8, 16], "convs_per_block": 2, "hidden": [32], "batch_norm": not fused}
    model = build_model(options, rng(), (3, 32, 32), 10)
    layers = [type(layer).__name__ for layer in model][:8 if fused else 14]
    assert layers == (["Conv2d", "ReLU", "Conv2dReLUPool", "Conv2d", "ReLU", "Conv2dReLUPool", "Flatten",
                       "LinearReLU"] if fused else
                      ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "MaxPool2d", "ReLU",
                       "Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "MaxPool2d", "ReLU"])
    assert [model[i].weight.shape for i in (0, 2 if fused else 3)] == [(8, 3, 3, 3), (8, 8, 3, 3)]
    assert model(Tensor(np.zeros((2, 3, 32, 32), np.float32))).shape == (2, 10)


@pytest.mark.slow
def test_the_cifar_config_trains_on_cifar_shaped_batches(tmp_path):
    from helpers import train, write_cifar

    write_cifar(tmp_path, per_batch=40)
    train("configs/cifar10_cnn.yaml", "--set", f"data.root={tmp_path}", "--set", "data.val_split=40",
          "--set", "data.batch_size=32", "--set", "train.epochs=1", "--set", f"run.root={tmp_path / 'runs'}")
    (run,) = (tmp_path / "runs/cifar10_cnn").iterdir()
    assert (run / "checkpoints/best.npz").is_file()


def test_cnn_that_shrinks_the_image_to_nothing_is_refused():
    with pytest.raises(ValueError, match="shrink"):
        build_model({"name": "cnn", "channels": [4] * 6}, rng(), (1, 28, 28), 10)


def test_skipgram_builds_with_word2vec_initialisation():
    model = build_model({"name": "skipgram", "dim": 20}, rng(), vocab_size=100)
    assert np.abs(model.center.weight.data).max() <= 0.5 / 20
    assert not model.context.weight.data.any()
    batch = (np.array([1, 2]), np.array([3, 4]), np.array([0, 1]), np.array([[5, 6, 7], [8, 9, 1]]))
    loss = nn.build_loss("sgns")(model(batch))
    assert loss.item() == pytest.approx(2 * 4 * np.log(2))  # all dot products are 0; summed over pairs
    assert nn.build_loss("sgns", reduction="mean")(model(batch)).item() == pytest.approx(4 * np.log(2))
    loss.backward()
    assert model.vectors().shape == (100, 20)


@pytest.mark.parametrize("name, default", [("skipgram", 0.5), ("cbow", 4.0)])
def test_word_vectors_start_within_their_init_range(name, default):
    """Input vectors U(-r/D, r/D): word2vec.c's r = 0.5 for skip-gram, 4 for CBOW, or the
    config's; the output vectors start at zero; a range must be positive."""
    for options, bound in (({}, default), ({"init_range": 2.0}, 2.0)):
        model = build_model({"name": name, "dim": 20, **options}, rng(), vocab_size=1000)
        largest = np.abs(model.center.weight.data).max()
        assert 0.99 * bound / 20 < largest <= bound / 20 and not model.context.weight.data.any()
    with pytest.raises(ValueError, match="init_range"):
        build_model({"name": name, "init_range": 0}, rng(), vocab_size=10)


def test_unknown_model_and_option_are_clear_errors():
    with pytest.raises(ValueError, match=r"unknown model 'resnet'; valid: "):
        build_model({"name": "resnet"}, rng(), (1, 28, 28), 10)
    with pytest.raises(ValueError, match="no option hiden; valid: activation"):
        build_model({"name": "mlp", "hiden": [3]}, rng(), (1, 28, 28), 10)
    with pytest.raises(ValueError, match="model 'mlp' option activation: must be one of relu, leaky_relu"):
        build_model({"name": "mlp", "activation": "swish"}, rng(), (1, 28, 28), 10)


def spiral(points=100, classes=3, seed=0):
    """The course's spiral data set: three interleaved arms in the plane."""
    generator = np.random.default_rng(seed)
    X = np.zeros((points * classes, 2))
    y = np.repeat(np.arange(classes), points)
    for k in range(classes):
        r = np.linspace(0.0, 1, points)
        t = np.linspace(k * 4, (k + 1) * 4, points) + generator.standard_normal(points) * 0.2
        X[k * points:(k + 1) * points] = np.c_[r * np.sin(t), r * np.cos(t)]
    return X.astype(np.float32), y


def train_spiral_net():
    """(initial parameters, final loss, accuracy) of the course's two-layer net, 300 SGD steps."""
    X, y = spiral()
    model = nn.Sequential(nn.Linear(2, 100, rng=rng()), nn.ReLU(), nn.Linear(100, 3, rng=rng()))
    initial = [p.data.copy() for p in model.parameters()]
    opt = optim.SGD(model.parameters(), lr=1.0)
    for _ in range(300):
        loss = F.cross_entropy(model(Tensor(X)), y)
        model.zero_grad()
        loss.backward()
        opt.step()
    with no_grad():
        accuracy = (model(Tensor(X)).data.argmax(1) == y).mean()
    return initial, loss.item(), accuracy


def test_two_layer_net_on_spiral_reaches_known_loss():
    _, loss, accuracy = train_spiral_net()
    assert loss < 0.35 and accuracy > 0.9


@pytest.mark.slow
def test_two_layer_net_on_spiral_matches_torch():
    torch = pytest.importorskip("torch")
    X, y = spiral()
    initial, loss, _ = train_spiral_net()
    W1, b1, W2, b2 = (torch.tensor(a, requires_grad=True) for a in initial)
    reference = torch.optim.SGD([W1, b1, W2, b2], lr=1.0)
    for _ in range(300):
        ref_loss = torch.nn.functional.cross_entropy(torch.relu(torch.tensor(X) @ W1 + b1) @ W2 + b2, torch.tensor(y))
        reference.zero_grad()
        ref_loss.backward()
        reference.step()
    assert loss == pytest.approx(ref_loss.item(), rel=1e-3)
