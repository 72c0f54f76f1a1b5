"""Where data lives, and the checksums of the files nnpipe ships or downloads."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sys
import threading
from pathlib import Path

import numpy as np

# data/ and configs/ as the package sees them: nnpipe/shipped/ links to the repository's
# folders, and a wheel carries copies of them there (pip install . works from anywhere)
SHIPPED = Path(__file__).resolve().parent.parent / "shipped"
REPO_DATA = (SHIPPED / "data").resolve()
SHIPPED_CONFIGS = (SHIPPED / "configs").resolve()

# sha256 of every file shipped in data/ (see data/README.md for sources and licences)
SHIPPED_SHA256 = {
    "train-images-idx3-ubyte.gz": "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
    "train-labels-idx1-ubyte.gz": "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
    "t10k-images-idx3-ubyte.gz": "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
    "t10k-labels-idx1-ubyte.gz": "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
    "corpus/kjv-bible.txt.gz": "77c768b842ca0bde5ed8124b44ef7500c97f55eb13b4632cd1eb78ef1fd4e3e7",
    "corpus/austen-novels.txt.gz": "9718e94a9569afc517aba2a882d4b8bbae28624a16afd3ecd3bee063f95ef3f6",
    "corpus/shakespeare-plays.txt.gz": "7f8c0af6af892bbee1f5da04930dce6ec5aa0ebe7102c5975886338929e45a3a",
    "corpus/melville-moby-dick.txt.gz": "c496d03c2e9303eb24092892a88e70889f21927690b9df968d009a2b59dfa634",
    "corpus/enwiki-sample.txt.gz": "8400dbb19ef3d73a0575cb473ba4c4c423fcae52bcfe4508b1fcfe3580bc3472",
    "corpus/wordnet-glosses.txt.gz": "0bb93f426b0609009874d61971e3f8ec42552da72d4105df0a1ae3eefb7a9fdb",
    "wordeval/wordsim353.tsv": "f92a022fc2537793a15bc3a8c162ebcd74990e033a228bb6388cb71e4c0b1e1d",
    "wordeval/questions-words.txt": "8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36",
}


class DataError(ValueError):
    """A data file is missing, malformed or not what its checksum says."""


def data_root(root=None) -> Path:
    """The data folder: ``root`` if given (relative to the current directory), else
    ``$NNPIPE_DATA``, else the shipped ``data/`` (the repository's, or the wheel's copy)."""
    if root:
        return Path(root).expanduser()
    if os.environ.get("NNPIPE_DATA"):
        return Path(os.environ["NNPIPE_DATA"]).expanduser()
    return REPO_DATA


def cache_dir() -> Path:
    """``$NNPIPE_CACHE`` or ``~/.cache/nnpipe``: downloads and decoded arrays.  Made by
    whoever writes into it first; a folder that cannot be made only costs the cache."""
    return Path(os.environ.get("NNPIPE_CACHE") or Path.home() / ".cache" / "nnpipe")


def parse_json(text):
    """``json.loads``, where a nest too deep for the parser (a RecursionError) is a
    ValueError like any other damage."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def file_digest(path: Path, algorithm="sha256", chunk=1 << 20) -> str:
    """The hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_stamp(path: Path):
    """(path, size, mtime): changes whenever the file is replaced or edited."""
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def cache_key(paths, **settings) -> str:
    """A short key for data derived from ``paths`` with ``settings``: it changes whenever
    a source file or a setting does."""
    key = json.dumps({"files": [file_stamp(Path(p)) for p in paths], **settings}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def remembered(ledger_name, entries):
    """For each ``(key, stamp, compute)`` of ``entries``, ``compute()``, kept in the cache's
    ``ledger_name`` under ``key`` while the file's ``stamp`` stays the same, so a file is
    hashed once per version.  The ledger is read once and written once however many files
    there are (a folder of thousands); without a writable cache the values are only
    computed again next time."""
    ledger_path = cache_dir() / ledger_name
    try:
        ledger = parse_json(ledger_path.read_text())
    except (OSError, ValueError):
        ledger = {}
    values, changed = [], False
    for key, stamp, compute in entries:
        entry = ledger.get(key)
        if not (isinstance(entry, dict) and entry.get("stamp") == stamp and "value" in entry):
            ledger[key], changed = {"stamp": stamp, "value": compute()}, True
        values.append(ledger[key]["value"])
    if changed:
        tmp = ledger_path.with_name(f".{ledger_name}.{os.getpid()}.tmp")  # several processes may write at once
        try:
            ledger_path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(ledger))
            os.replace(tmp, ledger_path)
        except OSError:
            _remove(tmp)
    return values


def verify_shipped(path: Path):
    """Check a file of the repository's ``data/`` against its known sha256, once per file
    version (remembered per path, size and mtime).  Files elsewhere (another data set in
    the same layout) are not checked."""
    try:
        name = Path(path).resolve().relative_to(REPO_DATA.resolve()).as_posix()
    except ValueError:
        return
    expected = SHIPPED_SHA256.get(name)
    if expected is None:
        return

    def check():
        actual = file_digest(path)
        if actual != expected:
            raise DataError(f"{path}: sha256 {actual[:12]}… differs from the shipped file's {expected[:12]}…; "
                            "the file is damaged or replaced (restore it with git checkout)")
        return True

    remembered("verified.json", [(name, file_stamp(path), check)])


def require(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DataError(f"{what} not found: {path}")
    return path


def _remove(path):
    """Remove a partial file, if there is one and its folder can be reached at all."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _warn(message):
    print(f"warning: {message}", file=sys.stderr)


