"""Readers (IDX, CIFAR-10 binary), shipped-file checks, splits, normalisation, batching."""
import gzip
import tarfile

import numpy as np
import pytest

from nnpipe.data import BatchLoader, DataError, cifar, files, load_image_data, random_crop_flip
from nnpipe.data.idx import parse_idx, read_idx
from nnpipe.data.mnist import MNIST_FILES, load_idx_dataset

from helpers import idx_bytes, write_cifar, write_idx_set


def test_shipped_mnist_loads_with_known_label_counts():
    (train_x, train_y), (test_x, test_y) = load_idx_dataset(files.data_root())
    assert train_x.shape == (60000, 1, 28, 28) and train_x.dtype == np.uint8
    assert np.bincount(test_y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    again = load_idx_dataset(files.data_root())  # from the decoded cache
    np.testing.assert_array_equal(again[1][0], test_x)


def test_idx_reader_handles_raw_and_gzip(tmp_path):
    array = np.arange(24).reshape(2, 3, 4)
    (tmp_path / "a.idx").write_bytes(idx_bytes(array, 0x0C))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(idx_bytes(array, 0x0C)))
    for name in ("a.idx", "a.idx.gz"):
        out = read_idx(tmp_path / name)
        np.testing.assert_array_equal(out, array)
        assert out.dtype == np.int32


@pytest.mark.parametrize("raw,message", [
    (b"\x00\x00", "too short"),
    (b"\x12\x34\x08\x01" + b"\x00" * 8, "not an IDX file"),
    (b"\x00\x00\x42\x01" + b"\x00" * 8, "not an IDX file"),
    (b"\x00\x00\x08\x03\x00\x00", "truncated"),
    (idx_bytes(np.zeros((3, 4)))[:-5], r"shape \(3, 4\).*\(truncated\)"),
    (idx_bytes(np.zeros((3, 4))) + b"x", "holds 13 bytes"),
])
def test_malformed_idx_is_a_clear_error(raw, message):
    with pytest.raises(DataError, match=message):
        parse_idx(raw, "test.idx")


def test_corrupt_gzip_names_the_file(tmp_path):
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(DataError, match="bad.gz: cannot decompress"):
        read_idx(tmp_path / "bad.gz")


def test_any_idx_dataset_with_configurable_names(tmp_path):
    arrays = write_idx_set(tmp_path, gz=False)
    (tmp_path / MNIST_FILES["test_labels"]).rename(tmp_path / "labels.idx")
    (train_x, train_y), (test_x, test_y) = load_idx_dataset(tmp_path, {"test_labels": "labels.idx"})
    np.testing.assert_array_equal(test_y, arrays["test_labels"])
    assert train_x.shape == (6, 1, 5, 5)
    with pytest.raises(DataError, match="IDX file for train_images not found"):
        load_idx_dataset(tmp_path / "nowhere")


def test_mismatched_images_and_labels_are_refused(tmp_path):
    write_idx_set(tmp_path)
    (tmp_path / MNIST_FILES["train_labels"]).write_bytes(gzip.compress(idx_bytes(np.zeros(2))))
    with pytest.raises(DataError, match="do not pair"):
        load_idx_dataset(tmp_path)


def test_shipped_file_with_wrong_checksum_is_reported(tmp_path, monkeypatch):
    write_idx_set(tmp_path)  # files named like the shipped ones, different content
    monkeypatch.setattr(files, "REPO_DATA", tmp_path)
    with pytest.raises(DataError, match="sha256 .* differs from the shipped file"):
        load_idx_dataset(tmp_path)


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("NNPIPE_DATA", raising=False)
    assert files.data_root() == files.REPO_DATA
    monkeypatch.setenv("NNPIPE_DATA", str(tmp_path))
    assert files.data_root() == tmp_path
    assert str(files.data_root("elsewhere")) == "elsewhere"


def test_cifar_binary_batches_read_in_record_order(tmp_path):
    expected = write_cifar(tmp_path)
    (train_x, train_y), (test_x, test_y) = cifar.load_cifar10(tmp_path)
    assert train_x.shape == (15, 3, 32, 32)
    np.testing.assert_array_equal(train_y[:3], expected["data_batch_1.bin"][0])
    np.testing.assert_array_equal(test_x.reshape(3, -1), expected["test_batch.bin"][1])
    # the red plane comes first: pixel bytes 0..1023 are channel 0
    assert test_x[0, 0, 0, 1] == expected["test_batch.bin"][1][0, 1]
    assert test_x[0, 1, 0, 0] == expected["test_batch.bin"][1][0, 1024]


