"""``nnpipe train``: train a model from a YAML config, or resume a run."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..models import MODELS
from ..runs import prepare
from ..training import Diverged, Interrupted
from ..training.distributed import make_communicator
from .common import EXIT_FAILED, USER_ERRORS, DebugOption, SetOption, guarded


def describe(config):
    """One line saying what will be trained."""
    shown = " ".join(f"{k}={v}" for k, v in config.model.options().items()
                     if k in ("hidden", "channels", "dim", "dropout"))
    o, s, epochs = config.optimizer, config.schedule, config.train.epochs
    if "closed_form" in MODELS.get(config.model.name).tags:  # PPMI-SVD: no batches, no optimizer
        how = f"data {config.data.name} | solved in closed form"
    else:
        how = f"data {config.data.name} batch {config.data.batch_size} | {o.name} lr={o.lr:g} | schedule {s.name}"
    return (f"model {config.model.name} {shown} | {how} | {epochs} epoch{'s' if epochs != 1 else ''} | "
            f"seed {config.seed}")


@guarded
def train(
    config: Path = typer.Argument(..., help="YAML config, e.g. configs/mlp.yaml"),
    set_: List[str] = SetOption,
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:N or auto (default: the config's)."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Write the run here instead of runs/<stem>/<time>."),
    resume: Optional[str] = typer.Option(None, help="Continue a run: its directory, a checkpoint in it, or 'latest'."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or per-epoch lines."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Threads for the kernels and BLAS (train.threads; "
                                          "default: the cores other processes leave idle)."),
    distributed: Optional[str] = typer.Option(
        None, help="mpi: data-parallel over the ranks of mpiexec -n N (needs nnpipe[mpi])."),
    debug: bool = DebugOption,
):
    """Train a model.

    Examples:

      nnpipe train configs/mlp.yaml

      nnpipe train configs/cnn.yaml --set optimizer.lr=0.002 --set train.epochs=5

      nnpipe train configs/mlp.yaml --resume latest

      mpiexec -n 2 nnpipe train configs/cnn.yaml --distributed mpi
    """
    if threads is not None:
        set_ = [*set_, f"train.threads={threads}"]
    comm = make_communicator(distributed)
    try:
        _train(comm, config, set_, device, run_dir, resume, quiet)
    except Exception as exc:
        if comm.size > 1 and not isinstance(exc, USER_ERRORS + (Diverged, Interrupted)):
            # a failure on one rank would leave the others waiting in a collective forever
            typer.echo(f"error: rank {comm.rank}: {type(exc).__name__}: {exc}; aborting all ranks", err=True)
            comm.abort(EXIT_FAILED)
        raise


def _train(comm, config, set_, device, run_dir, resume, quiet):
    echo = (lambda *a: None) if quiet or not comm.is_main else typer.echo
    trainer = prepare(config, set_, run_dir, resume, device, quiet, echo, comm)
    echo(describe(trainer.config) + (f" | {trainer.threads} thread{'s' if trainer.threads != 1 else ''}"
                                     if trainer.threads else ""))
    resumed = f" (resumed at epoch {trainer.epoch}, step {trainer.step})" if resume else ""
    echo(f"run directory: {trainer.run_dir}{resumed}")
    if resume and set_:  # a resumed run keeps its own plan unless told otherwise, and says so
        echo("changed on resume: " + ", ".join(set_))
    summary = trainer.fit()
    if not comm.is_main:
        return
    test = summary.get("test") or {}
    best = summary["best"]
    headline = ", ".join(f"test {k} {v:.4f}" for k, v in test.items() if isinstance(v, float))
    value = f"{best['value']:.4f}" if isinstance(best["value"], float) else best["value"]
    typer.echo(f"done in {summary['wall_time_s']:.1f}s: best {best['metric']} {value} at epoch "
               f"{best['epoch']}; {headline}; run: {trainer.run_dir}")
