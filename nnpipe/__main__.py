"""``python -m nnpipe`` and the ``nnpipe`` command.  The command line's modules (NumPy,
Numba, the commands) load inside :func:`main`; a Ctrl-C or SIGTERM from the first
instruction ends with one line and exit code 130 (``nnpipe.interrupts``)."""
import sys

from . import interrupts


def main():
    interrupts.defer()  # first, so a SIGTERM while starting is handled too
    from .settings import environment_problem

    problem = environment_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        raise SystemExit(2)
    from .cli import app

    try:
        app(prog_name="nnpipe")
        code = 0
    except SystemExit as stop:
        code = stop.code
    except KeyboardInterrupt:  # outside any command's own handling
        print("\ninterrupted", file=sys.stderr)
        code = 130
    if interrupts.noted_while_starting():  # no command ran to act on it (--help, a usage error)
        print("\ninterrupted while starting", file=sys.stderr)
        code = 130
    interrupts.leave(code)


if __name__ == "__main__":
    main()
