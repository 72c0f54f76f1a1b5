"""What a training run keeps on disk: its directory (config, overrides, environment,
summary), its loggers and its checkpoints, and the state they hold.

:class:`RunRecords` is the part of :class:`~nnpipe.training.loop.Trainer` that writes and
reads these; the loop itself (``loop.py``) decides when.  Everything that decides what
comes next lives in the ``state_dict()`` of its owner (model parameters, optimizer state,
loader position, the trainer's counters, best metric, RNG and running sums), so a resumed
run continues bit for bit.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

from ..config import dump, load_yaml
from ..loggers import open_loggers
from ..nn import StateDictError, dropout_streams
from .assemble import start_from
from .checkpoint import CheckpointError, link_checkpoint, read_state, save_checkpoint
from .resume import check_resumable
from .rundir import RunLock, checkpoint_path, environment, new_run_dir, read_json, write_json, write_text


class RunRecords:
    """The run directory, summary, loggers and checkpoints of a :class:`Trainer` (which
    sets the attributes these methods read: config, comm, model, optimizer, task, run_dir,
    the counters and the loggers)."""

    # ---- state ---------------------------------------------------------------------------
    def state_dict(self):
        """The trainer's counters at the root; each component's own state below it."""
        return {
            "epoch": self.epoch, "step": self.step, "best": self.best, "bad_epochs": self.bad_epochs,
            "running": self.running.state_dict(), "wall_s": self.wall_s,
            "model_rng": self.model_rng.bit_generator.state,
            "dropout": {name: stream.state_dict() for name, stream in dropout_streams(self.model).items()},
            "world_size": self.comm.size, "config_digest": self.config.digest(), "threads": self.threads,
            "model": dict(self.model.state_dict()), "optimizer": self.optimizer.state_dict(),
            "task": self.task.state_dict(),
        }

    def load_state_dict(self, state):
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.task.load_state_dict(state["task"])
        self.model_rng.bit_generator.state = state["model_rng"]
        saved = state.get("dropout", {})  # absent in runs from before dropout had its own streams
        for name, stream in dropout_streams(self.model).items():
            if name in saved:
                stream.load_state_dict(saved[name])
        self.epoch, self.step = state["epoch"], state["step"]
        self.best, self.bad_epochs = state["best"], state["bad_epochs"]
        self.running.load_state_dict(state["running"])
        self.wall_s = state["wall_s"]

    # ---- run directory -------------------------------------------------------------------
    def start_run(self, overrides=()):
        """Make a fresh run directory and write config, overrides and environment."""
        if self.config.model.init_from:  # before the directory: a file that does not fit leaves nothing
            start_from(self.model, self.config.model.init_from)
        self.made_run_dir = self.comm.is_main and self.run_dir is None
        if self.made_run_dir:
            self.run_dir = new_run_dir(self.config.run.root, self.config.run.name)
        self.run_dir = self.comm.share(self.run_dir)  # every rank reads checkpoints from it
        if not self.comm.is_main:
            return
        checkpoint_path(self.run_dir, "last").parent.mkdir(parents=True, exist_ok=True)
        self.lock = RunLock(self.run_dir)  # held until fit() ends (or this process does)
        write_text(self.run_dir / "config.yaml", dump(self.config))
        write_text(self.run_dir / "overrides.yaml", dump({"set": list(overrides)}))
        write_json(self.run_dir / "env.json", environment(self.device, self.config.seed))
        self.task.save_extras(self.run_dir)
        self._write_summary("running")

    def discard_run(self):
        """Remove what :meth:`start_run` wrote (a run stopped before its first step leaves
        nothing behind).  Only files this process wrote under its lock go; a folder the user
        named stays, emptied; a run another process holds is never touched."""
        if not self.comm.is_main or self.run_dir is None or not self.run_dir.is_dir():
            return
        if getattr(self, "lock", None):
            for path in sorted(self.run_dir.rglob("*"), reverse=True):  # files before their folders
                path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
            self.lock.release()
            self.lock = None
        if self.made_run_dir:
            for folder in (self.run_dir / "checkpoints", self.run_dir):
                with contextlib.suppress(OSError):  # not empty: someone else's files
                    folder.rmdir()

    def _write_summary(self, status, **extra):
        if not self.comm.is_main:
            return
        summary = read_json(self.run_dir / "summary.json", {}) if self.run_dir else {}
        summary.update({"status": status, "model": self.config.model.name, "epochs_completed": self.epoch,
                        "epochs": self.config.train.epochs, "steps": self.step, "best": self.best,
                        "wall_time_s": round(self.wall_s, 3)}, **extra)
        write_json(self.run_dir / "summary.json", summary)

    # ---- checkpoints ---------------------------------------------------------------------
    def _checkpoint(self, *names):
        self.losses.check(self._kept)  # a checkpoint is written only after its losses were seen finite
        if not self.comm.is_main:
            return
        first, *others = (checkpoint_path(self.run_dir, name) for name in names)
        save_checkpoint(first, self.state_dict())
        for path in others:  # the same state under another name: written once
            link_checkpoint(first, path)

    def _save_step_checkpoint(self):
        if not self.comm.is_main:
            return
        self._checkpoint(f"step-{self.step}", "last")
        keep = self.config.train.keep_last
        folder = checkpoint_path(self.run_dir, "last").parent
        steps = sorted(folder.glob("step-*.npz"), key=lambda p: int(p.stem.split("-")[1]))
        for old in steps[:-keep] if keep else steps:
            old.unlink(missing_ok=True)

    def resume(self, path, overrides=()):
        """Restore everything from a checkpoint so training continues as if never stopped;
        ``overrides`` (the --set of this resumption) are added to overrides.yaml.  The
        config must be the run's own, but for the keys a resumption may change (RESUMABLE)."""
        path = Path(path)
        if self.run_dir is None:
            self.run_dir = path.parent.parent
        check_resumable(self.run_dir, self.config)
        state = read_state(path)
        self._keep_threads(state.get("threads"))  # before any step: BLAS's sums depend on the count
        try:
            self.load_state_dict(state)
        except StateDictError as exc:  # names the parameters that do not fit
            raise CheckpointError(f"{path} does not fit the configured model: {exc}") from None
        except (ValueError, KeyError) as exc:
            raise CheckpointError(f"{path} cannot resume this config: {exc}") from None
        if self.comm.is_main:
            self.lock = RunLock(self.run_dir)  # held until fit() ends (or this process does)
            # half-written files of a writer killed with -9: under the lock, only ours to remove
            for leftover in [*self.run_dir.glob(".*.tmp"), *(self.run_dir / "checkpoints").glob(".*.tmp")]:
                leftover.unlink(missing_ok=True)
        # any world size may resume: every rank walks the same global batches
        self.comm.broadcast_parameters(self.model.parameters())
        if self.comm.is_main:
            for logger in self._open_loggers():
                logger.rewind(self.step, self.epoch)
            write_text(self.run_dir / "config.yaml", dump(self.config))
            if overrides:
                record = load_yaml((self.run_dir / "overrides.yaml").read_text()) or {}
                record.setdefault("resumed_with", []).append(list(overrides))
                write_text(self.run_dir / "overrides.yaml", dump(record))
        self._write_summary("running")

    def _open_loggers(self):
        if self.loggers is None and self.comm.is_main:
            self.loggers = open_loggers(self.config.train.loggers, self.run_dir)
        return self.loggers or []

    def _log(self, row):
        for logger in self.loggers or ():
            logger.log(row)

    def _kept(self):
        return ("the last good checkpoint is kept" if self.run_dir and checkpoint_path(self.run_dir, "last").is_file()
                else "no checkpoint had been written yet")
