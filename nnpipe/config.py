"""The run configuration: a typed schema of dataclasses, loaded from YAML, overridden with
``--set key.path=value``, and validated with every problem named by its dotted path."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

import yaml

from . import options
from .data.files import SHIPPED_CONFIGS
from .loggers import LOGGERS, missing_package
from .models import MODELS
from .nn import LOSSES
from .optim import OPTIMIZERS, SCHEDULES
from .options import AtLeastOne, Check, NonNegativeInt, Positive
from .registry import Section, UnknownComponent, suggest
from .tasks import TASKS
from .yamlio import dump, load_yaml

__all__ = ["Config", "ConfigError", "apply_overrides", "dump", "from_dict", "load_config", "parse_override",
           "read_yaml"]


class ConfigError(ValueError):
    """The configuration cannot be used; the message names every problem."""


# Sections that name a registered component; each is validated against that component's
# own options, so a new optimizer, loss, schedule, model or task needs no change here.
COMPONENTS = {"model": MODELS, "data": TASKS, "loss": LOSSES, "optimizer": OPTIMIZERS, "schedule": SCHEDULES}
DEFAULT_NAMES = {"model": "mlp", "data": "mnist", "loss": "cross_entropy", "optimizer": "adam", "schedule": "constant"}


def _default_section(kind):
    return lambda: COMPONENTS[kind].get(DEFAULT_NAMES[kind]).section()


@dataclass
class EarlyStoppingConfig:
    metric: Optional[str] = None  # null: the task's first (val_accuracy for images, val_ws353 for words)
    patience: Optional[NonNegativeInt] = None  # null: never stop early


@dataclass
class TrainConfig:
    epochs: AtLeastOne = 10
    grad_clip: Optional[Positive] = None  # clip the global gradient norm to this
    checkpoint_every: Union[AtLeastOne, Literal["epoch"]] = "epoch"  # "epoch" or a number of steps
    keep_last: NonNegativeInt = 3  # step-N.npz checkpoints kept
    log_every: AtLeastOne = 50  # steps between metrics.jsonl rows
    # where the metrics go (jsonl always: nnpipe's own commands read it); tensorboard needs .[tensorboard]
    loggers: Annotated[list, Check(lambda names: all(isinstance(name, str) for name in names), "logger names")] = (
        field(default_factory=lambda: ["jsonl", "csv"]))
    # word-vector ops apply SGD in their backward, window by window (word2vec's order);
    # false: gradients first, then the optimizer's step (used only with SGD, one process, no clipping)
    fused_update: bool = True
    # a fused step's windows in this many runs, each updated from the step's starting rows and
    # added in order: the threads a step can use, never a change of results with the thread count
    update_chunks: AtLeastOne = 2
    # false: the chunks update the tables at once, racing (Hogwild, as word2vec and gensim):
    # faster, but no two runs give the same bits, and a resumed run is not the one never stopped
    deterministic: bool = True
    # the kernels' and BLAS's threads (the results do not depend on it); null: the cores other
    # processes leave idle when the run starts (NUMBA_NUM_THREADS or OPENBLAS_NUM_THREADS, when set, win)
    threads: Optional[AtLeastOne] = None
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)


def _plain_name(name):
    return name not in ("", ".", "..") and not re.search(r"[/\\]", name)


@dataclass
class RunConfig:
    root: str = "runs"
    name: Optional[Annotated[str, Check(_plain_name, "a plain folder name (no path)")]] = None  # default: the stem


@dataclass
class Config:
    seed: NonNegativeInt = 0  # NumPy's generators take no negative seed
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
        model = {k: v for k, v in dataclasses.asdict(self.model).items() if k != "init_from"}  # weights, not shapes
        key = json.dumps({"model": model, "data": self.data.name}, sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:16]


# ---- building from a dict -----------------------------------------------------------------
def _build(cls, data, path, problems, drop_unknown=False):
    """An instance of dataclass ``cls`` from ``data``, appending problems as strings: each
    field's annotation says its type and limits (:func:`nnpipe.options.problem`).
    ``drop_unknown`` reads configs written by older versions: it ignores keys ``cls`` does
    not have, and nulls (then "the component's default") for keys that take no null."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(f"{path or 'config'}: expected a mapping, got {type(data).__name__}")
        return cls()
    hints = options.hints(cls)
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
        elif value is None and drop_unknown and not options.matches(None, hints[key]):
            continue
        elif (wrong := options.problem(value, hints[key])) is not None:
            problems.append(f"{where}: {wrong}")
        else:
            values[key] = float(value) if options.plain_type(hints[key]) is float else value
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
    name = raw.get("name", DEFAULT_NAMES[kind])
    if not isinstance(name, str):
        problems.append(f"{kind}.name: expected a name, got {options.bounded(name)}; valid: {', '.join(registry)}")
        return _default_section(kind)()
    try:
        entry = registry.get(name)
    except UnknownComponent as exc:
        problems.append(f"{kind}.name: {exc}")
        return _default_section(kind)()
    return _build(entry.section, raw, kind, problems, drop_unknown)


