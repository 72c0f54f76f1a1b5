"""``tensorboard``: TensorBoard event files in the run's ``tensorboard/`` folder, so
``tensorboard --logdir runs`` shows every run's curves, and a word-vector run's vectors in
its embedding projector.

Written with tensorboardX (0.7 MB with protobuf; TensorBoard itself, needed only to look,
is ~57 MB with its server). Tags: ``train/<key>`` for the rows of every log interval
(loss, lr, samples/s or words/s), ``epoch/<key>`` for the epoch rows (train and val
metrics, lr, time, speed), each at the run's global step.  A resumed run tells TensorBoard
to drop the events logged after its checkpoint (``purge_step``), so the curves are those
of an unbroken run.
"""
from __future__ import annotations

import sys

import numpy as np

from .logger_registry import LOGGERS, Logger

FOLDER = "tensorboard"
PROJECTED_WORDS = 10_000  # the most frequent words shown in the projector


def _summary_writer():
    """tensorboardX's SummaryWriter.  tensorboardX imports PyTorch where it is installed, only
    to accept its tensors (1.2 s and 60 MB on this project's machine, for scalars and NumPy
    arrays that do not need it), so PyTorch is kept out while it loads unless it is loaded."""
    if "torch" in sys.modules:
        from tensorboardX import SummaryWriter

        return SummaryWriter
    sys.modules["torch"] = None  # an import of it now fails, and tensorboardX does without
    try:
        from tensorboardX import SummaryWriter
    finally:
        del sys.modules["torch"]  # a later import of PyTorch works as ever
    return SummaryWriter


@LOGGERS.register("tensorboard")
class TensorBoardLogger(Logger):
    requires = ("tensorboardX", "tensorboard")

    def __init__(self, run_dir):
        super().__init__(run_dir)
        self.purge_step = None
        self._writer = None

    @property
    def writer(self):
        if self._writer is None:  # opened at the first row, after a resume has said what to purge
            SummaryWriter = _summary_writer()
            # the file is named by the second it was opened: the step it starts from keeps a resumed
            # run's file (opened within the same second, in a quick test) from replacing the first
            self._writer = SummaryWriter(str(self.run_dir / FOLDER), purge_step=self.purge_step, flush_secs=10,
                                         filename_suffix=f".from-step-{self.purge_step or 0}")
        return self._writer

    def log(self, row):
        group = "epoch" if row.get("kind") == "epoch" else "train"
        for key, value in row.items():
            if key not in ("kind", "step") and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"{group}/{key}", value, row["step"])
        if group == "epoch":
            self.writer.flush()  # the curves are current after every epoch, not only after 10 s

    def rewind(self, step, epochs_done):
        self.purge_step = step + 1

    def add_vectors(self, words, vectors, step):
        shown = min(len(words), PROJECTED_WORDS)
        self.writer.add_embedding(np.asarray(vectors[:shown], np.float32), metadata=list(words[:shown]),
                                  tag="word_vectors", global_step=step)

    def close(self):
        if self._writer is not None:
            self._writer.close()
