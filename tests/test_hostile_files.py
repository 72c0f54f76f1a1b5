"""Files the user names or hands over (#25): exports onto special files and links, word
benchmarks that are missing or binary, untrusted checkpoints (zip bombs, deep manifests,
NaN weights), predict inputs that lie about their size, half-written leftovers.  Each case
reproduced a reported failure first."""
import json
import os
import stat
import struct
import threading
import zlib

import numpy as np
import pytest

from helpers import assert_clean_failure, invoke, only_run, skipgram_config, snapshot


@pytest.fixture(scope="module")
def word_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("words")
    result = invoke("train", skipgram_config(folder), "--quiet")
    assert result.exit_code == 0, result.output
    return only_run(folder / "runs")


def test_export_onto_a_fifo_writes_into_it(word_run, tmp_path):
    fifo = tmp_path / "vectors.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(open(fifo, "rb").read()))  # noqa: SIM115
    reader.start()
    result = invoke("embed", word_run, "--export", fifo)
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a FIFO, not replaced by a regular file
    header = received[0].split(b"\n")[0].split()
    assert len(header) == 2 and int(header[1]) == 24


def test_export_to_dev_full_fails_as_a_write_error(word_run):
    assert_clean_failure(invoke("embed", word_run, "--export", "/dev/full"), 2,
                         "cannot write --export /dev/full: No space left on device")


def test_export_follows_a_link_and_keeps_it(word_run, tmp_path):
    target, link = tmp_path / "real.txt", tmp_path / "link.txt"
    target.write_text("old")
    link.symlink_to(target)
    assert invoke("embed", word_run, "--export", link).exit_code == 0
    assert link.is_symlink() and target.read_text().startswith(f"{len(target.read_text().splitlines()) - 1} 24\n")


def test_export_to_standard_output(word_run):
    result = invoke("embed", word_run, "--export", "-")
    assert result.exit_code == 0 and result.stdout.split("\n")[0].endswith(" 24")
    assert "wrote" in result.stderr and "wrote" not in result.stdout


def test_export_into_a_missing_folder_names_it(word_run, tmp_path):
    assert_clean_failure(invoke("embed", word_run, "--export", tmp_path / "into/missing/v.txt"), 2,
                         f"the folder {tmp_path / 'into/missing'} does not exist")


@pytest.mark.parametrize("option,make,words", [
    ("--wordsim", lambda tmp: tmp / "missing.tsv", "similarity file not found"),
    ("--analogies", lambda tmp: tmp, "is a folder; give a file"),
    ("--analogies", lambda tmp: (tmp / "x.gz").write_bytes(b"\x1f\x8b\x08\x00\xff\xfe") and tmp / "x.gz",
     "is not UTF-8 text (a binary or compressed file?)"),
])
def test_benchmark_files_are_read_before_anything_is_printed(word_run, tmp_path, option, make, words):
    result = invoke("embed", word_run, "--evaluate", option, make(tmp_path))
    assert_clean_failure(result, 2, words)
    assert result.stdout == ""  # the WordSim-353 line no longer comes before the analogies' error


def test_run_dir_onto_a_file_and_with_resume_are_refused(tmp_path):
    from helpers import write_config

    config = write_config(tmp_path)
    (tmp_path / "a-file").write_text("mine")
    assert_clean_failure(invoke("train", config, "--run-dir", tmp_path / "a-file"), 2, "is a file; give a new")
    assert_clean_failure(invoke("train", config, "--run-dir", tmp_path / "x", "--resume", "latest"), 2,
                         "a resumed run continues in its own directory")
    assert (tmp_path / "a-file").read_text() == "mine" and not (tmp_path / "x").exists()


def _add_member(path, name, array):
    import zipfile

    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(f"{name}.npy", "w", force_zip64=True) as handle:
            np.lib.format.write_array(handle, array)


