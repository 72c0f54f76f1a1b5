"""The run configuration: a typed schema of dataclasses, loaded from YAML, overridden with
``--set key.path=value``, and validated with every problem named by its dotted path."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .data.cooccurrence import WEIGHTINGS
from .models import MODELS
from .nn import LOSSES
from .optim import OPTIMIZERS, SCHEDULES
from .registry import Section, UnknownComponent, suggest
from .tasks import TASKS
from .yamlio import dump, load_yaml  # noqa: F401  (dump is part of this module's API)


class ConfigError(ValueError):
    """The configuration cannot be used; the message names every problem."""


# Sections that name a registered component; each is validated against that component's
# own options, so a new optimizer, loss, schedule, model or data kind needs no change here.
COMPONENTS = {"model": MODELS, "data": TASKS, "loss": LOSSES, "optimizer": OPTIMIZERS, "schedule": SCHEDULES}
DEFAULT_NAMES = {"model": "mlp", "data": "mnist", "loss": "cross_entropy", "optimizer": "adam", "schedule": "constant"}


def _default_section(kind):
    return lambda: COMPONENTS[kind].get(DEFAULT_NAMES[kind]).section()


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
    model: Section = field(default_factory=_default_section("model"))
    data: Section = field(default_factory=_default_section("data"))
    loss: Section = field(default_factory=_default_section("loss"))
    optimizer: Section = field(default_factory=_default_section("optimizer"))
    schedule: Section = field(default_factory=_default_section("schedule"))
    train: TrainConfig = field(default_factory=TrainConfig)
    device: str = "auto"
    run: RunConfig = field(default_factory=RunConfig)

    def __getitem__(self, key):
        return getattr(self, key)

    def to_dict(self):
        return dataclasses.asdict(self)

    def digest(self):
        """A short hash of the parts that fix the shapes of a model (model and data name)."""
        key = json.dumps({"model": dataclasses.asdict(self.model), "data": self.data.name}, sort_keys=True)
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


def _build(cls, data, path, problems, drop_unknown=False):
    """An instance of dataclass ``cls`` from ``data``, appending problems as strings.
    ``drop_unknown`` reads configs written by older versions: it ignores keys ``cls`` does
    not have, and nulls (then "the component's default") for keys that take no null."""
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
        if cls is Config and key in COMPONENTS:
            values[key] = _build_section(key, value, problems, drop_unknown)
        elif key not in hints:
            if not drop_unknown:
                problems.append(f"{where[:80]}: unknown key{suggest(key, names)}; valid: {', '.join(names)}")
        elif dataclasses.is_dataclass(hints[key]):
            values[key] = _build(hints[key], value, where, problems, drop_unknown)
        elif value is None and drop_unknown and not _matches(None, hints[key]):
            continue
        elif not _matches(value, hints[key]):
            problems.append(f"{where}: expected {_type_name(hints[key])}, got {bounded(value)}")
        else:
            values[key] = float(value) if hints[key] is float else value
    return cls(**values)


def _build_section(kind, raw, problems, drop_unknown):
    """The section of the component that ``raw['name']`` names, checked against its options."""
    registry = COMPONENTS[kind]
    if not isinstance(raw, dict):
        problems.append(f"{kind}: expected a mapping, got {type(raw).__name__}")
        return _default_section(kind)()
    if kind == "model" and "name" not in raw:
        problems.append(f"model.name: missing; valid: {', '.join(registry)}")
        return _default_section(kind)()
    try:
        entry = registry.get(raw.get("name", DEFAULT_NAMES[kind]))
    except UnknownComponent as exc:
        problems.append(f"{kind}.name: {exc}")
        return _default_section(kind)()
    return _build(entry.section, raw, kind, problems, drop_unknown)


# options that mean the same in whichever section they appear, with their valid range
RANGES = {
    "lr": (lambda v: v > 0, "must be > 0"),
    "weight_decay": (lambda v: v >= 0, "must be >= 0"),
    "batch_size": (lambda v: v >= 1, "must be >= 1"),
    "val_split": (lambda v: v >= 0, "must be >= 0"),
    "dropout": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
    "crop_padding": (lambda v: v >= 0, "must be >= 0"),
    "sample": (lambda v: v >= 0, "must be >= 0"),
    "window": (lambda v: v >= 1, "must be >= 1"),
    "min_count": (lambda v: v >= 1, "must be >= 1"),
    "warmup": (lambda v: v >= 0, "must be >= 0"),
    "hidden": (lambda v: v >= 1, "sizes must be >= 1"),
    "channels": (lambda v: v >= 1, "sizes must be >= 1"),
    "std": (lambda v: v > 0, "must be > 0"),
    "dim": (lambda v: v >= 1, "must be >= 1"),
    "negatives": (lambda v: v >= 1, "must be >= 1"),
    "kernel_size": (lambda v: v >= 1, "must be >= 1"),
    "stride": (lambda v: v >= 1, "must be >= 1"),
    "padding": (lambda v: v >= 0, "must be >= 0"),
    "pool": (lambda v: v >= 1, "must be >= 1"),
    "step_size": (lambda v: v >= 1, "must be >= 1"),
    "min_lr": (lambda v: v >= 0, "must be >= 0"),
    "eps": (lambda v: v > 0, "must be > 0"),
    "momentum": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
    "alpha": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
    "betas": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
    "label_smoothing": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
    "x_max": (lambda v: v > 0, "must be > 0"),
    "cds": (lambda v: v >= 0, "must be >= 0"),
    "shift": (lambda v: v > 0, "must be > 0"),
    "power_iterations": (lambda v: v >= 0, "must be >= 0"),
    "initial_accumulator_value": (lambda v: v >= 0, "must be >= 0"),
}

# options that take one of a few words, in whichever section they appear
CHOICES = {"reduction": ("sum", "mean"), "weighting": WEIGHTINGS}


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def bounded(value, limit=80):
    """repr(value), cut to ``limit`` characters: error messages stay one short line."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _check_ranges(config, problems):
    def need(condition, where, message):
        if not condition:
            problems.append(f"{where}: {message}")

    for kind in COMPONENTS:
        for key, value in dataclasses.asdict(config[kind]).items():
            if key in CHOICES:
                need(value in CHOICES[key], f"{kind}.{key}",
                     f"must be one of {', '.join(CHOICES[key])}, got {bounded(value)}")
            if key not in RANGES:
                continue
            in_range, message = RANGES[key]
            entries = value if isinstance(value, list) else [value]  # lists: every entry (hidden sizes, std)
            bad = [entry for entry in entries if _number(entry) and not in_range(entry)]
            wrong_type = [entry for entry in entries if not _number(entry) and entry is not None]
            need(not bad, f"{kind}.{key}", f"{message}, got {bounded(value)}")
            need(not wrong_type, f"{kind}.{key}", f"expected numbers, got {bounded(value)}")
    need(config.train.epochs >= 1, "train.epochs", f"must be >= 1, got {config.train.epochs}")
    need(config.train.keep_last >= 0, "train.keep_last", "must be >= 0")
    need(config.train.log_every >= 1, "train.log_every", "must be >= 1")
    every = config.train.checkpoint_every
    need(every == "epoch" or (isinstance(every, int) and every >= 1), "train.checkpoint_every",
         f"must be 'epoch' or a number of steps >= 1, got {bounded(every)}")
    for key in ("grad_clip", "clip_value"):
        value = getattr(config.train, key)
        need(value is None or value > 0, f"train.{key}", f"must be > 0 or null, got {value}")
    need(config.schedule.interval in ("step", "epoch"), "schedule.interval", "must be 'step' or 'epoch'")
    name = config.run.name
    need(name is None or (name not in ("", ".", "..") and not re.search(r"[/\\]", name)), "run.name",
         f"must be a plain folder name (no path), got {bounded(name)}")


