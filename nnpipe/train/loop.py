"""The training loop: one loop for every model, driven by a config and a task.

Each step: batch → model → loss → backward → clip → optimizer step (lr from the
schedule) → running metrics → maybe a checkpoint.  Everything that decides what comes
next (parameters, optimizer state, loader position, RNG state, running sums, best
metric) is saved in the checkpoint, so a resumed run continues bit for bit.
"""
from __future__ import annotations

import inspect
import math
import signal
import threading
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import backend
from ..config import Config, ConfigError, dump
from ..models import build_model
from ..nn import LOSSES, build_loss
from ..optim import OPTIMIZERS, Schedule, build_optimizer, clip_grad_norm, clip_grad_value
from .checkpoint import CheckpointError, check_fits, load_checkpoint, save_checkpoint
from .distributed import SingleProcess
from .metrics import MetricsLog
from .rundir import environment, new_run_dir, read_json, write_json
from .tasks import build_task


class Diverged(RuntimeError):
    """The loss became NaN or infinite."""


class Interrupted(RuntimeError):
    """Training stopped on SIGINT/SIGTERM after saving last.npz."""


def _format_row(row):
    parts = []
    for key, value in row.items():
        if key in ("kind", "epoch", "step"):
            continue
        if key == "time_s":
            parts.append(f"{value:.1f}s")
        elif key.endswith("_per_s"):
            parts.append(f"{value:,.0f} {key[:-6]}/s")
        elif key == "lr":
            parts.append(f"lr {value:.3g}")
        else:
            parts.append(f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}")
    return ", ".join(parts)


def _optimizer_options(config: Config) -> dict:
    """The config's optimizer fields that the named optimizer accepts."""
    cfg = config.optimizer
    accepted = inspect.signature(OPTIMIZERS[cfg.name]).parameters
    candidates = {"lr": cfg.lr, "weight_decay": cfg.weight_decay, "momentum": cfg.momentum,
                  "nesterov": cfg.nesterov, "betas": tuple(cfg.betas), "alpha": cfg.alpha}
    if cfg.eps is not None:
        candidates["eps"] = cfg.eps
    return {key: value for key, value in candidates.items() if key in accepted}


