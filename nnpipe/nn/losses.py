"""Losses by the names a config uses.  Each is a callable ``loss(output, target)``."""
from __future__ import annotations

import functools

import nnpipe.autograd.functions as F


def _sgns(output, target=None, reduction="sum"):
    """The skip-gram model returns (centre, context, negatives) vectors; target is unused.
    Summed over pairs by default, so the learning rate is word2vec's per-pair step."""
    return F.sgns(*output, reduction=reduction)


LOSSES = {
    "cross_entropy": (F.cross_entropy, {"label_smoothing"}),
    "nll": (F.nll, set()),
    "mse": (F.mse, set()),
    "bce_with_logits": (F.binary_cross_entropy_with_logits, set()),
    "multiclass_hinge": (F.multiclass_hinge, {"margin"}),
    "sgns": (_sgns, {"reduction"}),
}


def build_loss(name, **options):
    """The loss function ``name`` with its options bound, e.g. build_loss('cross_entropy',
    label_smoothing=0.1)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid: {', '.join(LOSSES)}")
    function, allowed = LOSSES[name]
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(
            f"loss {name!r} takes no option {', '.join(sorted(unknown))}"
            + (f"; valid: {', '.join(sorted(allowed))}" if allowed else "")
        )
    return functools.partial(function, **options) if options else function
