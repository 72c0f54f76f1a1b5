"""A model's layer table, like Keras' ``summary()``: output shapes and parameter counts."""
from __future__ import annotations

from ..autograd import no_grad
from .sequential import Sequential


def layer_table(model, batch):
    """Rows of (name, type, output shape, parameters, trainable parameters) for each
    top-level layer, found by running one forward pass on ``batch``; a word-vector
    model's layers are tables, whose output is one row per word id."""
    if not isinstance(model, Sequential):
        return [(name, type(layer).__name__, tuple(layer.weight.shape[1:]), layer.num_parameters(),
                 layer.num_parameters()) for name, layer in model._modules.items()]
    rows, x = [], batch
    with no_grad():
        for name, layer in model._modules.items():
            x = layer(x)
            count = layer.num_parameters()
            rows.append((name, type(layer).__name__, tuple(x.shape[1:]), count, count))
    return rows


def format_table(rows):
    header = ("layer", "type", "output shape", "params", "trainable")
    cells = [header] + [(n, t, str(s), f"{p:,}", f"{tr:,}") for n, t, s, p, tr in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    lines.insert(1, "-" * len(lines[0]))
    total = sum(r[3] for r in rows)
    lines.append("-" * len(lines[0]))
    lines.append(f"total parameters {total:,} (trainable {sum(r[4] for r in rows):,}), "
                 f"{total * 4 / 1024**2:.2f} MB as float32")
    return "\n".join(lines)