def _check_combination(config, problems):
    """The data kind accepts the model and the loss (by their tags), and a model that names
    its loss (a tag ``loss:<name>``) gets that one."""
    accepts = TASKS.get(config.data.name).builder.accepts
    for kind, registry in (("model", MODELS), ("loss", LOSSES)):
        name = config[kind].name
        if accepts[kind] not in registry.get(name).tags:
            fits = ", ".join(registry.tagged(accepts[kind])) or "none registered"
            problems.append(f"{kind}.name: data {config.data.name!r} cannot train {kind} {name!r}; "
                            f"it takes {fits}")
    needed = [tag[5:] for tag in MODELS.get(config.model.name).tags if tag.startswith("loss:")]
    if needed and config.loss.name not in needed:  # a model fitted by one loss only (glove, svd)
        problems.append(f"loss.name: model {config.model.name!r} is trained with loss {needed[0]!r}, "
                        f"not {config.loss.name!r}")


def from_dict(raw, drop_unknown=False) -> Config:
    """Validate a plain dict (as YAML gives it) into a Config, or raise ConfigError.
    ``drop_unknown`` reads run configs written by older versions, whose sections held
    the options of every component at once."""
    problems = []
    config = _build(Config, dict(raw or {}), "", problems, drop_unknown)
    if not problems:
        _check_ranges(config, problems)
        _check_combination(config, problems)
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
        data = load_yaml(text)
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
        parsed = load_yaml(value) if value.strip() else None
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
