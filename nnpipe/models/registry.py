"""Models by config name.  Each registers an options dataclass and a builder; a model is
built from its config section alone plus what the data tells (input shape, classes)."""
from __future__ import annotations

import dataclasses

MODELS = {}


def register(name, options_class):
    def decorator(builder):
        MODELS[name] = (options_class, builder)
        return builder

    return decorator


def model_options(name):
    """The options dataclass of model ``name``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(sorted(MODELS))}")
    return MODELS[name][0]


def build_model(section: dict, rng, input_shape=None, num_classes=None, vocab_size=None):
    """Build the model that ``section['name']`` names from the rest of the section.

    ``rng`` (a numpy Generator) seeds every initialiser and dropout mask.
    """
    section = dict(section)
    name = section.pop("name", None)
    options_class = model_options(name)
    valid = {f.name for f in dataclasses.fields(options_class)}
    unknown = sorted(set(section) - valid)
    if unknown:
        raise ValueError(f"model {name!r} has no option {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    options = options_class(**section)
    builder = MODELS[name][1]
    return builder(options, rng=rng, input_shape=input_shape, num_classes=num_classes, vocab_size=vocab_size)
