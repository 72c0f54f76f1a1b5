"""The run configuration: a typed schema of dataclasses, loaded from YAML, overridden with
``--set key.path=value``, and validated with every problem named by its dotted path."""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .models import MODELS, model_options
from .nn import LOSSES
from .optim import OPTIMIZERS, Schedule


class ConfigError(ValueError):
    """The configuration cannot be used; the message names every problem."""


@dataclass
class DataConfig:
    name: str = "mnist"  # mnist | cifar10 | text
    root: typing.Optional[str] = None  # default: $NNPIPE_DATA, else the repository's data/
    batch_size: int = 128
    val_split: int = 5000
    shuffle: bool = True
    drop_last: bool = False
    augment: bool = False  # random crops of padded images (+ horizontal flips), per batch
    crop_padding: int = 4  # pixels of zero padding the crops move within
    flip: bool = True  # also flip half the images horizontally (off for digits)
    files: typing.Optional[dict] = None  # IDX file names by role (train_images, ...)
    mean: typing.Optional[list] = None  # per-channel normalisation; filled in from the training split
    std: typing.Optional[list] = None
    # text (skip-gram) options
    corpus: typing.Optional[list] = None  # text files; default: every shipped corpus
    min_count: int = 5
    max_vocab: typing.Optional[int] = None
    sample: float = 1e-3
    window: int = 5
    chunk_words: int = 100_000


@dataclass
class LossConfig:
    name: str = "cross_entropy"
    label_smoothing: float = 0.0
    margin: float = 1.0


@dataclass
class OptimizerConfig:
    name: str = "adam"
    lr: float = 0.001
    weight_decay: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False
    betas: list = field(default_factory=lambda: [0.9, 0.999])
    eps: typing.Optional[float] = None  # default: the optimizer's own
    alpha: float = 0.99


@dataclass
class ScheduleConfig:
    name: str = "constant"  # constant | step | exponential | cosine | linear
    interval: str = "step"  # step | epoch
    warmup: int = 0
    step_size: int = 1
    gamma: float = 0.1
    min_lr: float = 0.0


@dataclass
class EarlyStoppingConfig:
    metric: str = "val_accuracy"
    patience: typing.Optional[int] = None  # null: never stop early


@dataclass
class TrainConfig:
    epochs: int = 10
    grad_clip: typing.Optional[float] = None  # clip the global gradient norm to this
    clip_value: typing.Optional[float] = None  # clamp each gradient entry to ±this
    checkpoint_every: typing.Union[int, str] = "epoch"  # "epoch" or a number of steps
    keep_last: int = 3  # step-N.npz checkpoints kept
    log_every: int = 50  # steps between metrics.jsonl rows
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)


@dataclass
class RunConfig:
    root: str = "runs"
    name: typing.Optional[str] = None  # default: the config file's stem


@dataclass
class Config:
    seed: int = 0
    model: dict = field(default_factory=lambda: {"name": "mlp"})
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    device: str = "auto"
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self):
        return dataclasses.asdict(self)

    def digest(self):
        """A short hash of the parts that fix the shapes of a model (model and data name)."""
        key = json.dumps({"model": self.model, "data": self.data.name}, sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:16]


# ---- building from a dict -----------------------------------------------------------------
def _type_name(kind):
    if isinstance(kind, type):
        return {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
                "list": "a list", "dict": "a mapping"}.get(kind.__name__, kind.__name__)
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return " or ".join(_type_name(a) for a in args) + (" or null" if type(None) in typing.get_args(kind) else "")


def _matches(value, kind):
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, k) for k in typing.get_args(kind))
    if kind is type(None):
        return value is None
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or kind)