def test_a_zip_bomb_member_of_a_checkpoint_is_never_read(workspace, monkeypatch):
    ws, _, run = workspace
    best = run / "checkpoints/best.npz"
    _add_member(best, "bomb", np.zeros(64 << 20, np.uint8))  # 64 MB that compress to 64 kB
    assert best.stat().st_size < 2 << 20
    read = []
    original = np.lib.npyio.NpzFile.__getitem__
    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", lambda self, key: read.append(key) or original(self, key))
    assert invoke("eval", run).exit_code == 0
    assert read and "bomb" not in read


def _replace_manifest(path, text):
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files if key != "__manifest__"}
    np.savez(path, __manifest__=np.frombuffer(text.encode(), np.uint8), **arrays)


def test_a_deeply_nested_manifest_is_named_as_damage(workspace):
    ws, _, run = workspace
    _replace_manifest(run / "checkpoints/best.npz", "[" * 100_000 + "]" * 100_000)
    assert_clean_failure(invoke("eval", run), 2, "its manifest is damaged (JSON nested too deeply)")


def test_nan_weights_are_no_model(workspace):
    ws, config, run = workspace
    for name in ("best", "last"):
        path = run / f"checkpoints/{name}.npz"
        with np.load(path) as archive:
            arrays = {key: archive[key] for key in archive.files}
        arrays["model/1.weight"] = np.full_like(arrays["model/1.weight"], np.nan)
        np.savez(path, **arrays)
    before = snapshot(ws)
    assert_clean_failure(invoke("eval", run), 2, "1.weight holds NaN or infinite weights")
    assert_clean_failure(invoke("train", config, "--resume", run, "--set", "train.epochs=2"), 2, "NaN or infinite")
    assert snapshot(ws) == before


def test_a_killed_writers_temporary_files_go_when_the_run_resumes(workspace):
    ws, config, run = workspace
    leftovers = [run / "checkpoints/.last.npz.4242.tmp", run / ".summary.json.tmp"]
    for path in leftovers:
        path.write_bytes(b"half")
    assert invoke("train", config, "--quiet", "--resume", run, "--set", "train.epochs=2").exit_code == 0
    assert not any(path.exists() for path in leftovers)


def test_damaged_run_json_is_skipped_not_a_traceback(workspace):
    ws, _, run = workspace
    (run / "summary.json").write_text("[" * 100_000 + "]" * 100_000)
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write("[" * 100_000 + "\n")
    assert invoke("runs", "--root", ws / "runs").exit_code == 0
    assert invoke("plot", run, "--metric", "loss", "--out", ws / "c.png").exit_code in (0, 2)


def _png_header(width, height):
    """A PNG whose IHDR claims width × height (and no pixels): what a decompression bomb
    looks like before its pixels are decoded."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) \
        + chunk(b"IEND", b"")


@pytest.mark.parametrize("make,words", [
    (lambda tmp: (tmp / "huge.png").write_bytes(_png_header(12000, 12000)) and tmp / "huge.png",
     "image is 12000×12000, the model expects 28×28"),
    (lambda tmp: np.savez(tmp / "x.npz", a=np.zeros((28, 28))) or (tmp / "x.npz").rename(tmp / "x.npy") or
     tmp / "x.npy", "not a .npy array (an .npz, an image or another format renamed?)"),
    (lambda tmp: np.save(tmp / "empty.npy", np.zeros((0, 28, 28, 1), np.uint8)) or tmp / "empty.npy",
     "of at least one"),
])
def test_predict_inputs_that_lie_are_refused_cheaply(workspace, tmp_path, make, words):
    pytest.importorskip("PIL")
    ws, _, run = workspace
    assert_clean_failure(invoke("predict", run, make(tmp_path)), 2, words)


def test_a_npy_header_claiming_a_trillion_elements_costs_nothing(workspace, tmp_path):
    ws, _, run = workspace
    path = tmp_path / "liar.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "|u1", "fortran_order": False,
                                                      "shape": (10 ** 6, 10 ** 6)})
        handle.write(b"\x00" * 784)
    assert_clean_failure(invoke("predict", run, path), 2, "not a readable .npy array")


def test_summary_json_written_strictly_still_reads(workspace):
    ws, _, run = workspace
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
