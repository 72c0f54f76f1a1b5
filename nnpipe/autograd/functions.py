"""The public function namespace: ``import nnpipe.autograd.functions as F``."""
from .conv import avg_pool2d, conv2d, max_pool2d
from .ops.arith import abs_ as abs, add, div, matmul, maximum, mul, neg, power, sub  # noqa: A001
from .ops.elementwise import (
    dropout, exp, gelu, leaky_relu, log, log_sigmoid, log_softmax, relu, sigmoid, softmax,
    softplus, sqrt, tanh,
)
from .ops.layers import batch_norm, embedding, linear
from .ops.losses import (
    binary_cross_entropy_with_logits, cross_entropy, mse, multiclass_hinge, nll, sgns,
)
from .ops.reduce import broadcast_to, logsumexp, max, mean, sum, sum_to  # noqa: A001
from .ops.shape import concat, gather, getitem, reshape, stack, transpose

__all__ = [
    "abs", "add", "avg_pool2d", "batch_norm", "binary_cross_entropy_with_logits",
    "broadcast_to", "concat", "conv2d", "cross_entropy", "div", "dropout", "embedding", "exp",
    "gather", "gelu", "getitem", "leaky_relu", "linear", "log", "log_sigmoid", "log_softmax",
    "logsumexp", "matmul", "max", "max_pool2d", "maximum", "mean", "mse", "mul",
    "multiclass_hinge", "neg", "nll", "power", "relu", "reshape", "sgns", "sigmoid", "softmax",
    "softplus", "sqrt", "stack", "sub", "sum", "sum_to", "tanh", "transpose",
]
