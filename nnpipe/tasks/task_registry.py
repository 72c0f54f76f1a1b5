"""Data kinds by config name (``data: {name: mnist, ...}``).  Each registers an options
dataclass (the keys of the ``data`` section beside the shared ``root`` and
``batch_size``) and a task class, which says which models and losses it accepts by their
tags, supplies batches, computes a batch's loss and running sums, and evaluates."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..options import AtLeastOne
from ..registry import Registry


@dataclass
class DataCommon:
    root: Optional[str] = None  # default: $NNPIPE_DATA, else the repository's data/
    batch_size: AtLeastOne = 128


TASKS = Registry("task", base=DataCommon)


class Task:
    """What the trainer asks of a task.  A subclass sets ``accepts`` ({"model": tag,
    "loss": tag}) and ``unit`` (what ``batches()`` counts), builds ``self.loader`` (its
    position is the task's checkpointed state) and provides ``sample``, ``model_inputs``,
    ``batches``, ``loss``, ``loss_terms``, ``epoch_metrics`` and ``evaluate``; ``monitors``
    names the epoch metrics that can pick the best epoch."""

    accepts: dict
    unit: str
    monitors: tuple  # the epoch metrics that train.early_stopping.metric may name

    def shard(self, batch, comm):
        """(this rank's part of a global batch, its size, the batch's size) for data
        parallelism; the default splits every array of the batch alike."""
        count = len(batch[0])
        part = comm.shard(count)
        return tuple(array[part] for array in batch), part.stop - part.start, count

    def check_update(self, fused):
        """Refuse (ValueError naming the key) settings that cannot train on the update path
        the trainer chose: ``fused`` when the word-vector ops apply SGD in their backward."""

    def save_extras(self, run_dir):
        """Files beside the config that a finished run needs (e.g. its vocabulary)."""

    def word_vectors(self, model):
        """A word-vector model's vectors with their words (``WordVectors``); None for others."""
        return None

    def state_dict(self):
        return self.loader.state_dict()

    def load_state_dict(self, state):
        self.loader.load_state_dict(state)


def build_task(config, xp):
    """The task that ``config.data.name`` names, with its data loaded onto ``xp``."""
    return TASKS.get(config.data.name).builder(config, xp)
