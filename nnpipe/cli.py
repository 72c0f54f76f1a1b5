"""The ``nnpipe`` command line."""
import typer

from . import __version__

app = typer.Typer(help="nnpipe: train MLP, CNN and skip-gram models from YAML configs.", no_args_is_help=True)


@app.command()
def version():
    """Print the nnpipe version."""
    typer.echo(__version__)
