"""Loggers: where a run's metrics go (``train.loggers: [jsonl, csv, tensorboard]``).

How to add a logger: write ``loggers/<name>.py`` with a subclass of :class:`Logger`
decorated ``@LOGGERS.register("<name>")``; every module here is imported, so a config can
then name it.  A logger that needs a package names it in ``requires`` (module, extra).
"""
from ..registry import import_submodules
from .logger_registry import LOGGERS, Logger, missing_package, open_loggers

import_submodules(__name__)  # each logger registers itself

__all__ = ["LOGGERS", "Logger", "missing_package", "open_loggers"]
