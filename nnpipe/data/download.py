"""Checksum-verified downloads into a cache, resumable and atomic.

A file is streamed into ``NAME.part`` beside its destination (with a progress bar),
resumed with an HTTP Range request if a ``.part`` is already there, checked against its
published checksum, fsynced and only then renamed into place; a mismatch deletes the
partial file.  Used only when a data set is not already present locally.
"""
from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from .files import DataError, cache_dir, file_digest

_MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
# Published checksums: MNIST and CIFAR-10 publish md5 digests of the original archives
# (torchvision uses the same), not sha256; the shipped MNIST in data/ was recompressed and
# is checked by its own sha256 in files.py.
# name -> [(url, file name, (algorithm, published digest) or None)]
SOURCES = {
    "mnist": [
        (_MNIST_MIRROR + name, name, ("md5", digest)) for name, digest in [
            ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
            ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
            ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
        ]
    ],
    "cifar10": [("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", "cifar-10-binary.tar.gz",
                 ("md5", "c32a1d4ab5d03f1284b67883e8d87530"))],
}
CHUNK = 1 << 16


def _check(path: Path, checksum, url):
    if checksum is not None:
        algorithm, expected = checksum
        actual = file_digest(path, algorithm)
        if actual != expected:
            path.unlink(missing_ok=True)
            raise DataError(f"{url}: {algorithm} {actual} does not match the published {expected}; "
                            "the partial file was deleted")


def download(url: str, dest, checksum=None, progress=True, timeout=30.0) -> Path:
    """Fetch ``url`` to ``dest`` unless a verified copy is there; return ``dest``."""
    dest = Path(dest)
    if dest.is_file():
        _check(dest, checksum, url)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the .part is already complete
            response = None
        else:
            raise DataError(f"{url}: server answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(f"{url}: cannot connect ({getattr(exc, 'reason', exc)})") from None
    if response is not None:
        with response:
            resumed = response.status == 206
            mode = "ab" if resumed else "wb"
            start = have if resumed else 0
            length = response.headers.get("Content-Length")
            total = start + int(length) if length else None
            received = start
            with open(part, mode) as out, tqdm(total=total, initial=start, unit="B", unit_scale=True,
                                               desc=dest.name, disable=not progress, leave=False) as bar:
                try:
                    while block := response.read(CHUNK):
                        out.write(block)
                        received += len(block)
                        bar.update(len(block))
                except (OSError, urllib.error.URLError) as exc:
                    raise DataError(f"{url}: transfer interrupted after {received} bytes ({exc}); "
                                    "run again to resume") from None
                finally:
                    out.flush()
                    os.fsync(out.fileno())
            if total is not None and received < total:
                raise DataError(f"{url}: transfer interrupted after {received} of {total} bytes; run again to resume")
    _check(part, checksum, url)
    os.replace(part, dest)
    return dest


def fetch(name: str, dest_dir=None, progress=True) -> Path:
    """Download every file of a registered data set into ``dest_dir`` (default: the cache)."""
    if name not in SOURCES:
        raise DataError(f"no download source for {name!r}; known: {', '.join(SOURCES)}")
    folder = Path(dest_dir) if dest_dir else cache_dir() / name
    for url, filename, checksum in SOURCES[name]:
        download(url, folder / filename, checksum, progress)
    return folder
