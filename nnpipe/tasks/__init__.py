"""Data kinds (tasks): what the training loop trains on.  One loop serves every model; a
task supplies its batches, the loss of a batch with the running sums it adds, the epoch
metrics and evaluation, and its own state (the loader position) for checkpoints.

How to add a task: write ``tasks/<name>.py`` with an options dataclass and a
subclass of :class:`Task` decorated ``@TASKS.register("<name>", Options)``, whose
``accepts`` names the model and loss tags it trains (see ``images.py``); every module
here is imported, so a config can then say ``data: {name: <name>, ...}``.
"""
from ..registry import import_submodules
from .task_registry import TASKS, DataCommon, Task, build_task

import_submodules(__name__)  # each task registers itself

__all__ = ["TASKS", "DataCommon", "Task", "build_task"]
