"""Files the user names on the command line: read with a message that names the file and
what is wrong with it, and written where the user pointed.

A regular file (or a new one) is written atomically: a temporary file beside it, flushed,
fsynced and renamed over it, so a failed write leaves the old one whole.  A symbolic link
is followed deliberately: its target is written that way and the link stays.  Anything
else that exists (a FIFO, ``/dev/stdout``, ``/dev/null``, a terminal) is written directly,
since renaming over it would replace it with a regular file; ``-`` is standard output.
Every failure, the full-disk one of ``/dev/full`` included, is a :class:`DataError`.
"""
from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from .files import DataError, write_atomically


def read_text_file(path, what) -> str:
    """The UTF-8 text of ``path``; ``what`` names it in the messages ("similarity file")."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise DataError(f"{what} {path} is a folder; give a file") from None
    except UnicodeDecodeError:
        raise DataError(f"{what} {path} is not UTF-8 text (a binary or compressed file?)") from None
    except OSError as exc:
        raise DataError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def write_output(path, write, what="output"):
    """Call ``write(handle)`` with a binary handle onto the user-named ``path`` (see the
    module docstring); returns nothing, raises :class:`DataError` naming ``path``."""
    if str(path) == "-":
        _write_into(sys.stdout.buffer, write, path, what)
        return
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise DataError(f"cannot write {what} {path}: {exc.strerror or exc}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise DataError(f"{what} {path} is a folder; give a file name such as {path / 'out'}")
    if mode is not None and not stat.S_ISREG(mode):  # a FIFO or a device: write into it
        try:
            with open(target, "wb") as handle:
                _write_into(handle, write, path, what)
        except OSError as exc:
            raise DataError(f"cannot write {what} {path}: {exc.strerror or exc}") from None
        return
    if not target.parent.is_dir():
        raise DataError(f"cannot write {what} {path}: the folder {target.parent} does not exist")
    try:  # the file keeps its permissions
        write_atomically(target, lambda handle: _write_into(handle, write, path, what),
                         None if mode is None else stat.S_IMODE(mode))
    except OSError as exc:
        raise DataError(f"cannot write {what} {path}: {exc.strerror or exc}") from None


def _write_into(handle, write, path, what):
    try:
        write(handle)
        handle.flush()
    except OSError as exc:
        raise DataError(f"cannot write {what} {path}: {exc.strerror or exc}") from None
