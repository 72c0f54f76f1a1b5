"""``nnpipe export``: safetensors under PyTorch's names that torch.nn.Sequential loads with
the same logits, ONNX graphs that ONNX Runtime runs with nnpipe's predictions, word
vectors, ``model.init_from`` back into nnpipe, and the errors of each."""
import json

import numpy as np
import pytest

from nnpipe.autograd import Tensor, no_grad
from nnpipe.backend import to_numpy
from nnpipe.data.files import REPO_DATA
from nnpipe.data.images import normalise
from nnpipe.data.mnist import load_idx_dataset
from nnpipe.models import build_model
from nnpipe.nn.onnx_graph import onnx_model
from nnpipe.nn.plain_layers import load_torch_state_dict, plain_layers, torch_state_dict
from nnpipe.runs import Run, prepare

from helpers import assert_clean_failure, invoke, only_run, skipgram_config, train

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")
MEAN, STD = [0.1307], [0.3081]

# every layer kind a registry model can hold: fused and plain blocks, batch norm, each activation
MODELS = {
    "mlp": {"name": "mlp", "hidden": [32, 16], "dropout": 0.2},
    "mlp_batch_norm_gelu": {"name": "mlp", "hidden": [24], "batch_norm": True, "activation": "gelu"},
    "mlp_leaky_relu": {"name": "mlp", "hidden": [24], "activation": "leaky_relu"},
    "cnn_fused": {"name": "cnn", "channels": [4, 8], "hidden": [16]},
    "cnn_batch_norm_tanh": {"name": "cnn", "channels": [4], "hidden": [16], "batch_norm": True,
                            "activation": "tanh"},
    "cnn_sigmoid_stride_pool3": {"name": "cnn", "channels": [4], "hidden": [], "activation": "sigmoid",
                                 "stride": 2, "pool": 3, "kernel_size": 5, "padding": 2},
}


@pytest.fixture(scope="module")
def pixels():
    _, (test_x, _) = load_idx_dataset(REPO_DATA)
    return test_x[:100]


def nnpipe_model(spec):
    """The registry's model, its batch-norm statistics moved off their defaults."""
    rng = np.random.default_rng(0)
    model = build_model(spec, rng, input_shape=(1, 28, 28), num_classes=10)
    for name, buffer in model.named_buffers():
        buffer[...] = rng.uniform(0.5, 1.5, buffer.shape) if name.endswith("var") else rng.normal(0, 0.2, buffer.shape)
    return model.eval()


def nnpipe_logits(model, pixels, mean=MEAN, std=STD):
    with no_grad():
        return model(Tensor(normalise(pixels, mean, std))).data


def torch_model(model, tmp_path):
    """torch.nn.Sequential of the plain layers, loaded from the safetensors file (strict)."""
    from nnpipe.data.weight_files import safetensors_bytes

    (tmp_path / "model.safetensors").write_bytes(safetensors_bytes(torch_state_dict(model)))
    layers = [getattr(torch.nn, layer.kind)(**layer.args) for layer in plain_layers(model)]
    plain = torch.nn.Sequential(*layers)
    plain.load_state_dict(safetensors_torch.load_file(tmp_path / "model.safetensors"))
    return plain.eval()


@pytest.mark.parametrize("name", MODELS)
def test_torch_loads_the_weights_and_gives_the_same_logits(name, pixels, tmp_path):
    model = nnpipe_model(MODELS[name])
    plain = torch_model(model, tmp_path)
    with torch.no_grad():
        expected = plain(torch.from_numpy(normalise(pixels, MEAN, STD))).numpy()
    np.testing.assert_allclose(nnpipe_logits(model, pixels), expected, rtol=1e-5, atol=1e-5)
    again = nnpipe_model({**MODELS[name]})
    for _, parameter in again.named_parameters():
        parameter.data[...] = 0
    load_torch_state_dict(again, {k: v.numpy() for k, v in plain.state_dict().items()
                                  if not k.endswith("num_batches_tracked")})
    for (key, value), (_, back) in zip(model.state_dict().items(), again.state_dict().items()):
        assert np.array_equal(value, back), key


@pytest.mark.parametrize("name", MODELS)
def test_onnx_runtime_gives_nnpipes_predictions(name, pixels):
    ort = pytest.importorskip("onnxruntime")
    model = nnpipe_model(MODELS[name])
    proto = onnx_model(model, (1, 28, 28), MEAN, STD, "test")
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    logits, probabilities = session.run(["logits", "probabilities"], {"pixels": pixels.astype(np.float32)})
    expected = nnpipe_logits(model, pixels)
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
    assert np.array_equal(logits.argmax(1), expected.argmax(1))
    np.testing.assert_allclose(probabilities.sum(1), 1, rtol=1e-5)


