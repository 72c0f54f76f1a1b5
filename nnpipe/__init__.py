"""nnpipe: a teaching-grade yet fast deep-learning pipeline on its own autograd engine."""
__version__ = "0.1.0"