def test_cifar_reads_the_official_archive_layout(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    expected = write_cifar(folder)
    with tarfile.open(tmp_path / cifar.ARCHIVE, "w:gz") as tar:
        for path in folder.iterdir():
            tar.add(path, arcname=f"cifar-10-batches-bin/{path.name}")
    data = load_image_data("cifar10", root=tmp_path, val_split=3, seed=1)
    assert data.train_x.shape == (12, 3, 32, 32) and data.input_shape == (3, 32, 32)
    assert data.classes[6] == "frog" and len(data.mean) == 3
    np.testing.assert_array_equal(data.test_y, expected["test_batch.bin"][0])


@pytest.mark.parametrize("damage,message", [
    (lambda raw: raw[:-10], "not a whole number"),
    (lambda raw: b"\x0b" + raw[1:], "label 11 is out of range"),
])
def test_malformed_cifar_batches_are_clear_errors(tmp_path, damage, message):
    write_cifar(tmp_path)
    path = tmp_path / "data_batch_2.bin"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError, match=f"data_batch_2.bin: .*{message}"):
        cifar.load_cifar10(tmp_path)


def test_missing_cifar_says_where_it_looked(tmp_path):
    with pytest.raises(DataError, match="CIFAR-10 binary batches not found"):
        cifar.load_cifar10(tmp_path)


@pytest.mark.slow
def test_mnist_splits_are_seeded_and_normalised():
    data = load_image_data("mnist", val_split=5000, seed=3)
    again = load_image_data("mnist", val_split=5000, seed=3)
    other = load_image_data("mnist", val_split=5000, seed=4)
    assert data.train_x.shape == (55000, 1, 28, 28) and data.val_x.shape == (5000, 1, 28, 28)
    assert data.train_x.dtype == np.float32 and data.train_x.flags.c_contiguous
    np.testing.assert_array_equal(data.val_y, again.val_y)
    assert not np.array_equal(data.val_y, other.val_y)
    assert abs(float(data.train_x.mean())) < 1e-3 and float(data.train_x.std()) == pytest.approx(1, abs=1e-3)
    assert data.mean[0] == pytest.approx(0.1307, abs=2e-4) and data.std[0] == pytest.approx(0.3081, abs=2e-4)
    fixed = load_image_data("mnist", val_split=10, mean=[0.5], std=[0.5])
    assert fixed.test_x.min() == -1.0 and fixed.test_x.max() == 1.0


def test_loader_batches_cover_epoch_and_resume_exactly():
    x = np.arange(10, dtype=np.float32)[:, None]
    y = np.arange(10)
    loader = BatchLoader(x, y, batch_size=4, seed=7)
    assert len(loader) == 3 and len(BatchLoader(x, y, 4, drop_last=True)) == 2
    first = [yb.tolist() for _, yb in loader]
    assert sorted(sum(first, [])) == list(range(10)) and loader.epoch == 1
    second_epoch = [yb.tolist() for _, yb in loader]
    assert second_epoch != first
    resumed = BatchLoader(x, y, batch_size=4, seed=7)
    iterator = iter(resumed)
    next(iterator)
    state = resumed.state_dict()
    fresh = BatchLoader(x, y, batch_size=4, seed=0)
    fresh.load_state_dict(state)
    assert [yb.tolist() for _, yb in fresh] == first[1:]


def test_augmentation_is_vectorised_seeded_and_preserves_content():
    images = np.arange(2 * 3 * 8 * 8, dtype=np.float32).reshape(2, 3, 8, 8)
    out = random_crop_flip(images, np.random.default_rng(0), padding=2)
    again = random_crop_flip(images, np.random.default_rng(0), padding=2)
    assert out.shape == images.shape
    np.testing.assert_array_equal(out, again)
    unshifted = random_crop_flip(images, np.random.default_rng(0), padding=0, flip=False)
    np.testing.assert_array_equal(unshifted, images)
    flipped = [random_crop_flip(images[:1], np.random.default_rng(s), padding=0) for s in range(8)]
    assert any(np.array_equal(f, images[:1, :, :, ::-1]) for f in flipped)
