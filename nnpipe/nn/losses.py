"""Losses by the names a config uses.  Each is a callable ``loss(output, target)``; its
other parameters are its options (``loss: {name: cross_entropy, label_smoothing: 0.1}``).

Tags say what a loss compares, so a data kind can accept the right ones:
``classification`` (class scores against integer labels), ``word_vectors`` (the
(centre, context, negatives) vectors of a word-vector model, no target), ``regression``
and ``multilabel`` (targets shaped like the output: no shipped data kind has them).
"""
from __future__ import annotations

import functools

import nnpipe.autograd.functions as F

from ..registry import Registry

LOSSES = Registry("loss", inputs=2)

LOSSES.register("cross_entropy", tags=("classification",))(F.cross_entropy)
LOSSES.register("nll", tags=("classification",))(F.nll)
LOSSES.register("multiclass_hinge", tags=("classification",))(F.multiclass_hinge)
LOSSES.register("mse", tags=("regression",))(F.mse)
LOSSES.register("bce_with_logits", tags=("multilabel",))(F.binary_cross_entropy_with_logits)


@LOSSES.register("sgns", tags=("word_vectors",))
def sgns(output, target=None, reduction: str = "sum"):
    """A word-vector model returns (input table, output table, centre ids, context ids,
    negative ids); target is unused.  Summed over pairs by default, so the learning rate
    is word2vec's per-pair step."""
    return F.skipgram_ns(*output, reduction=reduction)


def build_loss(name, **options):
    """The loss function ``name`` with its options bound, e.g. build_loss('cross_entropy',
    label_smoothing=0.1)."""
    function = LOSSES.get(name).builder
    return functools.partial(function, **LOSSES.options(name, options))
