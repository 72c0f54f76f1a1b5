"""``python -m nnpipe`` and the ``nnpipe`` command.  The command line's modules (NumPy,
Numba, the commands) load inside :func:`main`, so a Ctrl-C while they load ends with one
line and exit code 130, like a Ctrl-C anywhere else."""
import sys


def main():
    try:
        from .cli import app
    except KeyboardInterrupt:
        print("\ninterrupted while starting", file=sys.stderr)
        raise SystemExit(130) from None
    app(prog_name="nnpipe")


if __name__ == "__main__":
    main()
