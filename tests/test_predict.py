"""``nnpipe predict``: npy batches, single images, PNG files and folders, preprocessed as
in training, and every unusable input refused with one line."""
import numpy as np
import pytest

from nnpipe.data.files import REPO_DATA
from nnpipe.data.mnist import load_idx_dataset

from helpers import assert_clean_failure, invoke


def test_predict_npy_and_png_with_clear_shape_errors(workspace, tmp_path):
    _, (test_x, test_y) = load_idx_dataset(REPO_DATA)
    ws, _, run = workspace
    np.save(tmp_path / "digit.npy", test_x[0, 0])
    pil = pytest.importorskip("PIL.Image")
    pil.fromarray(test_x[1, 0]).save(tmp_path / "digit.png")
    result = invoke("predict", run, tmp_path / "digit.npy", tmp_path / "digit.png", "-k", "2")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split(": ")[1].startswith(f"{test_y[0]} ") and lines[1].split(": ")[1].startswith(f"{test_y[1]} ")
    np.save(tmp_path / "small.npy", np.zeros((20, 20), np.uint8))
    assert_clean_failure(invoke("predict", run, tmp_path / "small.npy"), 2, "the model expects 28×28")
    np.save(tmp_path / "rgb.npy", np.zeros((3, 28, 28), np.uint8))
    assert_clean_failure(invoke("predict", run, tmp_path / "rgb.npy"), 2, "3 channel(s), the model expects 1")


def test_predict_takes_batches_files_and_folders_and_writes_csv(workspace, tmp_path):
    _, (test_x, test_y) = load_idx_dataset(REPO_DATA)
    ws, _, run = workspace
    folder = tmp_path / "digits"
    folder.mkdir()
    np.save(folder / "batch.npy", test_x[:5])  # (5, 1, 28, 28)
    np.save(folder / "one.npy", test_x[5, 0])
    result = invoke("predict", run, folder, "-k", "1", "--out", tmp_path / "predictions.csv")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith(str(folder))]
    assert len(lines) == 6 and lines[0].startswith(f"{folder / 'batch.npy'}[0]: ")
    guessed = [int(line.split(": ")[1].split()[0]) for line in lines]
    assert sum(g == y for g, y in zip(guessed, test_y[:6])) >= 5  # a trained one-epoch MLP
    rows = (tmp_path / "predictions.csv").read_text().splitlines()
    assert rows[0] == "input,class_1,p_1" and len(rows) == 7


@pytest.mark.parametrize("array,words", [
    (lambda np: np.zeros(784), "a 1-D array"),
    (lambda np: np.float32(3), "a 0-D array"),
    (lambda np: np.array(["a", "b"]), "holds <U1 values"),
    (lambda np: np.zeros((28, 28), np.complex64), "holds complex64 values"),
    (lambda np: np.full((28, 28), np.nan, np.float32), "NaN or infinite"),
    (lambda np: np.zeros((5, 1, 20, 28), np.uint8), "[0]: image is 20×28, the model expects 28×28"),
])
def test_predict_refuses_unusable_arrays(workspace, tmp_path, array, words):
    ws, _, run = workspace
    np.save(tmp_path / "input.npy", array(np))
    result = invoke("predict", run, tmp_path / "input.npy")
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and words in result.stderr, result.stderr
    assert invoke("predict", run, tmp_path / "input.npy", "-k", "0").exit_code == 2
