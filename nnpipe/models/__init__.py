"""Models by config name: mlp, cnn, skipgram."""
from . import cnn, mlp, skipgram  # noqa: F401  (each registers itself)
from .registry import MODELS, build_model, model_options

__all__ = ["MODELS", "build_model", "model_options"]
