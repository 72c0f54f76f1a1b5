"""Differentiable operations, one module per family; ``functions.py`` is the public face."""
