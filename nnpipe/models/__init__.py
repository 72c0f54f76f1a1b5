"""Models by config name: mlp, cnn, skipgram.

How to add a model: write ``models/<name>.py`` with an options dataclass and a builder
``build(options, rng, input_shape, num_classes, vocab_size)`` decorated
``@MODELS.register("<name>", Options, tags=("classifier",))``, and import it below; a
config then says ``model: {name: <name>, ...}``.
"""
from . import cnn, mlp, skipgram  # noqa: F401  (each registers itself)
from .registry import MODELS, build_model

__all__ = ["MODELS", "build_model"]
