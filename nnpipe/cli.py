"""The ``nnpipe`` command line, assembled from ``nnpipe/commands/`` (one module each).

Exit codes: 0 ok, 1 training failed or diverged, 2 usage or input error, 130 interrupted.
Bad input prints one line starting with ``error:`` and no traceback (``--debug`` shows it).
"""
from __future__ import annotations

import re
import sys

import typer
from typer.core import TyperGroup

try:
    from typer.core import _click as click  # typer 0.25 and later carry their own copy of Click
except ImportError:
    import click

from . import __version__
from .commands import compare, config, data, embed, eval, export, graph, plot, predict, runs, summary, sweep, train  # noqa: A004
from .commands.common import EXIT_INTERRUPTED, say_error


def _click_style(command):
    """Help as Click writes it: metavars in capitals (CONFIG, INTEGER, PATH, TEXT), and the
    examples of a help text kept as written (Click rewraps a paragraph unless a line of
    ``\\b`` comes first; a wrapped ``--set`` breaks copy and paste)."""
    for param in command.params:
        if param.param_type_name == "argument":
            param.metavar = param.name.upper()
        elif not getattr(param, "is_flag", False) and param.metavar is None:
            shown = param.bare_type()
            param.metavar = next((name for key, name in METAVARS if key in shown), "TEXT")
    if command.help:
        command.help = re.sub(r"(\n\n\s*)(?=(Example: )?(nnpipe|mpiexec) )", "\\1\b\n", command.help)
    for child in getattr(command, "commands", {}).values():
        _click_style(child)


METAVARS = (("int", "INTEGER"), ("float", "FLOAT"), ("path", "PATH"))


class OneLineErrors(TyperGroup):
    """Click's usage errors (an unknown option or command, a missing argument, a value of
    the wrong type) as one ``error:`` line with Click's own hint in it, exit 2, instead
    of Click's usage box."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        _click_style(self)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # a bare ``nnpipe``: the help, as before
            if not standalone_mode:
                raise
            exc.show()
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            if not standalone_mode:
                raise
            hint = f"; try '{exc.ctx.command_path} --help'" if getattr(exc, "ctx", None) else ""
            say_error(exc.format_message().rstrip(".") + hint)
            sys.exit(exc.exit_code)
        except typer.Abort:  # end of input at a prompt
            say_error("aborted")
            sys.exit(EXIT_INTERRUPTED)
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(cls=OneLineErrors, help="nnpipe: train MLP, CNN and word-vector models from YAML configs.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None, context_settings={"help_option_names": ["-h", "--help"]})


def _print_version(value: bool):
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def main(version_: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the nnpipe version and exit.")):
    """nnpipe: train MLP, CNN and word-vector models from YAML configs."""

COMMANDS = {
    "train": train.train, "eval": eval.evaluate, "runs": runs.runs, "plot": plot.plot, "embed": embed.embed,
    "summary": summary.summary, "graph": graph.graph, "predict": predict.predict, "sweep": sweep.sweep,
    "compare": compare.compare, "export": export.export,
}
for name, command in COMMANDS.items():
    app.command(name)(command)
app.add_typer(config.app, name="config")
app.add_typer(data.app, name="data")


@app.command()
def version():
    """Print the nnpipe version."""
    typer.echo(__version__)