class Trainer:
    def __init__(self, config: Config, run_dir=None, device=None, quiet=False, echo=print, comm=None):
        self.comm = comm or SingleProcess()
        quiet = quiet or not self.comm.is_main  # only rank 0 talks
        self.config, self.quiet, self.echo = config, quiet, echo
        self.device = backend.parse_device(device or config.device)
        xp = backend.cupy_module() if self.device.startswith("cuda") else np
        self.task = build_task(config, xp)
        self.model_rng = np.random.default_rng(np.random.SeedSequence(config.seed).spawn(1)[0])
        try:
            self.model = build_model(config.model, self.model_rng, **self.task.model_inputs())
        except ValueError as exc:
            raise ConfigError(f"model: {exc}") from None
        if self.device != "cpu":
            self.model.to(self.device)
        loss_options = {k: getattr(config.loss, k) for k in LOSSES[config.loss.name][1] if hasattr(config.loss, k)}
        self.loss_fn = build_loss(config.loss.name, **loss_options)
        self.optimizer = build_optimizer(config.optimizer.name, self.model.parameters(), **_optimizer_options(config))
        self.comm.broadcast_parameters(self.model.parameters())
        s = config.schedule
        per_epoch = len(self.task.loader)
        total = config.train.epochs * (per_epoch if s.interval == "step" else 1)
        self.schedule = Schedule(s.name, config.optimizer.lr, total, s.warmup, s.interval, s.step_size,
                                 s.gamma, s.min_lr)
        self.summed_loss = self.task.loss_reduction == "sum"
        self.monitor = config.train.early_stopping.metric
        self.maximise = "loss" not in self.monitor
        self.epoch = self.step = 0
        self.best = {"metric": self.monitor, "value": None, "epoch": None}
        self.bad_epochs = 0
        self.running = {"loss_sum": 0.0, "samples": 0, "sums": {}}
        self.wall_s = 0.0
        self.stop_requested = False
        self.callbacks = []  # f(trainer) after every step
        self.run_dir = Path(run_dir) if run_dir else None

    # ---- run directory -------------------------------------------------------------------
    def start_run(self, overrides=()):
        """Make a fresh run directory and write config, overrides and environment."""
        if self.comm.is_main and self.run_dir is None:
            self.run_dir = new_run_dir(self.config.run.root, self.config.run.name)
        self.run_dir = self.comm.share(self.run_dir)  # every rank reads checkpoints from it
        if not self.comm.is_main:
            return
        (self.run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.yaml").write_text(dump(self.config))
        (self.run_dir / "overrides.yaml").write_text(dump({"set": list(overrides)}))
        write_json(self.run_dir / "env.json", environment(self.device, self.config.seed))
        self.task.save_extras(self.run_dir)
        self._write_summary("running")

    def _write_summary(self, status, **extra):
        if not self.comm.is_main:
            return
        summary = read_json(self.run_dir / "summary.json", {}) if self.run_dir else {}
        summary.update({"status": status, "model": self.config.model["name"], "epochs_completed": self.epoch,
                        "epochs": self.config.train.epochs, "steps": self.step, "best": self.best,
                        "wall_time_s": round(self.wall_s, 3)}, **extra)
        write_json(self.run_dir / "summary.json", summary)

    # ---- checkpoints ---------------------------------------------------------------------
    def _checkpoint(self, name):
        if not self.comm.is_main:
            return
        arrays = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        for index, state in enumerate(self.optimizer.state):
            arrays.update({f"optim/{index}/{key}": array for key, array in state.items()})
        manifest = {
            "epoch": self.epoch, "step": self.step, "task": self.task.state_dict(),
            "model_rng": self.model_rng.bit_generator.state,
            "optimizer": {"name": self.config.optimizer.name, "step_count": self.optimizer.step_count,
                          "lr": self.optimizer.lr},
            "best": self.best, "bad_epochs": self.bad_epochs, "running": self.running, "wall_s": self.wall_s,
            "parameters": [[k, list(v.shape), str(v.dtype)] for k, v in self.model.state_dict().items()],
            "config_digest": self.config.digest(), "world_size": self.comm.size,
        }
        save_checkpoint(self.run_dir / "checkpoints" / name, arrays, manifest)

    def _save_step_checkpoint(self):
        if not self.comm.is_main:
            return
        self._checkpoint(f"step-{self.step}.npz")
        self._checkpoint("last.npz")
        keep = self.config.train.keep_last
        steps = sorted(self.run_dir.glob("checkpoints/step-*.npz"), key=lambda p: int(p.stem.split("-")[1]))
        for old in steps[:-keep] if keep else steps:
            old.unlink(missing_ok=True)

    def load_weights(self, path):
        """Load only the model parameters of a checkpoint (for evaluation)."""
        arrays, manifest = load_checkpoint(path)
        check_fits(path, manifest, self.model)
        self.model.load_state_dict({k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")})
        return manifest

    def resume(self, path):
        """Restore everything from a checkpoint so training continues as if never stopped."""
        path = Path(path)
        arrays, manifest = load_checkpoint(path)
        check_fits(path, manifest, self.model)
        if manifest["optimizer"]["name"] != self.config.optimizer.name:
            raise CheckpointError(f"{path} was trained with optimizer {manifest['optimizer']['name']!r}, "
                                  f"the config says {self.config.optimizer.name!r}")
        self.model.load_state_dict({k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")})
        states = [{key: arrays[f"optim/{i}/{key}"] for key in state if f"optim/{i}/{key}" in arrays}
                  for i, state in enumerate(self.optimizer.state)]
        try:
            self.optimizer.load_state_dict({"state": states, "step_count": manifest["optimizer"]["step_count"],
                                            "lr": manifest["optimizer"]["lr"]})
        except ValueError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
        self.task.load_state_dict(manifest["task"])
        self.model_rng.bit_generator.state = manifest["model_rng"]
        self.epoch, self.step = manifest["epoch"], manifest["step"]
        self.best, self.bad_epochs = manifest["best"], manifest["bad_epochs"]
        self.running, self.wall_s = manifest["running"], manifest["wall_s"]
        if self.run_dir is None:
            self.run_dir = path.parent.parent
        # any world size may resume: every rank walks the same global batches
        self.comm.broadcast_parameters(self.model.parameters())
        if self.comm.is_main:
            MetricsLog(self.run_dir).truncate_after(self.step, self.epoch)
            (self.run_dir / "config.yaml").write_text(dump(self.config))
        self._write_summary("running")

    # ---- the loop ------------------------------------------------------------------------
    def _on_signal(self, signum, frame):
        if self.stop_requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.stop_requested = True

    def fit(self):
        """Train to the configured number of epochs (or early stop); returns the summary."""
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                handlers[signum] = signal.signal(signum, self._on_signal)
        log = MetricsLog(self.run_dir) if self.comm.is_main else None
        try:
            # overflow shows up as a non-finite loss and is reported as divergence
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                while self.epoch < self.config.train.epochs:
                    self._train_epoch(log)
                    if self._end_epoch(log):
                        break
                return self._finish()
        except (Interrupted, KeyboardInterrupt):  # a second Ctrl-C stops without saving
            self._write_summary("interrupted")
            raise
        except Diverged as exc:
            self._write_summary("diverged", error=str(exc))
            raise
        except BaseException as exc:
            self._write_summary("failed", error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)

    def _train_epoch(self, log):
        cfg = self.config.train
        loader = self.task.loader
        epoch_label = f"epoch {self.epoch + 1}/{cfg.epochs}"
        bar = tqdm(total=len(loader), initial=loader.batch_index, desc=epoch_label, unit="batch",
                   disable=self.quiet, leave=False, dynamic_ncols=True)
        started = time.perf_counter()
        seen_here = 0
        self.model.train()
        for batch, count in self.task.batches():
            t = self.step if self.schedule.interval == "step" else self.epoch
            self.optimizer.lr = self.schedule(t)
            shard = tuple(part[self.comm.shard(len(batch[0]))] for part in batch)
            loss, sums = self.task.loss(self.model, self.loss_fn, shard)
            value = float(loss.data)
            self.model.zero_grad()
            loss.backward()
            if self.comm.size > 1:
                value, sums = self._combine(value, sums, len(shard[0]), len(batch[0]))
            if not math.isfinite(value):
                raise Diverged(f"loss became {value} at step {self.step + 1} (epoch {self.epoch + 1}); the last good "
                               "checkpoint is kept. Try a lower optimizer.lr or set train.grad_clip")
            if cfg.clip_value:
                clip_grad_value(self.optimizer.params, cfg.clip_value)
            if cfg.grad_clip:
                clip_grad_norm(self.optimizer.params, cfg.grad_clip)
            self.optimizer.step()
            self.step += 1
            self.running["loss_sum"] += value if self.summed_loss else value * count
            self.running["samples"] += count
            for key, amount in sums.items():
                self.running["sums"][key] = self.running["sums"].get(key, 0) + amount
            seen_here += count
            if self.step % cfg.log_every == 0 and log:
                log.append({"kind": "step", "epoch": self.epoch + 1, "step": self.step, "loss": value,
                            "lr": self.optimizer.lr})
            bar.update(1)
            if self.step % 10 == 0 and not self.quiet:
                rate = seen_here / max(time.perf_counter() - started, 1e-9)
                bar.set_postfix_str(self._progress_text(rate), refresh=False)
            for callback in self.callbacks:
                callback(self)
            if isinstance(cfg.checkpoint_every, int) and self.step % cfg.checkpoint_every == 0:
                self.wall_s += time.perf_counter() - started
                started = time.perf_counter()
                self._save_step_checkpoint()
            if self.stop_requested:
                self.wall_s += time.perf_counter() - started
                bar.close()
                self._checkpoint("last.npz")
                raise Interrupted(f"interrupted at step {self.step}; resume with --resume {self.run_dir}")
        bar.close()
        self.epoch_time = time.perf_counter() - started
        self.wall_s += self.epoch_time
        self.epoch_rate = seen_here / max(self.epoch_time, 1e-9)

    def _combine(self, value, sums, local_count, global_count):
        """Global-batch gradients, loss and sums on every rank; the stop flag travels in
        the same Allreduce, so all ranks stop after the same step."""
        keys = sorted(sums)
        weighted = (local_count, global_count) if not self.summed_loss else (1, 1)
        weight = weighted[0] / weighted[1]
        scalars = [value * weight] + [sums[k] for k in keys] + [float(self.stop_requested)]
        reduced = self.comm.combine(self.optimizer.params, *weighted, scalars)
        self.stop_requested = reduced[-1] > 0
        return float(reduced[0]), {k: int(round(v)) for k, v in zip(keys, reduced[1:-1])}

    def _mean_loss(self):
        """The epoch's loss so far, per sample (per pair for a summed loss)."""
        samples = self.running["samples"]
        per = self.running["sums"].get("pairs", samples) if self.summed_loss else samples
        return self.running["loss_sum"] / max(per, 1)

    def _progress_text(self, rate):
        samples = max(self.running["samples"], 1)
        parts = [f"loss {self._mean_loss():.4f}"]
        parts += [f"{k} {v:.4f}" for k, v in self.task.epoch_metrics(self.running["sums"], samples).items()]
        parts.append(f"{rate:,.0f} {self.task.unit}/s")
        return ", ".join(parts)

    def _end_epoch(self, log):
        """Validate, log, checkpoint; True when early stopping says to stop."""
        samples = max(self.running["samples"], 1)
        row = {"kind": "epoch", "epoch": self.epoch + 1, "step": self.step, "lr": self.optimizer.lr,
               "train_loss": self._mean_loss()}
        row.update({f"train_{k}": v for k, v in self.task.epoch_metrics(self.running["sums"], samples).items()})
        validation = self.task.evaluate(self.model, self.loss_fn, "val", self.comm)
        row.update({f"val_{k}": v for k, v in validation.items() if not isinstance(v, dict)})
        row.update({"time_s": round(self.epoch_time, 3), f"{self.task.unit}_per_s": round(self.epoch_rate, 1)})
        self.epoch += 1
        self.running = {"loss_sum": 0.0, "samples": 0, "sums": {}}
        current = row.get(self.monitor)
        improved = current is not None and (
            self.best["value"] is None or (current > self.best["value"] if self.maximise else current < self.best["value"]))
        if improved:
            self.best = {"metric": self.monitor, "value": current, "epoch": self.epoch}
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        if log:
            log.append(row)
        self._checkpoint("last.npz")
        if improved or current is None:
            self._checkpoint("best.npz")
        self._write_summary("running")
        if not self.quiet:
            self.echo(f"epoch {self.epoch}/{self.config.train.epochs}: {_format_row(row)}")
        patience = self.config.train.early_stopping.patience
        if patience is not None and self.bad_epochs >= patience:
            if not self.quiet:
                self.echo(f"early stopping: {self.monitor} has not improved for {patience} epochs")
            return True
        return False

    def _finish(self):
        self.comm.barrier()  # rank 0 has written best.npz before anyone reads it
        best = self.run_dir / "checkpoints" / "best.npz"
        if best.is_file():
            self.load_weights(best)
        test = self.task.evaluate(self.model, self.loss_fn, "test", self.comm)
        self._write_summary("completed", test=test)
        return read_json(self.run_dir / "summary.json") if self.comm.is_main else {}
