"""The training loop: one loop for every model, driven by a config and a task.

``train_step`` does forward → backward → combine across ranks → clip → update;
``_after_step`` does the bookkeeping (running sums, log, progress, callbacks, step
checkpoints, stop on a signal); ``_end_epoch`` validates, logs, checkpoints and decides
on early stopping.  What the run writes and reads back (run directory, summary, loggers,
checkpoints, the state they hold) is :class:`~nnpipe.training.records.RunRecords`.
"""
from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..config import ConfigError
from ..data.files import status_after
from ..kernels import THREAD_VARIABLES, IdleCores, start_up, use_compiled, use_threads
from ..optim import build_optimizer, clip_grad_norm
from ..optim.schedules import Schedule
from .assemble import assemble
from .checkpoint import load_model_weights
from .distributed import FIRST_ITEM, SingleProcess
from .metrics import format_row, improved
from .records import RunRecords
from .rundir import checkpoint_path, read_json
from .running import Diverged, LossCheck, RunningSums


class Interrupted(RuntimeError):
    """Training stopped on SIGINT/SIGTERM after saving last.npz."""


class Trainer(RunRecords):
    def __init__(self, config, run_dir=None, device=None, quiet=False, echo=print, comm=None):
        self.comm = comm or SingleProcess()
        idle = IdleCores()  # measured while the data loads
        quiet = quiet or not self.comm.is_main  # only rank 0 talks
        self.config, self.quiet, self.echo = config, quiet, echo
        parts = assemble(config, device, self.comm.local_rank)
        self.device, self.task, self.model, self.loss_fn, self.model_rng = (
            parts.device, parts.task, parts.model, parts.loss_fn, parts.model_rng)
        self.xp = self.task.xp
        self.threads = self._choose_threads(config.train.threads, idle)
        if self.xp is np:
            start_up()  # Numba's one-time set-up belongs to the run's set-up, not its first step
        self.optimizer = build_optimizer(config.optimizer.name, self.model.parameters(), **config.optimizer.options())
        self.comm.broadcast_parameters(self.model.parameters())
        # word2vec's own update: the word-vector ops apply SGD in their backward as they go;
        # with several ranks (gradients are summed first) or clipping the step must wait
        self.fused_update = (config.train.fused_update and self.comm.size == 1 and not config.train.grad_clip
                             and use_compiled(*(p.data for p in self.model.parameters()))
                             and self.optimizer.apply_in_backward(config.train.update_chunks,
                                                                  hogwild=not config.train.deterministic))
        try:
            self.task.check_update(self.fused_update)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.schedule = Schedule.for_run(config.schedule, self.optimizer.lr, config.train.epochs, len(self.task.loader))
        # a summed loss (sgns) already weighs each term; a mean loss is weighed by batch size
        self.summed_loss = self.loss_fn.summed
        self.monitor = config.train.early_stopping.metric
        self.epoch = self.step = 0
        self.best = {"metric": self.monitor, "value": None, "epoch": None}
        self.bad_epochs = 0
        self.running = RunningSums(self.xp, self.summed_loss)
        self.losses = LossCheck(self.xp)  # read and checked per log interval, and before checkpoints
        self.wall_s = 0.0
        self.stop_requested = False
        self.stepped = False  # this process has run a step (and compiled what it needs)
        self.callbacks = []  # f(trainer) after every step
        self.run_dir = Path(run_dir) if run_dir else None
        self.loggers = None  # rank 0's, opened on the run directory by fit() or resume()
        self.resume_command = "--resume {run}"  # the command line sets the whole command

    def _choose_threads(self, requested, idle):
        """The kernels' and BLAS's threads: ``train.threads`` when set; else, in one process
        on the CPU with no thread count set in the environment, the cores that other work
        leaves idle; else what is set (MPI ranks share their node's cores)."""
        if requested is None and (self.comm.size > 1 or THREAD_VARIABLES & set(os.environ)):
            return None
        count = requested or idle.count()
        use_threads(count)
        return count

    def _keep_threads(self, saved):
        """A resumed run keeps the thread count it chose when it started (``saved``: None
        where the environment set it), whatever the machine's load now: BLAS's products
        round differently on another count, and the run continues bit for bit only on the
        same one.  A count given now (``--threads``, ``train.threads``, the environment) wins."""
        if saved and self.threads and self.config.train.threads is None and saved != self.threads:
            use_threads(saved)
            self.threads = saved

    # ---- the loop ------------------------------------------------------------------------
    def _on_signal(self, signum, frame):
        # The first Ctrl-C/SIGTERM only raises a flag: the step in flight finishes, so the
        # checkpoint written next is consistent.  A second one stops at once.
        if self.stop_requested:
            raise KeyboardInterrupt
        self.stop_requested = True

    def fit(self):
        """Train to the configured number of epochs (or early stop); returns the summary."""
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                handlers[signum] = signal.signal(signum, self._on_signal)
        self._open_loggers()
        try:
            # overflow shows up as a non-finite loss and is reported as divergence
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                while self.epoch < self.config.train.epochs:
                    self._train_epoch()
                    if self._end_epoch():
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
            if getattr(self, "progress", None) is not None:
                self.progress.close()  # an error line printed next starts a line of its own
            for logger in self.loggers or ():
                logger.close()
            if getattr(self, "lock", None):
                self.lock.release()

    def train_step(self, batch):
        """One optimisation step on a global batch; returns (the loss as a 0-d array where it
        was computed, the task's sums for this batch)."""
        self.optimizer.lr = self.schedule.lr_at(self.step, self.epoch)
        idle = False
        if self.comm.size > 1:
            whole = batch
            batch, local_count, global_count = self.task.shard(whole, self.comm)  # this rank's part
            if local_count == 0:  # a last batch smaller than the ranks: this rank's part is empty, so it
                # runs the batch's first item (no op needs to handle zero items) and weighs it 0
                batch, idle = self.task.shard(whole, FIRST_ITEM)[0], True
        loss, sums = self.task.loss(self.model, self.loss_fn, batch)
        value = loss.data  # stays on the device: reading it now would wait for the forward pass
        self.model.zero_grad()
        if loss.requires_grad:  # a closed-form step (PPMI-SVD) has solved its model already
            loss.backward()
        if self.comm.size > 1:
            value, sums = self._combine(value, sums, local_count, global_count, idle)
        self.losses.add(self.step + 1, self.epoch + 1, value)
        if self.xp is np or (self.step + 1) % self.config.train.log_every == 0:
            self.losses.check(self._kept)  # on the CPU before every update; on a GPU once per log interval
        if self.config.train.grad_clip:
            clip_grad_norm(self.optimizer.params, self.config.train.grad_clip)
        self.optimizer.step()
        self.step += 1
        return value, sums

    FIRST_STEP_WAIT = 3.0  # seconds before the first step says why it is slow

    def _first_step_status(self):
        """The first step of this process compiles the kernels on a fresh install (Numba on
        the CPU, CuPy's on a GPU; tens of seconds, cached afterwards): if it is still running
        after a few seconds, a status line says so instead of a silent wait."""
        if self.quiet or self.stepped:
            return contextlib.nullcontext()
        self.stepped = True
        return status_after("compiling the kernels for the first step (once; they are cached for the next runs)",
                            self.FIRST_STEP_WAIT)

    def _combine(self, value, sums, local_count, global_count, idle=False):
        """Make every rank hold the global batch's gradients, loss and sums.  A mean loss
        over a shard is weighed by the shard's share of the batch; a summed loss needs no
        weight; an ``idle`` rank's stand-in item counts for nothing.  The stop flag travels
        in the same Allreduce, so all ranks stop after the same step instead of one rank
        waiting forever in the next collective."""
        keys = sorted(sums)
        weighted = (0, 1) if idle else (1, 1) if self.summed_loss else (local_count, global_count)
        scalars = ([float(value) * weighted[0] / weighted[1]]
                   + [0.0 if idle else float(sums[k]) for k in keys]
                   + [float(self.stop_requested)])
        reduced = self.comm.combine(self.optimizer.params, *weighted, scalars)
        self.stop_requested = reduced[-1] > 0
        return float(reduced[0]), {k: int(round(v)) for k, v in zip(keys, reduced[1:-1])}

    def _train_epoch(self):
        loader = self.task.loader
        self.progress = tqdm(total=len(loader), initial=loader.batch_index, unit="batch", leave=False,
                             desc=f"epoch {self.epoch + 1}/{self.config.train.epochs}", dynamic_ncols=True,
                             disable=self.quiet or not sys.stderr.isatty())  # logs get the epoch lines only
        self.epoch_started = self.segment_started = time.perf_counter()
        self.seen_this_epoch = 0
        self.model.train()
        for batch, count in self.task.batches():
            with self._first_step_status():
                value, sums = self.train_step(batch)
            self._after_step(value, sums, count)
        self.progress.close()
        self.epoch_time = time.perf_counter() - self.epoch_started
        self.epoch_rate = self.seen_this_epoch / max(self.epoch_time, 1e-9)
        self._add_wall_time()

    def _add_wall_time(self):
        now = time.perf_counter()
        self.wall_s += now - self.segment_started
        self.segment_started = now

    def _after_step(self, value, sums, count):
        cfg = self.config.train
        self.running.add(value, count, sums)
        self.seen_this_epoch += count
        rate = self.seen_this_epoch / max(time.perf_counter() - self.epoch_started, 1e-9)
        if self.step % cfg.log_every == 0:  # this step's loss was read by the loss check
            self._log({"kind": "step", "epoch": self.epoch + 1, "step": self.step, "loss": self.losses.last,
                       "lr": self.optimizer.lr, f"{self.task.unit}_per_s": round(rate, 1)})
        self.progress.update(1)
        if self.step % 10 == 0 and not self.quiet and not self.progress.disable:
            self.progress.set_postfix_str(self._progress_text(rate), refresh=False)
        for callback in self.callbacks:
            callback(self)
        if isinstance(cfg.checkpoint_every, int) and self.step % cfg.checkpoint_every == 0:
            self._add_wall_time()  # the checkpoint records the wall time up to now
            self._save_step_checkpoint()
        if self.stop_requested:
            self._add_wall_time()
            self.progress.close()
            self._checkpoint("last")
            raise Interrupted(f"interrupted at step {self.step}; resume with: "
                              + self.resume_command.format(run=shlex.quote(str(self.run_dir))))

    def _mean_loss(self, running):
        """The epoch's loss so far per term: per sample, or per term the task counts for a
        summed loss (skip-gram: per pair)."""
        terms = self.task.loss_terms(running["sums"], running["samples"]) if self.summed_loss else running["samples"]
        return running["loss_sum"] / max(terms, 1)

    def _progress_text(self, rate):
        running = self.running.state_dict()
        samples = max(running["samples"], 1)
        parts = [f"loss {self._mean_loss(running):.4f}"]
        parts += [f"{k} {v:.4f}" for k, v in self.task.epoch_metrics(running["sums"], samples).items()]
        parts.append(f"{rate:,.0f} {self.task.unit}/s")
        return ", ".join(parts)

    def _end_epoch(self):
        """Validate, log, checkpoint; True when early stopping says to stop."""
        self.losses.check(self._kept)
        running = self.running.state_dict()
        samples = max(running["samples"], 1)
        row = {"kind": "epoch", "epoch": self.epoch + 1, "step": self.step, "lr": self.optimizer.lr,
               "train_loss": self._mean_loss(running)}
        row.update({f"train_{k}": v for k, v in self.task.epoch_metrics(running["sums"], samples).items()})
        validation = self.task.evaluate(self.model, self.loss_fn, "val", self.comm)
        row.update({f"val_{k}": v for k, v in validation.items() if not isinstance(v, dict)})
        row.update({"time_s": round(self.epoch_time, 3), f"{self.task.unit}_per_s": round(self.epoch_rate, 1)})
        self.epoch += 1
        self.running = RunningSums(self.xp, self.summed_loss)
        current = row.get(self.monitor)
        better = improved(self.monitor, current, self.best["value"])
        if better:
            self.best = {"metric": self.monitor, "value": current, "epoch": self.epoch}
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        self._log(row)
        self._checkpoint("last", *(["best"] if better or current is None else []))
        self._write_summary("running")
        if not self.quiet:
            self.echo(f"epoch {self.epoch}/{self.config.train.epochs}: {format_row(row)}")
        patience = self.config.train.early_stopping.patience
        if patience is not None and self.bad_epochs >= patience:
            if not self.quiet:
                self.echo(f"early stopping: {self.monitor} has not improved for {patience} epochs")
            return True
        return False

    def _finish(self):
        self.comm.barrier()  # rank 0 has written best.npz before anyone reads it
        best = checkpoint_path(self.run_dir, "best")
        if best.is_file():
            load_model_weights(self.model, best)
        test = self.task.evaluate(self.model, self.loss_fn, "test", self.comm)
        if self.loggers and (vectors := self.task.word_vectors(self.model)) is not None:
            for logger in self.loggers:
                logger.add_vectors(vectors.words, vectors.vectors, self.step)
        self._write_summary("completed", test=test)
        return read_json(self.run_dir / "summary.json") if self.comm.is_main else {}
