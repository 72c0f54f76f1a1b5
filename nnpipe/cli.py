"""The ``nnpipe`` command line, assembled from ``nnpipe/commands/`` (one module each).

Exit codes: 0 ok, 1 training failed or diverged, 2 usage or input error, 130 interrupted.
Bad input prints one line starting with ``error:`` and no traceback (``--debug`` shows it).
"""
from __future__ import annotations

import typer

from . import __version__
from .commands import config, data, embed, eval, graph, plot, predict, runs, summary, sweep, train  # noqa: A004

app = typer.Typer(help="nnpipe: train MLP, CNN and word-vector models from YAML configs.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None)

COMMANDS = {
    "train": train.train, "eval": eval.evaluate, "runs": runs.runs, "plot": plot.plot, "embed": embed.embed,
    "summary": summary.summary, "graph": graph.graph, "predict": predict.predict, "sweep": sweep.sweep,
}
for name, command in COMMANDS.items():
    app.command(name)(command)
app.add_typer(config.app, name="config")
app.add_typer(data.app, name="data")


@app.command()
def version():
    """Print the nnpipe version."""
    typer.echo(__version__)
