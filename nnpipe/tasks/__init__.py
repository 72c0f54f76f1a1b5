"""Data kinds (tasks): what the training loop trains on.  One loop serves every model; a
task supplies its batches, the loss of a batch with the running sums it adds, the epoch
metrics and evaluation, and its own state (the loader position) for checkpoints.

How to add a data kind: write ``tasks/<name>.py`` with an options dataclass and a task
class decorated ``@TASKS.register("<name>", Options)``, whose ``accepts`` names the model
and loss tags it trains (see ``images.py``); import it below.
"""
from . import images, words  # noqa: F401  (each registers itself)
from .registry import TASKS, DataCommon, build_task

__all__ = ["TASKS", "DataCommon", "build_task"]
