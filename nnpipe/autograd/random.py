"""Random numbers that are the same on every device: a counter-based stream.

``CounterRandom(key).random(shape, xp)`` hashes the positions ``counter … counter+n`` with
SplitMix64's finaliser, in integer arithmetic that NumPy and CuPy do identically, so a
dropout mask is drawn on the GPU itself (nothing made on the host and uploaded per step),
is bit-identical to the CPU's, and the stream's whole state is two integers that a
checkpoint holds.
"""
from __future__ import annotations

import numpy as np

_GOLDEN, _MIX1, _MIX2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


class CounterRandom:
    def __init__(self, key: int, counter: int = 0):
        self.key, self.counter = int(key), int(counter)

    @classmethod
    def spawned_from(cls, rng: np.random.Generator) -> "CounterRandom":
        """A stream with a key of its own from ``rng``'s seed sequence, without drawing from
        ``rng`` (a model's initial weights stay what they were without it)."""
        child = rng.bit_generator.seed_seq.spawn(1)[0]
        return cls(int(child.generate_state(1, np.uint64)[0]) >> 1)  # fits an int64 in a checkpoint

    def random(self, shape, xp=np):
        """Uniform float32 numbers in [0, 1) of ``shape``, on ``xp``'s device."""
        n = int(np.prod(shape))
        z = xp.arange(self.counter, self.counter + n, dtype=xp.uint64) * _GOLDEN + np.uint64(self.key)
        self.counter += n
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z = z ^ (z >> np.uint64(31))
        return ((z >> np.uint64(40)).astype(xp.float32) * np.float32(2.0 ** -24)).reshape(shape)

    def state_dict(self):
        return {"key": self.key, "counter": self.counter}

    def load_state_dict(self, state):
        self.key, self.counter = int(state["key"]), int(state["counter"])