class status:  # lower case: used as ``with status("..."):``
    """A line while a slow phase runs: on a terminal, on stderr and erased afterwards (as
    progress bars are); otherwise a plain line on stdout beside the per-epoch lines, so
    stderr keeps only errors (not shown at all with ``terminal_only``, for phases that
    recur every epoch)."""

    def __init__(self, message, terminal_only=False):
        self.message, self.terminal = message, sys.stderr.isatty()
        self.shown = self.terminal or not terminal_only

    def __enter__(self):
        if self.shown:
            print(self.message + ("…" if self.terminal else ""), file=sys.stderr if self.terminal else sys.stdout,
                  end="\r" if self.terminal else "\n", flush=True)

    def __exit__(self, *exc):
        if self.terminal:
            print("\r\033[K", file=sys.stderr, end="", flush=True)


class status_after(status):
    """:class:`status`, shown only if the block still runs after ``delay`` seconds (a phase
    that is slow only sometimes: the first step while Numba compiles the kernels)."""

    def __init__(self, message, delay, terminal_only=False):
        super().__init__(message, terminal_only)
        self.delay, self.lock, self.showing, self.done = delay, threading.Lock(), False, False

    def __enter__(self):
        self.timer = threading.Timer(self.delay, self._show)
        self.timer.daemon = True
        self.timer.start()
        return self

    def _show(self):
        with self.lock:
            if not self.done:
                self.showing = True
                super().__enter__()

    def __exit__(self, *exc):
        with self.lock:
            self.done = True
            self.timer.cancel()
            if self.showing:
                super().__exit__(*exc)


def read_cache(path: Path, keys):
    """{key: array} from a decode cache, or None when there is none or it is unreadable
    (truncated, empty, not an npz, missing a key): a damaged entry is removed, named in
    a warning, and rebuilt by the caller."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            return {key: saved[key] for key in keys}
    except Exception as exc:  # noqa: BLE001  (zip, header, EOF and key errors all mean a damaged entry)
        _warn(f"the cache entry {path} is unreadable ({type(exc).__name__}); rebuilding it")
        path.unlink(missing_ok=True)
        return None


def write_atomically(path: Path, write, mode=None, tmp=None):
    """Call ``write(handle)`` on a binary temp file in ``path``'s folder (``tmp``, or a name
    of this process's own), flush and fsync it, give it the permission bits ``mode`` when
    given, rename it over ``path`` and fsync the folder: the file is never seen
    half-written, and is there after a power cut.  The temp file is made afresh, never
    opened through a link planted at its name (a link at ``path`` is replaced, not
    followed); it is removed if anything fails (the error is raised)."""
    path = Path(path)
    tmp = Path(tmp) if tmp is not None else path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    sync_folder(path)


def write_text_atomically(path: Path, text: str):
    """:func:`write_atomically` of ``text`` (UTF-8) under the one temp name ``.<name>.tmp``:
    a writer killed mid-write leaves a file that the next write of ``path`` takes over (and
    that a resumed run clears)."""
    path = Path(path)
    write_atomically(path, lambda handle: handle.write(text.encode()), tmp=path.with_name(f".{path.name}.tmp"))


def csv_text(columns, rows):
    """``rows`` (dicts) as CSV text under a header of ``columns`` (a missing key: empty)."""
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, columns)
    writer.writeheader()
    writer.writerows(rows)
    return table.getvalue()


def sync_folder(path):
    """Make a rename into ``path``'s folder durable (where the system lets a folder be synced)."""
    try:
        directory = os.open(Path(path).parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError:
        pass


def save_npz(path: Path, arrays: dict):
    """Write ``arrays`` as an .npz that is never seen half-written (:func:`write_atomically`)."""
    write_atomically(path, lambda handle: np.savez(handle, **arrays))


def write_cache(path: Path, **arrays):
    """Store decoded arrays (see :func:`save_npz`).  A full or read-only cache folder only
    costs the cache: a one-line warning, and the data stay in memory."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_npz(path, arrays)
    except OSError as exc:
        _warn(f"cannot write the cache {path} ({exc.strerror or exc}); decoding in memory only")
