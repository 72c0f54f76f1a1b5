"""What a resumed run may change: how long it goes on and how often it writes, nothing
that would make it a different training.  ``Trainer.resume`` enforces it, so a Python
user who resumes with another config gets the same refusal as ``nnpipe train --resume``."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..config import ConfigError, from_dict, parse_override, read_yaml

RESUMABLE = ("train.epochs", "train.early_stopping.patience", "train.checkpoint_every", "train.keep_last",
             "train.log_every", "train.threads", "train.loggers")


def resumable_overrides(run_dir, overrides):
    """Refuse an override of any key outside RESUMABLE."""
    changed = sorted({".".join(parse_override(item)[0]) for item in overrides} - set(RESUMABLE))
    if changed:
        raise ConfigError(f"--resume continues {run_dir} as it was configured, so {changed[0]} cannot change "
                          f"(only {', '.join(RESUMABLE)} can); to train with it, start a new run without --resume")


def _flat(tree, prefix=""):
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def check_resumable(run_dir, config):
    """Refuse to resume the run in ``run_dir`` with a ``config`` that differs from the
    run's own config.yaml outside RESUMABLE (and the run's name and root)."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        return  # a checkpoint copied out of its run: nothing to compare with
    saved = _flat(dataclasses.asdict(from_dict(read_yaml(path), drop_unknown=True)))
    given = _flat(dataclasses.asdict(config))
    ignored = set(RESUMABLE) | {"run.name", "run.root", "device"}
    differs = sorted(key for key in saved.keys() | given.keys()
                     if key not in ignored and saved.get(key) != given.get(key))
    if differs:
        key = differs[0]
        raise ConfigError(f"cannot resume {run_dir} with another config: {key} is {given.get(key)!r}, the run was "
                          f"trained with {saved.get(key)!r} (only {', '.join(RESUMABLE)} can change)")
