"""Batch norm over contiguous (N, C, S) arrays (S: the positions of a channel in an
image, 1 for a dense layer's features): each channel's statistics and output in two passes
over its values, and the backward in two more, where the reference makes a pass per NumPy
expression.  Sums are accumulated in float64.  (Read in place, a convolution's transposed
output took 3-4× as long as copying it first.)  Reference:
``nnpipe.autograd.ops.layer_functions.BatchNorm``.  Each call does the channels ``first`` to
``last`` (excluded): the op runs ranges of channels on the kernel threads; a channel's
arithmetic does not depend on the ranges.  With ``relu`` the ReLU that follows is applied in
the same passes (forward: in the write of y; backward: gy where y > 0, read from y), so the
pair takes no pass of its own over memory; the arithmetic is the two ops' one after the other."""
from __future__ import annotations

import math

from . import jit_math


@jit_math
def batch_norm_forward(x, gamma, beta, eps, relu, y, mean, var, inv_std, first, last):
    """y = (x - mean) * inv_std * gamma + beta per channel (then max(y, 0) with ``relu``);
    fills ``mean``, ``var`` (the biased batch variance) and ``inv_std`` = 1 / sqrt(var + eps)."""
    n, _, s = x.shape
    count = n * s
    for c in range(first, last):
        total = 0.0
        for i in range(n):
            for j in range(s):
                total += x[i, c, j]
        mu = total / count
        squares = 0.0
        for i in range(n):
            for j in range(s):
                d = x[i, c, j] - mu
                squares += d * d
        variance = squares / count
        inverse = 1.0 / math.sqrt(variance + eps)
        scale = gamma[c] * inverse
        shift = beta[c] - mu * scale
        for i in range(n):
            for j in range(s):
                y[i, c, j] = x[i, c, j] * scale + shift
                if relu and y[i, c, j] <= 0:  # as NumPy's maximum(y, 0): NaN passes, -0.0 becomes 0
                    y[i, c, j] = 0
        mean[c], var[c], inv_std[c] = mu, variance, inverse


@jit_math
def batch_norm_backward(x, gy, gamma, mean, inv_std, relu, y, gx, ggamma, gbeta, first, last):
    """The gradients of x, gamma and beta: with x̂ = (x - mean)·inv_std, gbeta = Σ gy,
    ggamma = Σ gy·x̂, gx = gamma·inv_std/m · (m·gy - gbeta - x̂·ggamma) (m values per channel);
    with ``relu``, gy·(y > 0) in place of gy (``y``: the forward's output)."""
    n, _, s = x.shape
    count = n * s
    for c in range(first, last):
        mu, inverse = mean[c], inv_std[c]
        sum_gy, sum_gy_xhat = 0.0, 0.0
        for i in range(n):
            for j in range(s):
                g = gy[i, c, j] * (y[i, c, j] > 0) if relu else gy[i, c, j]
                sum_gy += g
                sum_gy_xhat += g * (x[i, c, j] - mu) * inverse
        gbeta[c], ggamma[c] = sum_gy, sum_gy_xhat
        scale = gamma[c] * inverse / count
        for i in range(n):
            for j in range(s):
                xhat = (x[i, c, j] - mu) * inverse
                g = gy[i, c, j] * (y[i, c, j] > 0) if relu else gy[i, c, j]
                gx[i, c, j] = scale * (count * g - sum_gy - xhat * sum_gy_xhat)
