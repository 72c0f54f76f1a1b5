"""``python -m nnpipe`` and the ``nnpipe`` command.  The command line's modules (NumPy,
Numba, the commands) load inside :func:`main`, so a Ctrl-C while they load ends with one
line and exit code 130, like a Ctrl-C anywhere else; SIGTERM is treated as Ctrl-C from
the first instruction."""
import os
import signal
import sys


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM is what Ctrl-C is: one line, exit 130, a run cleaned up or resumable


def main():
    signal.signal(signal.SIGTERM, _terminate)  # first, so a SIGTERM while starting is handled too
    try:  # until a command runs (and handles Ctrl-C itself); a fresh install compiles its bytecode here
        from .settings import environment_problem

        problem = environment_problem()
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            raise SystemExit(2)
        from .cli import app

        app(prog_name="nnpipe")  # typer builds the commands first: a Ctrl-C there reaches us
    except KeyboardInterrupt:
        _interrupted_while_starting()


def _interrupted_while_starting():
    """One line and status 130.  Not SystemExit: a KeyboardInterrupt that passed through
    code run by eval or exec (dataclasses, namedtuples and typer's annotations are made so
    while the modules load) leaves CPython exiting by SIGINT (status -2) however it was
    caught.  Nothing is open yet: there is nothing to clean up."""
    sys.stdout.flush()
    print("\ninterrupted while starting", file=sys.stderr, flush=True)
    os._exit(130)


if __name__ == "__main__":
    main()
