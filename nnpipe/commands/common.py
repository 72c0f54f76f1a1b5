"""What every command shares: exit codes, the error guard and common options."""
from __future__ import annotations

import errno
import functools
import warnings
from pathlib import Path

import numpy as np
import typer

from .. import interrupts
from ..autograd.graph import GraphvizError
from ..backend import DeviceError
from ..config import ConfigError
from ..data import DataError
from ..nn import StateDictError
from ..training import CheckpointError, Diverged, Interrupted, RunError
from ..training.distributed import DistributedError

USER_ERRORS = (ConfigError, DataError, CheckpointError, RunError, DeviceError, StateDictError, DistributedError,
               GraphvizError)
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
# a file name too long, a file where a folder must be, a link loop: the path given is wrong
PATH_ERRORS = (errno.ENAMETOOLONG, errno.ENOTDIR, errno.ELOOP)

SetOption = typer.Option([], "--set", "-s", help="Override a config key: --set optimizer.lr=0.01 (repeatable).")
DebugOption = typer.Option(False, "--debug", help="Show the full traceback on errors.")
RootOption = typer.Option(Path("runs"), "--root", help="Folder holding the runs.")
CheckpointOption = typer.Option("best", "--checkpoint", help="best or last.")


def say_latest(spec, run_dir, what="run", err=False):
    """Name the run that ``latest`` (or no run given) resolved to: the newest may not be
    the run the user thinks of.  ``err``: on stderr, when the output itself goes to stdout."""
    if spec in (None, "latest"):
        typer.echo(f"latest {what}: {run_dir}", err=err)


MAX_MESSAGE = 400  # characters: an error stays one readable line


def say_error(message):
    """Print ``error: message`` as one bounded line on stderr."""
    text = " ".join(str(message).split())  # one line, whatever the exception held
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE - 1] + "…"
    typer.echo(f"error: {text}", err=True)


def fail(message, code):
    say_error(message)
    raise typer.Exit(code)


def guarded(command):
    """Turn known failures into one-line messages and the documented exit codes."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        debug = kwargs.get("debug", False)
        try:
            interrupts.raise_from_now_on()  # a Ctrl-C noted while the command line started stops here
            # NumPy's floating-point warnings never reach the terminal: what matters is
            # reported as an error (divergence, non-finite inputs) or not at all
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return command(*args, **kwargs)
        except typer.Exit:
            raise
        except USER_ERRORS as exc:
            if debug:
                raise
            fail(exc, EXIT_USAGE)
        except Diverged as exc:
            if debug:
                raise
            fail(f"training diverged: {exc}", EXIT_FAILED)
        except BrokenPipeError:
            raise  # the reader went away (| head): Click ends quietly, exit 1
        except (Interrupted, KeyboardInterrupt) as exc:
            typer.echo(f"\n{str(exc) or 'interrupted'}", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:  # anything else is a bug or an environment problem
            if debug:
                raise
            if isinstance(exc, OSError) and exc.errno in PATH_ERRORS:  # a path given cannot be a file's
                fail(f"{exc.filename}: {exc.strerror}", EXIT_USAGE)
            fail(f"{type(exc).__name__}: {exc} (run again with --debug for the traceback)", EXIT_FAILED)

    return wrapper
