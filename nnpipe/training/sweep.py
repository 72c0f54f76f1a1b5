"""Hyperparameter sweeps: a grid (or a seeded random sample of it) of --set overrides,
each trial an ordinary run directory, run by local subprocesses or as Ray tasks.

``runs/<stem>/sweep-<id>/trial-<k>/`` holds each trial; ``sweep.json`` and
``results.md``/``results.csv`` (sorted by the chosen metric) sit beside them.  The id
hashes the config and the grid, so running the same sweep again finds its trials:
completed ones are skipped, interrupted ones resume from their last checkpoint.
"""
from __future__ import annotations

import hashlib
import json
import math
import random as pyrandom
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from ..config import ConfigError, load_config, load_yaml, parse_override
from ..data.files import csv_text
from .metrics import sort_key
from .resume import RESUMABLE
from .rundir import RunError, RunLock, checkpoint_path, read_json, write_json, write_text, writer_alive


def parse_grid(items):
    """{'optimizer.lr': [0.01, 0.1], ...} from ``key=v1,v2`` strings (values are YAML, so
    ``model.hidden=[128],[256]`` gives two lists)."""
    grid = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise ConfigError(f"--grid {item!r}: expected key.path=value1,value2,...")
        try:
            parsed = load_yaml(f"[{values}]")
        except yaml.YAMLError:
            raise ConfigError(f"--grid {item!r}: the values are not valid YAML") from None
        grid[key] = parsed
    return grid


def _combination(grid, index):
    """The ``index``-th combination in itertools.product order (the last key fastest)."""
    chosen = {}
    for key in reversed(list(grid)):
        index, position = divmod(index, len(grid[key]))
        chosen[key] = grid[key][position]
    return {key: chosen[key] for key in grid}


def trials(grid, random=None, seed=0):
    """Every combination of the grid, or ``random`` of them drawn with ``seed`` by their
    index, so a huge grid is never built (30 values of 5 keys are 24 million trials)."""
    total = math.prod(len(values) for values in grid.values())
    indices = range(total)
    if random is not None and random < total:
        indices = sorted(pyrandom.Random(seed).sample(indices, random))
    return [_combination(grid, index) for index in indices]


def _override_args(overrides):
    return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]


def trial_command(config, overrides, run_dir, resume, base=()):
    # absolute paths: a Ray worker need not share the driver's working directory
    command = [sys.executable, "-m", "nnpipe", "train", str(Path(config).resolve()), "--quiet",
               "--resume" if resume else "--run-dir", str(Path(run_dir).resolve())]
    items = [*base, *_override_args(overrides)]  # the sweep's --set first, then the trial's values
    if resume:  # the run keeps its own config.yaml; the sweep's --set of the keys a resume may
        # change are given again, so the trial's plan is the sweep's whatever its config.yaml says
        items = [item for item in items if ".".join(parse_override(item)[0]) in RESUMABLE]
    for item in items:
        command += ["--set", item]
    return command


def _run_trial(command):
    """Run one trial in its own process; returns the exit code and the last error line."""
    result = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    return result.returncode, lines[-1] if lines else ""


class Sweep:
    def __init__(self, config_path, grid, random=None, seed=0, base=()):
        """``base``: ``--set`` overrides every trial shares."""
        self.config_path, self.base = Path(config_path), list(base)
        self.config = load_config(self.config_path, self.base)  # validates the base config first
        self.grid, self.random, self.seed = grid, random, seed
        self.trials = trials(grid, random, seed)
        for overrides in self.trials:  # a bad value fails here, before anything runs
            load_config(self.config_path, [*self.base, *_override_args(overrides)])
        key = json.dumps({"config": self.config_path.read_text(), "grid": grid, "random": random, "seed": seed,
                          **({"set": self.base} if self.base else {})}, sort_keys=True)
        self.id = hashlib.sha256(key.encode()).hexdigest()[:8]
        self.dir = Path(self.config.run.root) / self.config.run.name / f"sweep-{self.id}"

    def trial_dir(self, index):
        return self.dir / f"trial-{index:03d}"

    def pending(self):
        """(index, command) for every trial that is not completed yet."""
        work = []
        for index, overrides in enumerate(self.trials):
            run_dir = self.trial_dir(index)
            status = read_json(run_dir / "summary.json", {}).get("status")
            if status == "completed":
                continue
            resume = checkpoint_path(run_dir, "last").is_file()
            if not resume and run_dir.exists() and not writer_alive(run_dir):
                shutil.rmtree(run_dir)  # a trial that never reached a checkpoint starts over
            work.append((index, trial_command(self.config_path, overrides, run_dir, resume, self.base)))
        return work

    def run(self, parallel=1, backend="local", address=None):
        """Run the pending trials; the sweep's folder is locked meanwhile, so the same sweep
        started twice is refused instead of each clearing the other's live trials."""
        self.dir.mkdir(parents=True, exist_ok=True)
        lock = RunLock(self.dir)
        try:
            return self._run(parallel, backend, address)
        finally:
            lock.release()

    def _run(self, parallel, backend, address):
        work = self.pending()
        if backend == "local":
            with ThreadPoolExecutor(max_workers=max(parallel, 1)) as pool:
                outcomes = list(pool.map(lambda item: _run_trial(item[1]), work))
        elif backend == "ray":
            outcomes = _run_on_ray([command for _, command in work], address)
        else:
            raise ConfigError(f"unknown --backend {backend!r}; valid: local, ray")
        errors = {index: outcome for (index, _), outcome in zip(work, outcomes) if outcome[0] != 0}
        return self.report(errors)

    def report(self, errors=None):
        """Write sweep.json and the results tables; return the rows, best first."""
        metric = self.config.train.early_stopping.metric
        rows = []
        for index, overrides in enumerate(self.trials):
            summary = read_json(self.trial_dir(index) / "summary.json", {})
            best = (summary.get("best") or {}).get("value")
            test = summary.get("test") or {}
            rows.append({"trial": index, **{k: json.dumps(v) for k, v in overrides.items()},
                         "status": summary.get("status", "not started"), metric: best,
                         **{f"test_{k}": v for k, v in test.items() if isinstance(v, float)},
                         "run_dir": str(self.trial_dir(index)),
                         "error": (errors or {}).get(index, (0, ""))[1]})
        rank = sort_key(metric)
        rows.sort(key=lambda row: rank(row[metric]))
        write_json(self.dir / "sweep.json", {"id": self.id, "config": str(self.config_path), "grid": self.grid,
                                             "random": self.random, "seed": self.seed, "metric": metric,
                                             "trials": rows})
        columns = list(rows[0]) if rows else []
        for row in rows:
            columns += [k for k in row if k not in columns]
        write_text(self.dir / "results.csv", csv_text(columns, rows))
        shown = [c for c in columns if c not in ("run_dir", "error")]
        lines = ["| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
        for row in rows:
            lines.append("| " + " | ".join(_cell(row.get(c)) for c in shown) + " |")
        write_text(self.dir / "results.md", "\n".join(lines) + "\n")
        return rows


def _cell(value):
    return f"{value:.4f}" if isinstance(value, float) else "" if value is None else str(value)


def _run_on_ray(commands, address=None):
    """Each trial as a Ray task holding one CPU; a local Ray instance unless ``address``."""
    try:
        import ray
    except ImportError:
        raise RunError('--backend ray needs Ray: pip install -e ".[ray]"') from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        remote = ray.remote(num_cpus=1)(_run_trial)
        return ray.get([remote.remote(command) for command in commands])
    finally:
        if started_here:
            ray.shutdown()
