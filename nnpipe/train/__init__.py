"""Training: the loop, checkpoints, metrics and run directories."""
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .loop import Diverged, Interrupted, Trainer
from .rundir import RunError, find_runs, latest_run, resolve_run

__all__ = [
    "CheckpointError", "Diverged", "Interrupted", "RunError", "Trainer", "find_runs", "latest_run",
    "load_checkpoint", "resolve_run", "save_checkpoint",
]
