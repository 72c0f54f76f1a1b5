"""Learning-rate schedules: pure functions of the step (or epoch) count, so a checkpoint
needs only the counter to resume them exactly."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Schedule:
    """lr(t) for t = iterations (``interval='step'``) or epochs done (``interval='epoch'``).

    name: constant | step | exponential | cosine | linear.  ``total`` is the number of
    t units in the run (cosine and linear need it); ``warmup`` units of linear warm-up
    from 0 come first.  ``min_lr`` is the floor of cosine and linear decay.
    """

    name: str
    base_lr: float
    total: int = 0
    warmup: int = 0
    interval: str = "step"
    step_size: int = 1
    gamma: float = 0.1
    min_lr: float = 0.0

    NAMES = ("constant", "step", "exponential", "cosine", "linear")

    def __post_init__(self):
        if self.name not in self.NAMES:
            raise ValueError(f"unknown schedule {self.name!r}; valid: {', '.join(self.NAMES)}")
        if self.interval not in ("step", "epoch"):
            raise ValueError(f"schedule interval must be 'step' or 'epoch', got {self.interval!r}")

    def __call__(self, t: int) -> float:
        if t < self.warmup:
            return self.base_lr * (t + 1) / self.warmup
        t -= self.warmup
        span = max(self.total - self.warmup, 1)
        if self.name == "constant":
            return self.base_lr
        if self.name == "step":
            return self.base_lr * self.gamma ** (t // self.step_size)
        if self.name == "exponential":
            return self.base_lr * self.gamma**t
        progress = min(t / span, 1.0)
        if self.name == "cosine":
            return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
        return max(self.min_lr, self.base_lr * (1 - progress))
