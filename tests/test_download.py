"""Downloads against a real HTTP server on 127.0.0.1: success, resume, checksum mismatch,
server error, interrupted transfer."""
import hashlib
import http.server
import threading

import pytest

from nnpipe.data import DataError
from nnpipe.data.download import download

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes
SHA256 = ("sha256", hashlib.sha256(PAYLOAD).hexdigest())


class Handler(http.server.BaseHTTPRequestHandler):
    requests = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        Handler.requests.append((self.path, self.headers.get("Range")))
        if self.path == "/error":
            self.send_error(500, "Internal Server Error")
            return
        start = 0
        if self.headers.get("Range") and self.path != "/norange":
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
            self.send_response(206)
        else:
            self.send_response(200)
        body = (getattr(Handler, "payload", PAYLOAD) if self.path == "/archive" else PAYLOAD)[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path == "/cut":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)  # the connection drops mid-transfer
            return
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_verifies_and_places_atomically(server, tmp_path):
    dest = download(f"{server}/file", tmp_path / "f.bin", SHA256, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "f.bin.part").exists()
    Handler.requests.clear()
    download(f"{server}/file", dest, SHA256, progress=False)  # present and verified: no request
    assert Handler.requests == []


def test_data_fetch_command_downloads_where_the_cifar_loader_looks(server, tmp_path, monkeypatch):
    """``nnpipe data fetch cifar10`` checks the archive's checksum and stores it in the
    cache, and the CIFAR-10 loader finds it there when data.root lacks the files."""
    import io
    import tarfile

    import numpy as np
    from typer.testing import CliRunner

    from nnpipe.cli import app
    from nnpipe.data import cifar
    from nnpipe.data import download as download_module

    records = np.random.default_rng(0).integers(0, 10, (2, 1 + 3072)).astype(np.uint8)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in cifar.TRAIN_FILES + [cifar.TEST_FILE]:
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = records.nbytes
            tar.addfile(info, io.BytesIO(records.tobytes()))
    archive = buffer.getvalue()
    monkeypatch.setattr(Handler, "payload", archive, raising=False)
    monkeypatch.setenv("NNPIPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(download_module.SOURCES, "cifar10", [
        (f"{server}/archive", cifar.ARCHIVE, ("sha256", hashlib.sha256(archive).hexdigest()))])
    result = CliRunner().invoke(app, ["data", "fetch", "cifar10"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cache/cifar10" / cifar.ARCHIVE).read_bytes() == archive
    (train_x, train_y), _ = cifar.load_cifar10(tmp_path / "empty")
    assert train_x.shape == (10, 3, 32, 32) and train_y.tolist() == records[:, 0].tolist() * 5


def test_checksum_mismatch_deletes_the_partial_file(server, tmp_path):
    with pytest.raises(DataError, match="does not match the published"):
        download(f"{server}/file", tmp_path / "f.bin", ("sha256", "0" * 64), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_md5_checksums_are_accepted(server, tmp_path):
    md5 = ("md5", hashlib.md5(PAYLOAD).hexdigest())
    assert download(f"{server}/file", tmp_path / "f.bin", md5, progress=False).read_bytes() == PAYLOAD


def test_server_error_is_reported_and_leaves_nothing(server, tmp_path):
    with pytest.raises(DataError, match="HTTP 500"):
        download(f"{server}/error", tmp_path / "f.bin", SHA256, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_transfer_keeps_part_and_resumes_with_range(server, tmp_path):
    dest = tmp_path / "f.bin"
    with pytest.raises(DataError, match="interrupted after 51200"):
        download(f"{server}/cut", dest, SHA256, progress=False)
    assert not dest.exists() and (tmp_path / "f.bin.part").stat().st_size == 51200
    Handler.requests.clear()
    download(f"{server}/file", dest, SHA256, progress=False)
    assert Handler.requests == [("/file", "bytes=51200-")]
    assert dest.read_bytes() == PAYLOAD


def test_server_without_range_support_restarts_cleanly(server, tmp_path):
    (tmp_path / "f.bin.part").write_bytes(b"stale bytes")
    download(f"{server}/norange", tmp_path / "f.bin", SHA256, progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_unreachable_host_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="cannot connect"):
        download("http://127.0.0.1:9/none", tmp_path / "f.bin", SHA256, progress=False, timeout=2)
