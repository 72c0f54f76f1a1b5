"""What metric values mean: which way is better, and how an epoch row is printed (the
loggers in ``nnpipe/loggers/`` write them)."""
from __future__ import annotations


def maximised(metric):
    """Losses are minimised; every other metric (accuracy, ws353, ...) is maximised."""
    return "loss" not in metric


def sort_key(metric):
    """Sorts values of ``metric`` best first, missing values last."""
    sign = -1 if maximised(metric) else 1
    return lambda value: (value is None, sign * (value or 0))


def improved(metric, value, best):
    """Whether ``value`` beats ``best`` (None: nothing yet) for ``metric``."""
    return value is not None and (best is None or sort_key(metric)(value) < sort_key(metric)(best))


def format_row(row):
    """An epoch row as the one-line summary printed after each epoch."""
    parts = []
    for key, value in row.items():
        if key in ("kind", "epoch", "step"):
            continue
        if key == "time_s":
            parts.append(f"{value:.1f}s")
        elif key.endswith("_per_s"):
            parts.append(f"{value:,.0f} {key[:-6]}/s")
        elif key == "lr":
            parts.append(f"lr {value:.3g}")
        else:
            parts.append(f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}")
    return ", ".join(parts)
