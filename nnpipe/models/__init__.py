"""Models by config name: mlp, cnn, skipgram.

How to add a model: write ``models/<name>.py`` with an options dataclass and a builder
``build(options, rng, input_shape, num_classes, vocab_size)`` decorated
``@MODELS.register("<name>", Options, tags=("classifier",))``; every module here is
imported, so a config can then say ``model: {name: <name>, ...}``.
"""
from ..registry import import_submodules
from .model_registry import MODELS, build_model

import_submodules(__name__)  # each model file registers itself

__all__ = ["MODELS", "build_model"]