def _check_combination(config, problems, drop_unknown=False):
    """The task accepts the model and the loss (by their tags), early stopping watches a
    metric the task reports, and a model that names its loss (a tag ``loss:<name>``) gets
    that one."""
    accepts = TASKS.get(config.data.name).builder.accepts
    for kind, registry in (("model", MODELS), ("loss", LOSSES)):
        name = config[kind].name
        if accepts[kind] not in registry.get(name).tags:
            fits = ", ".join(registry.tagged(accepts[kind])) or "none registered"
            problems.append(f"{kind}.name: task {config.data.name!r} cannot train {kind} {name!r}; "
                            f"it takes {fits}")
    monitors, stopping = TASKS.get(config.data.name).builder.monitors, config.train.early_stopping
    if stopping.metric is None or (drop_unknown and stopping.metric not in monitors):
        stopping.metric = monitors[0]  # the task's own; a run saved before metrics were checked gets it too
    elif stopping.metric not in monitors:
        problems.append(f"train.early_stopping.metric: task {config.data.name!r} has no epoch metric "
                        f"{options.bounded(stopping.metric)}; it reports {', '.join(monitors)}")
    _check_loggers(config.train.loggers, problems, drop_unknown)
    needed = [tag[5:] for tag in MODELS.get(config.model.name).tags if tag.startswith("loss:")]
    if needed and config.loss.name not in needed:  # a model fitted by one loss only (glove, svd)
        problems.append(f"loss.name: model {config.model.name!r} is trained with loss {needed[0]!r}, "
                        f"not {config.loss.name!r}")


def uninstalled_loggers(names) -> list:
    """A problem for each known logger in ``names`` whose package this install lacks."""
    return [f"train.loggers: {missing}" for name in names if name in LOGGERS and (missing := missing_package(name))]


def _check_loggers(names, problems, drop_unknown):
    """Known loggers, each once, jsonl among them, each one's package installed (a finished
    run's config, read to evaluate it, may name a logger this install cannot write with)."""
    for name in names:
        if name not in LOGGERS:
            problems.append(f"train.loggers: unknown logger {options.bounded(name)}{suggest(name, LOGGERS)}; "
                            f"valid: {', '.join(LOGGERS)}")
    if not drop_unknown:
        problems += uninstalled_loggers(names)
    if len(set(names)) < len(names):
        problems.append(f"train.loggers: a logger is named twice in {options.bounded(names)}")
    if "jsonl" not in names:
        problems.append(f"train.loggers: must include jsonl (plot, runs, compare and resume read metrics.jsonl), "
                        f"got {options.bounded(names)}")


def from_dict(raw, drop_unknown=False) -> Config:
    """Validate a plain dict (as YAML gives it) into a Config, or raise ConfigError.
    ``drop_unknown`` reads run configs written by older versions, whose sections held
    the options of every component at once."""
    problems = []
    config = _build(Config, dict(raw or {}), "", problems, drop_unknown)
    if not problems:
        _check_combination(config, problems, drop_unknown)
    if problems:
        raise ConfigError("; ".join(problems))
    return config


# ---- YAML and overrides ---------------------------------------------------------------------
def read_yaml(path) -> dict:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        shipped = SHIPPED_CONFIGS / path.name
        hint = (f"; nnpipe ships {path.name}: nnpipe config copy {path.stem} writes it into configs/"
                if shipped.is_file() and path.resolve() != shipped else "")
        raise ConfigError(f"config file not found: {path}{hint}") from None
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
    """Read YAML, apply overrides, validate; the run name defaults to the file's stem
    (without leading or trailing dots)."""
    raw = apply_overrides(read_yaml(path), overrides)
    config = from_dict(raw)
    if config.run.name is None:  # a file named "...yaml" must not name the run ".."
        config.run.name = Path(path).stem.strip(".") or "run"
    return config
