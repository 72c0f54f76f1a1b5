"""The ``nnpipe`` command line: train, eval, runs, config show, plot.

Exit codes: 0 ok, 1 training failed or diverged, 2 usage or input error, 130 interrupted.
Bad input prints one line starting with ``error:`` and no traceback (``--debug`` shows it).
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import List, Optional, Tuple

import typer

from . import __version__
from .backend import DeviceError
from .config import ConfigError, dump, from_dict, load_config, read_yaml
from .data import DataError
from .nn import StateDictError
from .train import CheckpointError, Diverged, Interrupted, RunError, Trainer, find_runs, resolve_run
from .train.distributed import DistributedError
from .train.rundir import read_json, write_json

app = typer.Typer(help="nnpipe: train MLP, CNN and skip-gram models from YAML configs.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
config_app = typer.Typer(help="Inspect configs.", no_args_is_help=True)
app.add_typer(config_app, name="config")

USER_ERRORS = (ConfigError, DataError, CheckpointError, RunError, DeviceError, StateDictError, DistributedError)
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

SetOption = typer.Option([], "--set", "-s", help="Override a config key: --set optimizer.lr=0.01 (repeatable).")
DebugOption = typer.Option(False, "--debug", help="Show the full traceback on errors.")
RootOption = typer.Option(Path("runs"), "--root", help="Folder holding the runs.")


def _fail(message, code):
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def guarded(command):
    """Turn known failures into one-line messages and the documented exit codes."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        debug = kwargs.get("debug", False)
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except USER_ERRORS as exc:
            if debug:
                raise
            _fail(exc, EXIT_USAGE)
        except Diverged as exc:
            if debug:
                raise
            _fail(f"training diverged: {exc}", EXIT_FAILED)
        except (Interrupted, KeyboardInterrupt) as exc:
            typer.echo(f"\n{exc or 'interrupted'}", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:  # noqa: BLE001  (anything else is a bug or an environment problem)
            if debug:
                raise
            _fail(f"{type(exc).__name__}: {exc} (run again with --debug for the traceback)", EXIT_FAILED)

    return wrapper


def _describe(config):
    model = dict(config.model)
    name = model.pop("name")
    shown = " ".join(f"{k}={v}" for k, v in model.items() if k in ("hidden", "channels", "dim", "dropout"))
    o, s = config.optimizer, config.schedule
    return (f"model {name} {shown} | data {config.data.name} batch {config.data.batch_size} | "
            f"{o.name} lr={o.lr:g} | schedule {s.name} | {config.train.epochs} epochs | seed {config.seed}")


@app.command()
@guarded
def train(
    config: Path = typer.Argument(..., help="YAML config, e.g. configs/mlp.yaml"),
    set_: List[str] = SetOption,
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:N or auto (default: the config's)."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Write the run here instead of runs/<stem>/<time>."),
    resume: Optional[str] = typer.Option(None, help="Continue a run: its directory, a checkpoint in it, or 'latest'."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or per-epoch lines."),
    distributed: Optional[str] = typer.Option(
        None, help="mpi: data-parallel over the ranks of mpiexec -n N (needs .[mpi])."),
    debug: bool = DebugOption,
):
    """Train a model.

    Examples:

      nnpipe train configs/mlp.yaml

      nnpipe train configs/cnn.yaml --set optimizer.lr=0.002 --set train.epochs=5

      nnpipe train configs/mlp.yaml --resume latest

      mpiexec -n 2 nnpipe train configs/cnn.yaml --distributed mpi
    """
    from .train.distributed import make_communicator

    comm = make_communicator(distributed)
    try:
        _train(comm, config, set_, device, run_dir, resume, quiet)
    except Exception as exc:
        if comm.size > 1 and not isinstance(exc, USER_ERRORS + (Diverged, Interrupted)):
            # a failure on one rank would leave the others waiting in a collective forever
            typer.echo(f"error: rank {comm.rank}: {type(exc).__name__}: {exc}; aborting all ranks", err=True)
            comm.abort(EXIT_FAILED)
        raise


def _train(comm, config, set_, device, run_dir, resume, quiet):
    cfg = load_config(config, set_)
    checkpoint = None
    if resume:
        run_dir = resolve_run(resume, cfg.run.root, cfg.run.name)
        checkpoint = Path(resume) if Path(resume).is_file() else run_dir / "checkpoints" / "last.npz"
    echo = (lambda *a: None) if quiet or not comm.is_main else typer.echo
    trainer = Trainer(cfg, run_dir=run_dir, device=device, quiet=quiet, echo=echo, comm=comm)
    if checkpoint:
        trainer.resume(checkpoint)
    else:
        trainer.start_run(set_)
    echo(_describe(cfg))
    echo(f"run directory: {trainer.run_dir}" + (f" (resumed at epoch {trainer.epoch}, step {trainer.step})" if checkpoint else ""))
    summary = trainer.fit()
    if not comm.is_main:
        return
    test = summary.get("test") or {}
    best = summary["best"]
    headline = ", ".join(f"test {k} {v:.4f}" for k, v in test.items() if isinstance(v, float))
    typer.echo(f"done in {summary['wall_time_s']:.1f}s: best {best['metric']} {best['value']} at epoch "
               f"{best['epoch']}; {headline}; run: {trainer.run_dir}")


def _checkpoint_path(target, run, which):
    if target and Path(target).is_file():
        return Path(target)
    path = run / "checkpoints" / f"{which}.npz"
    if not path.is_file():
        raise CheckpointError(f"run {run} has no checkpoints/{which}.npz (was it trained for at least one epoch?)")
    return path


@app.command("eval")
@guarded
def evaluate(
    target: Optional[str] = typer.Argument(None, help="Run directory or checkpoint file (default: the latest run)."),
    split: str = typer.Option("test", help="test or val."),
    checkpoint: str = typer.Option("best", help="best or last."),
    root: Path = RootOption,
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:N or auto."),
    debug: bool = DebugOption,
):
    """Evaluate a trained run and write eval.json into it.

    Examples:

      nnpipe eval

      nnpipe eval runs/mlp/20261125-101500-a3f9 --split val --checkpoint last
    """
    if split not in ("test", "val"):
        raise ConfigError(f"--split must be test or val, got {split!r}")
    if checkpoint not in ("best", "last"):
        raise ConfigError(f"--checkpoint must be best or last, got {checkpoint!r}")
    run = resolve_run(target, root)
    path = _checkpoint_path(target, run, checkpoint)
    cfg = from_dict(read_yaml(run / "config.yaml"))
    trainer = Trainer(cfg, run_dir=run, device=device or "cpu", quiet=True)
    trainer.load_weights(path)
    metrics = trainer.task.evaluate(trainer.model, trainer.loss_fn, split)
    typer.echo(f"run {run} ({path.name}), {split} split")
    for key, value in metrics.items():
        if isinstance(value, float):
            typer.echo(f"  {key:<12} {value:.4f}")
    if "per_class" in metrics:
        typer.echo("  class   accuracy")
        for name, value in metrics["per_class"].items():
            typer.echo(f"  {name:<7} {'-' if value is None else f'{value:.4f}'}")
    write_json(run / "eval.json", {"split": split, "checkpoint": str(path), **metrics})


@app.command()
@guarded
def runs(root: Path = RootOption, debug: bool = DebugOption):
    """List runs: name, model, status, epochs, best metric, time.

    Example: nnpipe runs --root runs
    """
    found = find_runs(root)
    if not found:
        typer.echo(f"no runs under {root}/")
        return
    rows = [("run", "model", "status", "epochs", "best", "time")]
    for run in found:
        summary = read_json(run / "summary.json", {})
        best = summary.get("best") or {}
        value = best.get("value")
        rows.append((f"{run.parent.name}/{run.name}", summary.get("model", "?"), summary.get("status", "?"),
                     f"{summary.get('epochs_completed', '?')}/{summary.get('epochs', '?')}",
                     f"{best.get('metric')} {value:.4f}" if isinstance(value, float) else "-",
                     f"{summary.get('wall_time_s', 0):.0f}s"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


@config_app.command("show")
@guarded
def config_show(config: Path = typer.Argument(..., help="YAML config."), set_: List[str] = SetOption,
                debug: bool = DebugOption):
    """Print the fully resolved config (defaults filled, overrides applied) as YAML.

    Example: nnpipe config show configs/mlp.yaml --set optimizer.lr=0.01
    """
    typer.echo(dump(load_config(config, set_)), nl=False)


@app.command()
@guarded
def plot(
    run_dirs: List[str] = typer.Argument(None, help="Run directories (default: the latest run)."),
    metric: str = typer.Option("loss,accuracy", help="Comma-separated metrics to draw, one panel each."),
    out: Path = typer.Option(Path("curves.png"), help="Output image (.png, .svg, .pdf)."),
    root: Path = RootOption,
    debug: bool = DebugOption,
):
    """Draw training and validation curves of one or several runs on shared axes.

    Example: nnpipe plot runs/mlp/A runs/mlp/B --metric loss --out curves.png
    """
    from .train.plot import plot_runs

    runs_ = [resolve_run(spec, root) for spec in (run_dirs or ["latest"])]
    plot_runs(runs_, [m.strip() for m in metric.split(",") if m.strip()], out)
    typer.echo(f"wrote {out}")


@app.command()
@guarded
def embed(
    run: Optional[str] = typer.Argument(None, help="A skip-gram run directory (default: the latest skip-gram run)."),
    nearest: Optional[str] = typer.Option(None, "--nearest", help="Print the words closest to this one."),
    k: int = typer.Option(10, "-k", help="How many words to print."),
    analogy: Optional[Tuple[str, str, str]] = typer.Option(
        None, "--analogy", help="A B C: words x with B - A + C ≈ x (man king woman → queen)."),
    export: Optional[Path] = typer.Option(None, "--export", help="Write the vectors in word2vec format."),
    binary: bool = typer.Option(False, "--binary", help="With --export: the binary word2vec format."),
    evaluate_: bool = typer.Option(False, "--evaluate", help="WordSim-353 Spearman and Google-analogy accuracy."),
    wordsim: Optional[Path] = typer.Option(None, help="Word-pair similarity file (default: data/wordeval/wordsim353.tsv)."),
    analogies: Optional[Path] = typer.Option(None, help="Analogy file (default: data/wordeval/questions-words.txt)."),
    checkpoint: str = typer.Option("best", help="best or last."),
    root: Path = RootOption,
    debug: bool = DebugOption,
):
    """Query the word vectors of a trained skip-gram run.

    Examples:

      nnpipe embed --nearest frog

      nnpipe embed --analogy man king woman

      nnpipe embed runs/skipgram/20261125-101500-a3f9 --export vectors.txt

      nnpipe embed --evaluate
    """
    from .data.wordeval import ANALOGIES, WORDSIM, default_eval_file
    from .train.embeddings import load_word_vectors

    if not (nearest or analogy or export or evaluate_):
        raise ConfigError("say what to do: --nearest WORD, --analogy A B C, --export FILE or --evaluate")
    if run is None:  # the newest skip-gram run, even if other models were trained since
        skipgram_runs = [found for found in find_runs(root) if (found / "vocab.tsv").is_file()]
        if not skipgram_runs:
            raise RunError(f"no skip-gram runs under {root}/: train one with nnpipe train configs/skipgram.yaml")
        run_dir = skipgram_runs[-1]
    else:
        run_dir = resolve_run(run, root)
    vectors = load_word_vectors(run_dir, checkpoint)
    if nearest:
        word = nearest.lower()
        _print_words(f"nearest to {word!r}", vectors.nearest(word, k))
    if analogy:
        a, b, c = (w.lower() for w in analogy)
        _print_words(f"{b} - {a} + {c}", vectors.analogy(a, b, c, k))
    if evaluate_:
        rho, used, oov = vectors.evaluate_word_pairs(wordsim or default_eval_file(WORDSIM))
        typer.echo(f"WordSim-353 Spearman {rho:.4f} ({used} pairs, {oov} out of vocabulary)")
        accuracy, sections, answered, skipped = vectors.evaluate_analogies(analogies or default_eval_file(ANALOGIES))
        typer.echo(f"analogy accuracy {accuracy:.4f} ({answered} questions, {skipped} out of the "
                   f"30,000 most frequent words)")
        for section, value in sections.items():
            typer.echo(f"  {section:<28} {value:.4f}")
    if export:
        vectors.save_word2vec(export, binary=binary)
        typer.echo(f"wrote {len(vectors.words):,} vectors of size {vectors.vectors.shape[1]} to {export}")


def _print_words(title, rows):
    typer.echo(title)
    for rank, (word, score) in enumerate(rows, 1):
        typer.echo(f"  {rank:>3}  {word:<20} {score:.4f}")


@app.command()
@guarded
def summary(config: Path = typer.Argument(..., help="YAML config."), set_: List[str] = SetOption,
            debug: bool = DebugOption):
    """Layer table of a config's model (name, type, output shape, parameters) and totals.

    Example: nnpipe summary configs/cnn.yaml --set model.channels='[8, 16]'
    """
    from .train.inspect_model import format_table, layer_table, model_from_config

    model, batch, _ = model_from_config(load_config(config, set_))
    typer.echo(format_table(layer_table(model, batch)))


@app.command()
@guarded
def graph(
    target: str = typer.Argument(..., help="A YAML config, or an expression such as '3*sqrt(x)*(log(x)+1/x**2)'."),
    var: List[str] = typer.Option([], "--var", help="A variable of the expression: --var x=1.2 (repeatable)."),
    out: Path = typer.Option(Path("graph.dot"), help="graph.dot, or .png/.svg (needs Graphviz's dot)."),
    set_: List[str] = SetOption,
    debug: bool = DebugOption,
):
    """Draw the computational graph of a model's forward pass and loss, or of an expression.

    Examples:

      nnpipe graph configs/mlp.yaml --out mlp.dot

      nnpipe graph '3*sqrt(x)*(log(x) + 1/x**2)' --var x=1.2 --out example.png
    """
    from .autograd.graph import ExpressionError, parse_expression, to_dot
    from .train.inspect_model import model_from_config

    if Path(target).suffix in (".yaml", ".yml") or Path(target).is_file():
        cfg = load_config(Path(target), set_)
        model, batch, labels = model_from_config(cfg)
        outputs = model(batch)
        loss_name = cfg.loss.name
        from .nn import build_loss

        loss = build_loss(loss_name)(outputs, labels) if labels is not None else build_loss(loss_name)(outputs)
        loss.name = f"loss ({loss_name})"
        title = cfg.run.name
    else:
        variables = {}
        for item in var:
            name, _, value = item.partition("=")
            try:
                variables[name.strip()] = float(value)
            except ValueError:
                raise ConfigError(f"--var {item!r}: expected name=number") from None
        try:
            loss, _ = parse_expression(target, variables)
        except ExpressionError as exc:
            raise ConfigError(str(exc)) from None
        loss.backward(retain_graph=True)
        title = "expression"
    dot = to_dot(loss, title=title)
    if out.suffix == ".dot":
        out.write_text(dot)
    else:
        from .train.render import render_dot

        render_dot(dot, out)
    typer.echo(f"wrote {out}")


@app.command()
@guarded
def predict(
    run: str = typer.Argument(..., help="A trained image-classifier run directory (or 'latest')."),
    inputs: List[Path] = typer.Argument(..., help=".npy arrays or PNG/JPEG images."),
    k: int = typer.Option(3, "-k", help="How many classes to show per input."),
    checkpoint: str = typer.Option("best", help="best or last."),
    root: Path = RootOption,
    debug: bool = DebugOption,
):
    """Class probabilities of images, preprocessed exactly as in training.

    Example: nnpipe predict runs/cnn/20261125-101500-a3f9 digit.png --k 3
    """
    from .train.inspect_model import predict as predict_images

    for path, top in predict_images(resolve_run(run, root), inputs, k, checkpoint):
        typer.echo(f"{path}: " + ", ".join(f"{name} {p:.3f}" for name, p in top))


@app.command()
@guarded
def sweep(
    config: Path = typer.Argument(..., help="The base YAML config."),
    grid: List[str] = typer.Option([], "--grid", help="key.path=value1,value2 (repeatable; values are YAML)."),
    random: Optional[int] = typer.Option(None, "--random", help="Run only N trials drawn from the grid."),
    seed: int = typer.Option(0, "--seed", help="Seed of the --random draw."),
    parallel: int = typer.Option(1, "--parallel", help="Trials run at once (local backend)."),
    backend: str = typer.Option("local", "--backend", help="local (subprocesses) or ray (needs .[ray])."),
    address: Optional[str] = typer.Option(None, "--address", help="Address of an existing Ray cluster."),
    debug: bool = DebugOption,
):
    """Run a hyperparameter sweep; each trial is an ordinary run directory.

    Examples:

      nnpipe sweep configs/mlp.yaml --grid optimizer.lr=0.01,0.1 --grid model.hidden='[128],[256]'

      nnpipe sweep configs/mlp.yaml --grid optimizer.lr=0.001,0.003,0.01 --random 2 --backend ray
    """
    from .train.sweep import Sweep, parse_grid

    if not grid:
        raise ConfigError("give at least one --grid key.path=value1,value2")
    plan = Sweep(config, parse_grid(grid), random, seed)
    typer.echo(f"sweep {plan.id}: {len(plan.trials)} trials in {plan.dir} ({backend})")
    rows = plan.run(parallel, backend, address)
    failed = [row for row in rows if row["status"] != "completed"]
    for row in failed:
        typer.echo(f"  trial {row['trial']} {row['status']}: {row['error']}", err=True)
    metric = plan.config.train.early_stopping.metric
    best = rows[0] if rows and isinstance(rows[0][metric], float) else None
    if best:
        typer.echo(f"best: trial {best['trial']} {metric} {best[metric]:.4f} ({best['run_dir']}); "
                   f"table: {plan.dir / 'results.md'}")
    if failed:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def version():
    """Print the nnpipe version."""
    typer.echo(__version__)
