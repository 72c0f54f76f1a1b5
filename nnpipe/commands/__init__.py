"""The commands of the ``nnpipe`` command line, one module each.

How to add a command: write ``commands/<name>.py`` with a function ``<name>`` whose
typer parameters are its flags, decorated with ``@guarded`` (from ``common``) so bad
input becomes one ``error:`` line and the documented exit code; then add it to
``COMMANDS`` in ``nnpipe/cli.py``.
"""
