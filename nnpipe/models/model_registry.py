"""Models by config name.  Each registers an options dataclass and a builder; a model is
built from its config section alone plus what the data tells (input shape, classes or
vocabulary size).  Tags say what a model is, so a task can accept it:
``classifier`` (images in, class scores out) or ``word_vectors``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..registry import Registry


@dataclass
class ModelCommon:
    # a safetensors file (nnpipe export) whose weights a new run starts from (PyTorch's names)
    init_from: Optional[str] = None


MODELS = Registry("model", base=ModelCommon)


def build_model(section, rng, input_shape=None, num_classes=None, vocab_size=None):
    """Build the model that ``section['name']`` names from the rest of the section.

    ``rng`` (a numpy Generator) seeds every initialiser and dropout mask.
    """
    section = dict(section)
    name = section.pop("name", None)
    entry = MODELS.get(name)
    options = entry.options(**MODELS.options(name, section))
    return entry.builder(options, rng=rng, input_shape=input_shape, num_classes=num_classes, vocab_size=vocab_size)
