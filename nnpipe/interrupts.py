"""Ctrl-C and SIGTERM in the ``nnpipe`` command: one line and status 130 wherever they land.

While the command line starts (modules load, typer builds and parses the command, which
imports pydantic on the way), a signal is only noted: a KeyboardInterrupt raised inside a
library's import can be swallowed there, or pass through code run by eval or exec
(dataclasses, namedtuples, typer's annotations), after which CPython exits by SIGINT
(status -2) however it was caught.  The command's own wrapper then calls
:func:`raise_from_now_on`, which raises the noted one and makes later signals raise
KeyboardInterrupt (the trainer finishes its step and saves first).  ``__main__`` leaves
through :func:`leave` so an interrupted process ends with the status it chose."""
from __future__ import annotations

import os
import signal
import sys

_state = {"deferring": False, "noted": False, "raised": False}


def defer():
    """From now until :func:`raise_from_now_on`: a Ctrl-C or SIGTERM is only noted."""
    _state["deferring"] = True
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _note)


def _note(signum, frame):
    _state["noted"] = True


def _raise(signum, frame):
    _state["raised"] = True
    raise KeyboardInterrupt  # SIGTERM is what Ctrl-C is


def raise_from_now_on():
    """Signals raise KeyboardInterrupt from here on; one noted while starting is raised now.
    Does nothing where :func:`defer` was not called (nnpipe used as a library, tests)."""
    if not _state["deferring"]:
        return
    _state["deferring"] = False
    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGINT, _raise)
    if _state["noted"]:
        _state["noted"], _state["raised"] = False, True
        raise KeyboardInterrupt


def noted_while_starting():
    """Whether a signal came before any command ran (``--help``, a usage error)."""
    return _state["noted"]


def leave(code):
    """Exit with ``code``; after a signal, without CPython's finalisation (which would turn
    an exit after a KeyboardInterrupt seen in eval'd code into death by SIGINT)."""
    if not _state["raised"]:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 1)
