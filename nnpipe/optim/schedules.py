"""Learning-rate schedules: pure functions of the step (or epoch) count, so a checkpoint
needs only the counter to resume them exactly.

Each schedule is a registered curve ``lr = curve(t, span, base_lr, <options>)`` of the
units ``t`` done after warm-up, out of ``span``; :class:`Schedule` adds the linear warm-up
and the ``interval`` (``step`` or ``epoch``) that every schedule shares.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

from ..options import AtLeastOne, NonNegative, NonNegativeInt, Positive
from ..registry import Registry


@dataclass
class ScheduleCommon:
    interval: Literal["step", "epoch"] = "step"  # what t counts
    warmup: NonNegativeInt = 0  # units of linear warm-up from 0 before the curve starts


SCHEDULES = Registry("schedule", inputs=3, base=ScheduleCommon)


@SCHEDULES.register("constant")
def constant(t, span, base_lr):
    return base_lr


@SCHEDULES.register("step")
def step(t, span, base_lr, step_size: AtLeastOne = 1, gamma: Positive = 0.1):
    """Multiply by ``gamma`` every ``step_size`` units."""
    return base_lr * gamma ** (t // step_size)


@SCHEDULES.register("exponential")
def exponential(t, span, base_lr, gamma: Positive = 0.1):
    return base_lr * gamma**t


@SCHEDULES.register("cosine")
def cosine(t, span, base_lr, min_lr: NonNegative = 0.0):
    """Half a cosine from ``base_lr`` down to ``min_lr`` over the run (SGDR without restarts)."""
    progress = min(t / span, 1.0)
    return min_lr + (base_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


@SCHEDULES.register("linear")
def linear(t, span, base_lr, min_lr: NonNegative = 0.0):
    """word2vec's decay: straight down to a floor of ``min_lr``."""
    return max(min_lr, base_lr * (1 - min(t / span, 1.0)))


class Schedule:
    """lr(t) for t = iterations (``interval='step'``) or epochs done (``interval='epoch'``);
    ``total`` is the number of t units in the run (cosine and linear need it)."""

    def __init__(self, name, base_lr, total=0, warmup=0, interval="step", **options):
        self.name, self.base_lr, self.total, self.warmup, self.interval = name, base_lr, total, warmup, interval
        self.curve = functools.partial(SCHEDULES.get(name).builder, **SCHEDULES.options(name, options))

    @classmethod
    def for_run(cls, section, base_lr, epochs, steps_per_epoch):
        """The schedule a config section names, over ``epochs`` of ``steps_per_epoch`` steps."""
        options = section.options()
        total = epochs * (steps_per_epoch if options.get("interval", "step") == "step" else 1)
        return cls(section.name, base_lr, total, **options)

    def lr_at(self, step, epoch) -> float:
        """The learning rate for the step after ``step`` steps and ``epoch`` epochs done."""
        return self(step if self.interval == "step" else epoch)

    def __call__(self, t: int) -> float:
        if t < self.warmup:
            return self.base_lr * (t + 1) / self.warmup
        return self.curve(t - self.warmup, max(self.total - self.warmup, 1), self.base_lr)
