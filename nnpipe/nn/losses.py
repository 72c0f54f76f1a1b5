"""Losses by the names a config uses.  Each is a callable ``loss(output, target)``; its
other parameters are its options (``loss: {name: cross_entropy, label_smoothing: 0.1}``).

Tags say what a loss compares, so a task can accept the right ones:
``classification`` (class scores against integer labels), ``word_vectors`` (the
(centre, context, negatives) vectors of a word-vector model, no target) and
``word_cooccurrence`` (a model fitted to co-occurrence counts).  Only losses some task
accepts are registered; ``F.mse`` and ``F.binary_cross_entropy_with_logits`` are ops for
Python code until a task trains regression or multi-label targets.
"""
from __future__ import annotations

import functools

import nnpipe.autograd.functions as F

from ..autograd import Tensor
from ..options import NonNegative, Positive, Reduction
from ..registry import Registry

LOSSES = Registry("loss", inputs=2)

LOSSES.register("cross_entropy", tags=("classification",))(F.cross_entropy)
LOSSES.register("nll", tags=("classification",))(F.nll)
LOSSES.register("multiclass_hinge", tags=("classification",))(F.multiclass_hinge)


@LOSSES.register("sgns", tags=("word_vectors",))
def sgns(output, target=None, reduction: Reduction = "sum"):
    """Negative sampling: a word-vector model returns its tables with the batch's ids
    (skip-gram's pairs, or CBOW's windows), which know their op; target is unused.
    Summed over pairs (windows) by default, so the learning rate is word2vec's step."""
    return output.negative_sampling_loss(reduction)


@LOSSES.register("glove", tags=("word_cooccurrence",))
def glove(output, target=None, x_max: Positive = 100.0, alpha: NonNegative = 0.75, reduction: Reduction = "sum"):
    """GloVe's weighted least squares over a batch of co-occurrence entries (the model
    hands over its tables and the entries); summed over entries by default, as GloVe."""
    return F.glove(*output, x_max=x_max, alpha=alpha, reduction=reduction)


@LOSSES.register("ppmi_svd", tags=("word_cooccurrence",))
def ppmi_svd(output, target=None):
    """PPMI-SVD is solved in closed form by the model's one step; its "loss" is the share
    of the PPMI matrix's squared Frobenius norm that the truncated SVD leaves out."""
    return Tensor(output.residual)


def build_loss(name, **options):
    """The loss function ``name`` with its options bound, e.g. build_loss('cross_entropy',
    label_smoothing=0.1); its ``summed`` says whether it adds its terms up (word2vec's and
    GloVe's losses) rather than averaging them (a mean over the batch)."""
    options = LOSSES.options(name, options)
    loss = functools.partial(LOSSES.get(name).builder, **options)
    loss.summed = options.get("reduction") == "sum"
    return loss
