"""What a training epoch keeps adding up, kept where the values are made.

On a GPU the loss of a step and the task's counts are device arrays: adding them to the
running sums queues device work and reads nothing.  They are read to the host, all in
one transfer, only when a log line, the progress bar, a checkpoint or the end of an
epoch needs them; the losses not yet checked are read at those moments too, and a
non-finite one stops the run as :class:`Diverged`.
"""
from __future__ import annotations

import numpy as np

from ..backend import to_numpy


class Diverged(RuntimeError):
    """The loss became NaN or infinite."""


def _is_count(value):
    """Whether a running sum counts things (it is read back as an int); no host read."""
    dtype = getattr(value, "dtype", None)
    return dtype.kind in "iub" if dtype is not None else isinstance(value, int)


class RunningSums:
    """The epoch's summed loss, sample count and the task's sums (correct predictions,
    pairs, ...); ``summed`` says the loss is already a sum over its terms."""

    def __init__(self, xp, summed):
        self.xp, self.summed = xp, summed
        self.load_state_dict({"loss_sum": 0.0, "samples": 0, "sums": {}})

    def add(self, value, count, sums):
        value = self.xp.asarray(value, dtype=self.xp.float64)  # sums in float64, as on the host
        self.loss_sum = self.loss_sum + (value if self.summed else value * count)
        self.samples += count
        for key, amount in sums.items():
            self.sums[key] = self.sums.get(key, 0) + amount

    def state_dict(self):
        """The sums as host numbers, read in one transfer."""
        keys = sorted(self.sums)
        values = [self.loss_sum] + [self.sums[k] for k in keys]
        host = to_numpy(self.xp.stack([self.xp.asarray(v, dtype=self.xp.float64) for v in values]))
        sums = {k: int(round(v)) if _is_count(self.sums[k]) else float(v) for k, v in zip(keys, host[1:])}
        return {"loss_sum": float(host[0]), "samples": self.samples, "sums": sums}

    def load_state_dict(self, state):
        self.loss_sum, self.samples, self.sums = state["loss_sum"], state["samples"], dict(state["sums"])


class LossCheck:
    """The losses of the steps not yet read, with their step and epoch."""

    def __init__(self, xp):
        self.xp, self.unchecked, self.last = xp, [], None

    def add(self, step, epoch, value):
        self.unchecked.append((step, epoch, value))

    def check(self, kept):
        """Read the unchecked losses (one transfer); raise :class:`Diverged` at the first
        that is not finite (``kept`` says what the last checkpoint is), else remember the
        newest as ``last``."""
        if not self.unchecked:
            return
        values = to_numpy(self.xp.stack([self.xp.asarray(v) for _, _, v in self.unchecked]))
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            step, epoch, _ = self.unchecked[bad[0]]
            raise Diverged(f"loss became {values[bad[0]]} at step {step} (epoch {epoch}); {kept()}. "
                           "Try a lower optimizer.lr or set train.grad_clip")
        self.last = float(values[-1])
        self.unchecked = []
