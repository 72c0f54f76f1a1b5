"""Run directories: ``runs/<config-stem>/<YYYYmmdd-HHMMSS>-<4 hex>/`` and what they hold."""
from __future__ import annotations

import datetime
import fcntl
import json
import math
import os
import platform
import secrets
import subprocess
import sys
from pathlib import Path

import numpy as np

from .. import __version__, backend
from ..data.files import parse_json, write_text_atomically


class RunError(ValueError):
    """A run directory cannot be made, found or read."""


def checkpoint_path(run_dir, name) -> Path:
    """``<run>/checkpoints/<name>.npz``: where every checkpoint of a run lives."""
    return Path(run_dir) / "checkpoints" / f"{name}.npz"


def new_run_dir(root, name) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(root) / name / f"{stamp}-{secrets.token_hex(2)}"
    try:
        (path / "checkpoints").mkdir(parents=True)
    except OSError as exc:
        raise RunError(f"cannot create run directory {path}: {exc.strerror or exc}") from None
    return path


def find_runs(root) -> list:
    """Every run directory under ``root`` (those holding a config.yaml), oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [config.parent for config in root.glob("*/*/config.yaml")]
    return sorted(runs, key=lambda run: (run.name, run.stat().st_mtime))


def has_checkpoint(run) -> bool:
    """A run that ``eval``, ``plot``-after-training and ``--resume`` can use."""
    return checkpoint_path(run, "last").is_file()


def latest_run(root, name=None, usable=has_checkpoint, what="with a checkpoint") -> Path:
    """The newest run under ``root`` that ``usable`` accepts (only runs of config stem
    ``name`` when given): a run that died before its first checkpoint is skipped."""
    runs = [run for run in find_runs(root) if (name is None or run.parent.name == name) and usable(run)]
    if not runs:
        where = f"{root}/{name}/" if name else f"{root}/"
        raise RunError(f"no runs under {where} {what}: train one first with nnpipe train CONFIG")
    return runs[-1]


def writer_alive(run) -> bool:
    """Whether a process holds the run's lock (a training in progress)."""
    path = Path(run) / ".lock"
    if not path.is_file():
        return False
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


def run_status(run, summary) -> str:
    """The summary's status, or ``stale`` for a run marked running that nobody writes."""
    status = summary.get("status", "running")  # no summary yet: the run was being set up
    return "stale" if status == "running" and not writer_alive(run) else status


def resolve_run(spec, root, name=None, usable=has_checkpoint, what="with a checkpoint") -> Path:
    """A run directory from 'latest' (the newest ``usable`` one, of config stem ``name``
    if given), a run directory path, or a checkpoint path inside one."""
    if spec in (None, "latest"):
        return latest_run(root, name, usable, what)
    path = Path(spec)
    if path.is_file() and path.parent.name == "checkpoints":
        return path.parent.parent
    if not (path / "config.yaml").is_file():
        raise RunError(f"{path} is not a run directory (no config.yaml)")
    return path


def _strict(value):
    """``value`` with NaN and infinities as null, so the file is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(item) for item in value]
    return value


def write_text(path, text):
    """Write a run file atomically (temp file, fsync, rename: ``write_atomically``): readers
    never see half a file, and a symbolic link at ``path`` or at the temp name is replaced,
    never followed out of the run (``write_text_atomically``)."""
    write_text_atomically(path, text)


def write_json(path, data):
    """Write strict JSON atomically (NaN is written as null); see :func:`write_text`."""
    write_text(path, json.dumps(_strict(data), indent=2, default=str, allow_nan=False) + "\n")


class RunLock:
    """An exclusive lock on a run directory for the life of a training (``.lock``, held
    with ``fcntl.flock`` and released when the process ends, however it ends), so two
    processes never write the same run."""

    def __init__(self, run_dir):
        path = Path(run_dir) / ".lock"
        self.handle = open(path, "a+")  # noqa: SIM115  (held open for the whole training)
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise RunError(f"{run_dir} is being written by another nnpipe process; wait for it to finish "
                           "or train into another run directory") from None
        self.handle.truncate(0)
        self.handle.write(f"{os.getpid()} {platform.node()}\n")
        self.handle.flush()

    def release(self):
        self.handle.close()


def read_json(path, default=None):
    try:
        return parse_json(Path(path).read_text())
    except (OSError, ValueError):
        return default


def _git_commit():
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device, seed) -> dict:
    info = {
        "nnpipe": __version__, "numpy": np.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "device": device, "seed": seed,
        "command": sys.argv, "git_commit": _git_commit(),
    }
    if device.startswith("cuda"):
        cupy = backend.cupy_module()
        info["cupy"] = getattr(cupy, "__version__", "fake device (NNPIPE_FAKE_GPU)")
    return info