def test_export_a_run_then_predict_with_torch_and_onnx_runtime(workspace, pixels, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    import nnpipe

    _, _, run_dir = workspace
    result = invoke("export", run_dir)
    assert result.exit_code == 0, result.output
    described = json.loads((run_dir / "model.json").read_text())
    assert described["classes"] == [str(i) for i in range(10)] and described["input_shape"] == [1, 28, 28]
    plain = torch.nn.Sequential(*[getattr(torch.nn, layer["type"])(**layer["args"]) for layer in described["layers"]])
    plain.load_state_dict(safetensors_torch.load_file(run_dir / "model.safetensors"))
    data = described["normalisation"]
    with torch.no_grad():
        logits = plain.eval()(torch.from_numpy(normalise(pixels, data["mean"], data["std"]))).numpy()
    run = nnpipe.load_run(run_dir)
    predicted = run.predict(pixels)
    expected = nnpipe_logits(run.model, pixels, data["mean"], data["std"])
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
    assert np.array_equal(logits.argmax(1), predicted.argmax(1))
    result = invoke("export", run_dir, "--format", "onnx", "--out", tmp_path / "mlp.onnx")
    assert result.exit_code == 0 and f"wrote {tmp_path / 'mlp.onnx'}" in result.output, result.output
    session = ort.InferenceSession(str(tmp_path / "mlp.onnx"), providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(["probabilities"], {"pixels": pixels.astype(np.float32)})
    assert np.array_equal(probabilities.argmax(1), predicted.argmax(1))
    np.testing.assert_allclose(probabilities, predicted, atol=1e-5)


def test_init_from_starts_a_new_run_from_exported_weights(workspace, tmp_path):
    ws, config, run_dir = workspace
    assert invoke("export", run_dir).exit_code == 0
    trainer = prepare(config, [f"model.init_from={run_dir / 'model.safetensors'}"], run_dir=tmp_path / "again")
    trained = Run(run_dir).model  # best.npz's weights
    for (key, value), (_, started) in zip(trained.state_dict().items(), trainer.model.state_dict().items()):
        assert np.array_equal(value, to_numpy(started)), key  # the model may be on the (fake) GPU
    trainer.fit()  # and it trains on from them
    assert Run(tmp_path / "again").summary["test"]["accuracy"] >= Run(run_dir).summary["test"]["accuracy"] - 0.02


def test_init_from_that_does_not_fit_is_an_error_before_the_run_directory(workspace, tmp_path):
    ws, config, run_dir = workspace
    assert invoke("export", run_dir).exit_code == 0
    weights = run_dir / "model.safetensors"
    root = tmp_path / "fresh"
    for args, message in [
        ([f"model.init_from={weights}", "model.hidden=[8]"], "does not fit the configured model: 1.weight: shape"),
        ([f"model.init_from={tmp_path / 'none.safetensors'}"], "model.init_from"),
        ([f"model.init_from={run_dir / 'model.json'}"], "is not a safetensors file"),
    ]:
        result = invoke("train", config, "--set", *[item for a in args for item in ("--set", a)][1:],
                        "--set", f"run.root={root}")
        assert_clean_failure(result, 2, message)
        assert not root.exists()


@pytest.mark.slow
def test_word_vectors_export_as_safetensors_and_word2vec(tmp_path):
    train(skipgram_config(tmp_path))
    run_dir = only_run(tmp_path / "runs")
    assert invoke("export", run_dir, "--out", tmp_path / "sg.safetensors").exit_code == 0
    described = json.loads((tmp_path / "sg.json").read_text())
    tables = safetensors_torch.load_file(tmp_path / "sg.safetensors")
    assert sorted(tables) == sorted(described["tables"]) and len(described["words"]) == tables["center.weight"].shape[0]
    assert invoke("export", run_dir, "-f", "word2vec", "--out", tmp_path / "a.txt").exit_code == 0
    assert invoke("embed", run_dir, "--export", tmp_path / "b.txt").exit_code == 0
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()
    assert_clean_failure(invoke("export", run_dir, "-f", "onnx"), 2, "--format onnx is for image-classifier runs")


@pytest.mark.parametrize("fmt", ["safetensors", "onnx"])
def test_a_model_pytorch_has_no_layers_for_is_refused_before_anything_is_written(workspace, monkeypatch, fmt):
    """A classifier that is not a Sequential of layers with PyTorch twins (a model of one's
    own, registered as a plugin) cannot be written as PyTorch's layers: one line, exit 2."""
    from nnpipe import nn
    from nnpipe.runs import Run as RunClass

    class OwnModel(nn.Module):  # a user's model: its own forward, no Sequential
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x)

    load = RunClass.load_model
    monkeypatch.setattr(RunClass, "load_model", lambda self, which="best": OwnModel(load(self, which)))
    _, _, run_dir = workspace
    before = sorted(p.name for p in run_dir.iterdir())
    assert_clean_failure(invoke("export", run_dir, "-f", fmt), 2,
                         f"--format {fmt} writes the model as PyTorch's layers, and OwnModel is not a Sequential")
    assert sorted(p.name for p in run_dir.iterdir()) == before


def test_export_errors_are_one_line(workspace, tmp_path):
    _, _, run_dir = workspace
    assert_clean_failure(invoke("export", run_dir, "-f", "keras"), 2, "--format 'keras': use one of")
    assert_clean_failure(invoke("export", run_dir, "-f", "word2vec"), 2, "is for word-vector runs")
    assert_clean_failure(invoke("export", run_dir, "--binary"), 2, "--binary and --vectors go with --format word2vec")
    assert_clean_failure(invoke("export", run_dir, "--out", "-"), 2, "safetensors needs a file name")
    assert_clean_failure(invoke("export", run_dir, "--out", tmp_path / "missing/x.safetensors"), 2,
                         "does not exist")
