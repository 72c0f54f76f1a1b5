"""Loss functions, fused for speed and stability; each averages over the batch."""
from __future__ import annotations

from ...backend import get_array_module
from ...options import Fraction, NonNegative
from ..core import Function, Tensor, as_tensor
from .elementwise import _stable_sigmoid

__all__ = [  # the wrappers; F gathers them
    "cross_entropy", "nll", "binary_cross_entropy_with_logits", "multiclass_hinge", "mse",
]


def _labels(labels, like):
    labels = labels.data if isinstance(labels, Tensor) else labels
    xp = get_array_module(like.data)
    labels = xp.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"class labels must be integers, got {labels.dtype}")
    if labels.shape != like.shape[:1]:
        raise ValueError(f"labels of shape {labels.shape} do not match logits of shape {like.shape}")
    return labels


class CrossEntropy(Function):
    """Mean over the batch of -Σ_k t_k log softmax(z)_k, t one-hot (smoothed by ε).

    Forward keeps the softmax probabilities, so backward is (p - t) / N with no second exp.
    """

    def __init__(self, labels, smoothing):
        self.labels, self.smoothing = labels, smoothing

    def forward(self, logits):
        xp = get_array_module(logits)
        n, k = logits.shape
        dtype = logits.dtype.type
        shifted = logits - logits.max(axis=1, keepdims=True)
        self.probs = xp.exp(shifted)
        total = self.probs.sum(axis=1, keepdims=True)
        self.probs /= total
        log_total = xp.log(total[:, 0])
        picked = shifted[xp.arange(n), self.labels] - log_total
        loss = -(1 - dtype(self.smoothing)) * picked.sum()
        if self.smoothing:
            loss += dtype(self.smoothing / k) * (k * log_total.sum() - shifted.sum())
        return xp.asarray(loss / dtype(n), dtype=logits.dtype)

    def backward(self, gy):
        xp = get_array_module(gy)
        n, k = self.probs.shape
        eps = self.probs.dtype.type(self.smoothing)
        grad = self.probs - eps / k if eps else self.probs.copy()
        grad[xp.arange(n), self.labels] -= 1 - eps
        grad *= gy / grad.dtype.type(n)
        return grad


def cross_entropy(logits, labels, label_smoothing: Fraction = 0.0):
    """Softmax cross-entropy from logits (N, K) and integer labels (N,), batch mean."""
    logits = as_tensor(logits)
    return CrossEntropy(_labels(labels, logits), label_smoothing)(logits)


class NLL(Function):
    """Mean of -logp[i, y_i] for log-probabilities ``logp``."""

    def __init__(self, labels):
        self.labels = labels

    def forward(self, logp):
        xp = get_array_module(logp)
        self.shape, self.dtype = logp.shape, logp.dtype
        return -logp[xp.arange(len(logp)), self.labels].mean()

    def backward(self, gy):
        xp = get_array_module(gy)
        grad = xp.zeros(self.shape, dtype=self.dtype)
        grad[xp.arange(self.shape[0]), self.labels] = -gy / self.dtype.type(self.shape[0])
        return grad


def nll(log_probs, labels):
    log_probs = as_tensor(log_probs)
    return NLL(_labels(labels, log_probs))(log_probs)


class BCEWithLogits(Function):
    """Mean of max(z,0) - z·t + log(1 + e^{-|z|})."""

    def forward(self, z, t):
        xp = get_array_module(z)
        self.z, self.t = z, t
        return (xp.maximum(z, 0) - z * t + xp.log1p(xp.exp(-abs(z)))).mean()

    def backward(self, gy):
        n = self.z.dtype.type(self.z.size)
        diff = _stable_sigmoid(self.z) - self.t
        need_z, need_t = self.needs_input_grad
        return (gy * diff / n if need_z else None), (-gy * self.z / n if need_t else None)


def binary_cross_entropy_with_logits(logits, targets):
    logits = as_tensor(logits)
    return BCEWithLogits()(logits, as_tensor(targets, like=logits))


class MulticlassHinge(Function):
    """The SVM loss of the course: mean over i of Σ_{j≠y_i} max(0, s_j - s_{y_i} + Δ)."""

    def __init__(self, labels, margin):
        self.labels, self.margin = labels, margin

    def forward(self, scores):
        xp = get_array_module(scores)
        rows = xp.arange(len(scores))
        margins = scores - scores[rows, self.labels][:, None] + scores.dtype.type(self.margin)
        margins[rows, self.labels] = 0
        self.active = (margins > 0).astype(scores.dtype)
        return (margins * self.active).sum() / scores.dtype.type(len(scores))

    def backward(self, gy):
        xp = get_array_module(gy)
        n = len(self.active)
        grad = self.active.copy()
        grad[xp.arange(n), self.labels] = -self.active.sum(axis=1)
        return grad * (gy / grad.dtype.type(n))


def multiclass_hinge(scores, labels, margin: NonNegative = 1.0):
    scores = as_tensor(scores)
    return MulticlassHinge(_labels(labels, scores), margin)(scores)


def mse(prediction, target):
    """Mean squared error over all entries."""
    diff = prediction - target
    return (diff * diff).mean()
