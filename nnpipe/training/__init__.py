"""Training: the loop, checkpoints, metrics, run directories, MPI and sweeps."""
from .assemble import assemble
from .checkpoint import (
    CheckpointError,
    find_checkpoint,
    load_checkpoint,
    load_model_weights,
    read_state,
    save_checkpoint,
)
from .loop import Diverged, Interrupted, Trainer
from .rundir import RunError, find_runs, latest_run, resolve_run

__all__ = [
    "CheckpointError", "Diverged", "Interrupted", "RunError", "Trainer", "assemble", "find_checkpoint", "find_runs",
    "latest_run", "load_checkpoint", "load_model_weights", "read_state", "resolve_run", "save_checkpoint",
]
