"""Data kinds by config name (``data: {name: mnist, ...}``).  Each registers an options
dataclass (the keys of the ``data`` section beside the shared ``root`` and
``batch_size``) and a task class, which says which models and losses it accepts by their
tags, supplies batches, computes a batch's loss and running sums, and evaluates."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..registry import Registry


@dataclass
class DataCommon:
    root: Optional[str] = None  # default: $NNPIPE_DATA, else the repository's data/
    batch_size: int = 128


TASKS = Registry("data", base=DataCommon)


def build_task(config, xp):
    """The task that ``config.data.name`` names, with its data loaded onto ``xp``."""
    return TASKS.get(config.data.name).builder(config, xp)
