"""``python -m nnpipe`` and the ``nnpipe`` command.  The command line's modules (NumPy,
Numba, the commands) load inside :func:`main`, so a Ctrl-C while they load ends with one
line and exit code 130, like a Ctrl-C anywhere else; SIGTERM is treated as Ctrl-C from
the first instruction."""
import signal
import sys


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM is what Ctrl-C is: one line, exit 130, a run cleaned up or resumable


def main():
    signal.signal(signal.SIGTERM, _terminate)  # first, so a SIGTERM while starting is handled too
    from .settings import environment_problem

    problem = environment_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        raise SystemExit(2)
    try:
        from .cli import app
    except KeyboardInterrupt:
        print("\ninterrupted while starting", file=sys.stderr)
        raise SystemExit(130) from None
    app(prog_name="nnpipe")


if __name__ == "__main__":
    main()
