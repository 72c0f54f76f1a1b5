"""``nnpipe plot``: training curves of runs, drawn with matplotlib (the ``plot`` extra)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..data.user_files import write_output
from ..loggers.jsonl import read_metrics
from ..training import resolve_run
from ..training.rundir import RunError
from .common import DebugOption, RootOption, guarded


@guarded
def plot(
    run_dirs: List[str] = typer.Argument(None, help="Run directories (default: the latest run)."),
    metric: Optional[str] = typer.Option(None, help="Comma-separated metrics to draw, one panel each (default: "
                                         "every metric the first run logs per epoch, loss first)."),
    out: Optional[Path] = typer.Option(None, help="Output image (.png, .svg, .pdf); default: curves.png in the "
                                       "(first) run's directory."),
    root: Path = RootOption,
    debug: bool = DebugOption,
):
    """Draw training and validation curves of one or several runs on shared axes.

    Example: nnpipe plot runs/mlp/A runs/mlp/B --metric loss --out curves.png
    """
    runs = [resolve_run(spec, root) for spec in (run_dirs or ["latest"])]
    out = out or runs[0] / "curves.png"
    metrics = [m.strip() for m in metric.split(",") if m.strip()] if metric else logged_metrics(runs[0])
    plot_runs(runs, metrics, out)
    typer.echo(f"wrote {out}: {', '.join(metrics)} of {', '.join(map(str, runs))}")


def logged_metrics(run):
    """The metrics a run logs per epoch for its splits (loss first): what its curves show."""
    names = []
    for row in read_metrics(Path(run)):
        if row.get("kind") == "epoch":
            names += [key.split("_", 1)[1] for key in row if key.startswith(("train_", "val_"))]
    found = list(dict.fromkeys(names))
    if not found:
        raise RunError(f"{run} has no epoch rows yet: nothing to plot")
    return sorted(found, key=lambda name: name != "loss")


def plot_runs(run_dirs, metrics, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RunError('plotting needs matplotlib: pip install -e ".[plot]"') from None
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    drawn = 0
    for run in run_dirs:
        epochs = [row for row in read_metrics(Path(run)) if row.get("kind") == "epoch"]
        label = f"{Path(run).parent.name}/{Path(run).name}"
        for axis, metric in zip(axes[0], metrics):
            for split, style in (("train", "--"), ("val", "-")):
                key = f"{split}_{metric}"
                points = [(row["epoch"], row[key]) for row in epochs if row.get(key) is not None]
                if points:
                    axis.plot(*zip(*points), style, marker="o", markersize=3, label=f"{label} {split}")
                    drawn += 1
    if not drawn:
        plt.close(figure)
        raise RunError(f"no epoch rows with {', '.join(metrics)} in the given runs")
    for axis, metric in zip(axes[0], metrics):
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    kind = Path(out).suffix.lstrip(".").lower() or "png"
    try:
        write_output(out, lambda handle: figure.savefig(handle, dpi=120, format=kind), "--out")
    except ValueError as exc:  # matplotlib: an image format it does not write
        raise RunError(f"--out {out}: {exc}") from None
    finally:
        plt.close(figure)