def _suggest(key, valid):
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _build(cls, data, path, problems):
    """An instance of dataclass ``cls`` from ``data``, appending problems as strings."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(f"{path or 'config'}: expected a mapping, got {type(data).__name__}")
        return cls()
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in data.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in hints:
            problems.append(f"{where}: unknown key{_suggest(str(key), names)}; valid: {', '.join(names)}")
            continue
        kind = hints[key]
        if dataclasses.is_dataclass(kind):
            values[key] = _build(kind, value, where, problems)
        elif not _matches(value, kind):
            problems.append(f"{where}: expected {_type_name(kind)}, got {value!r}")
        else:
            values[key] = float(value) if kind is float else value
    return cls(**values)


def _check_model(section, problems):
    if not isinstance(section, dict) or "name" not in section:
        problems.append(f"model.name: missing; valid: {', '.join(sorted(MODELS))}")
        return
    name = section["name"]
    if name not in MODELS:
        problems.append(f"model.name: unknown model {name!r}{_suggest(str(name), list(MODELS))}; "
                        f"valid: {', '.join(sorted(MODELS))}")
        return
    options = {k: v for k, v in section.items() if k != "name"}
    built = _build(model_options(name), options, "model", problems)
    section.clear()
    section.update({"name": name, **dataclasses.asdict(built)})


def _check_ranges(config, problems):
    def need(condition, where, message):
        if not condition:
            problems.append(f"{where}: {message}")

    need(config.optimizer.lr > 0, "optimizer.lr", f"must be > 0, got {config.optimizer.lr}")
    need(config.optimizer.weight_decay >= 0, "optimizer.weight_decay", "must be >= 0")
    need(config.data.batch_size >= 1, "data.batch_size", f"must be >= 1, got {config.data.batch_size}")
    need(config.data.val_split >= 0, "data.val_split", "must be >= 0")
    need(config.train.epochs >= 1, "train.epochs", f"must be >= 1, got {config.train.epochs}")
    need(config.train.keep_last >= 0, "train.keep_last", "must be >= 0")
    need(config.train.log_every >= 1, "train.log_every", "must be >= 1")
    every = config.train.checkpoint_every
    need(every == "epoch" or (isinstance(every, int) and every >= 1), "train.checkpoint_every",
         f"must be 'epoch' or a number of steps >= 1, got {every!r}")
    for key in ("grad_clip", "clip_value"):
        value = getattr(config.train, key)
        need(value is None or value > 0, f"train.{key}", f"must be > 0 or null, got {value}")
    dropout = config.model.get("dropout")
    need(dropout is None or 0 <= dropout < 1, "model.dropout", f"must be in [0, 1), got {dropout}")
    need(config.data.name in ("mnist", "cifar10", "text"), "data.name",
         f"unknown data set {config.data.name!r}; valid: mnist, cifar10, text")
    need(config.loss.name in LOSSES, "loss.name",
         f"unknown loss {config.loss.name!r}{_suggest(config.loss.name, list(LOSSES))}; valid: {', '.join(LOSSES)}")
    need(config.optimizer.name in OPTIMIZERS, "optimizer.name",
         f"unknown optimizer {config.optimizer.name!r}{_suggest(config.optimizer.name, list(OPTIMIZERS))}; "
         f"valid: {', '.join(OPTIMIZERS)}")
    need(config.schedule.name in Schedule.NAMES, "schedule.name",
         f"unknown schedule {config.schedule.name!r}; valid: {', '.join(Schedule.NAMES)}")
    need(config.schedule.interval in ("step", "epoch"), "schedule.interval", "must be 'step' or 'epoch'")
    need(config.data.crop_padding >= 0, "data.crop_padding", "must be >= 0")
    need(config.data.sample >= 0, "data.sample", "must be >= 0")
    need(config.data.window >= 1, "data.window", "must be >= 1")
    need(config.data.min_count >= 1, "data.min_count", "must be >= 1")


def from_dict(raw) -> Config:
    """Validate a plain dict (as YAML gives it) into a Config, or raise ConfigError."""
    problems = []
    raw = dict(raw or {})
    model = raw.pop("model", {"name": "mlp"})
    model = dict(model) if isinstance(model, dict) else model
    config = _build(Config, raw, "", problems)
    _check_model(model, problems)
    if isinstance(model, dict):
        config.model = model
    if not problems:
        _check_ranges(config, problems)
    if problems:
        raise ConfigError("; ".join(problems))
    return config


# ---- YAML and overrides ---------------------------------------------------------------------
def read_yaml(path) -> dict:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: malformed YAML: {problem}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of sections, got {type(data).__name__}")
    return data or {}


def parse_override(text: str):
    """'a.b.c=value' -> (['a', 'b', 'c'], value parsed as a YAML scalar or list)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key.path=value")
    key, value = text.split("=", 1)
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: empty key")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"--set {text!r}: the value is not valid YAML") from None
    return key.split("."), parsed


def apply_overrides(raw: dict, overrides) -> dict:
    """Set each ``key.path=value`` into ``raw`` (a nested dict), creating sections as needed."""
    for text in overrides:
        parts, value = parse_override(text)
        node = raw
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"--set {text!r}: {'.'.join(parts[:depth + 1])} is not a section")
            node = child
        node[parts[-1]] = value
    return raw


def load_config(path, overrides=()) -> Config:
    """Read YAML, apply overrides, validate; the run name defaults to the file's stem."""
    raw = apply_overrides(read_yaml(path), overrides)
    config = from_dict(raw)
    if config.run.name is None:
        config.run.name = Path(path).stem
    return config


class _Dumper(yaml.SafeDumper):
    """Sections in block style, lists inline: ``hidden: [256, 128]``."""


_Dumper.add_representer(list, lambda dumper, value: dumper.represent_sequence(
    "tag:yaml.org,2002:seq", value, flow_style=True))


def dump(config_or_dict) -> str:
    data = config_or_dict.to_dict() if isinstance(config_or_dict, Config) else config_or_dict
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
