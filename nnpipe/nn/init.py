"""Weight initialisers drawing from a seeded ``numpy.random.Generator`` (no global RNG).

Fans are given explicitly, since Linear (in, out) and Conv2d (out, in, kh, kw) lay their
weights out differently.  Arrays are made on the CPU; modules move them with ``to``.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import DEFAULT_DTYPE

GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0),
         "leaky_relu": math.sqrt(2.0 / (1 + 0.01**2))}


def gain(nonlinearity: str) -> float:
    try:
        return GAINS[nonlinearity]
    except KeyError:
        raise ValueError(f"no gain for {nonlinearity!r}; known: {', '.join(GAINS)}") from None


def kaiming_uniform(rng, shape, fan_in, nonlinearity="relu", dtype=DEFAULT_DTYPE):
    """He et al. 2015: U(-b, b) with b = gain·√(3/fan_in)."""
    bound = gain(nonlinearity) * math.sqrt(3.0 / fan_in)
    return rng.uniform(-bound, bound, shape).astype(dtype)


def kaiming_normal(rng, shape, fan_in, nonlinearity="relu", dtype=DEFAULT_DTYPE):
    """He et al. 2015: N(0, σ²) with σ = gain/√fan_in."""
    return (rng.standard_normal(shape) * (gain(nonlinearity) / math.sqrt(fan_in))).astype(dtype)


def xavier_uniform(rng, shape, fan_in, fan_out, dtype=DEFAULT_DTYPE):
    """Glorot & Bengio 2010: U(-b, b) with b = √(6/(fan_in + fan_out))."""
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, shape).astype(dtype)


def xavier_normal(rng, shape, fan_in, fan_out, dtype=DEFAULT_DTYPE):
    """Glorot & Bengio 2010: N(0, σ²) with σ = √(2/(fan_in + fan_out))."""
    return (rng.standard_normal(shape) * math.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


INITIALISERS = {  # by the names a config uses; the Kaiming ones take the nonlinearity's gain
    "kaiming_uniform": lambda rng, shape, fan_in, fan_out, nonlinearity, dtype:
        kaiming_uniform(rng, shape, fan_in, nonlinearity, dtype),
    "kaiming_normal": lambda rng, shape, fan_in, fan_out, nonlinearity, dtype:
        kaiming_normal(rng, shape, fan_in, nonlinearity, dtype),
    "xavier_uniform": lambda rng, shape, fan_in, fan_out, nonlinearity, dtype:
        xavier_uniform(rng, shape, fan_in, fan_out, dtype),
    "xavier_normal": lambda rng, shape, fan_in, fan_out, nonlinearity, dtype:
        xavier_normal(rng, shape, fan_in, fan_out, dtype),
}


def initialise(name, rng, shape, fan_in, fan_out, nonlinearity="relu", dtype=DEFAULT_DTYPE):
    """Dispatch on an initialiser name as a config spells it."""
    if name not in INITIALISERS:
        raise ValueError(f"unknown initialiser {name!r}; valid: {', '.join(INITIALISERS)}")
    return INITIALISERS[name](rng, shape, fan_in, fan_out, nonlinearity, dtype)


def zeros(shape, dtype=DEFAULT_DTYPE):
    return np.zeros(shape, dtype=dtype)
