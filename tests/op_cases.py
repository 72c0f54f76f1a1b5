"""The table of differentiable ops under test: nnpipe function, PyTorch reference, inputs.

Each case names how to draw its inputs so that central differences stay away from kinks
(relu at 0, ties in max) and from domains where the function is undefined.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import nnpipe.autograd.functions as F


@dataclass
class OpCase:
    name: str
    fn: object  # (*Tensors) -> Tensor
    torch_fn: object  # (*torch.Tensors) -> torch.Tensor
    shapes: list
    draw: str = "normal"  # normal | positive | spread (distinct values, away from 0)
    integer_args: dict = field(default_factory=dict)

    def inputs(self, seed=0):
        rng = np.random.default_rng(seed)
        arrays = []
        for shape in self.shapes:
            if self.draw == "positive":
                arrays.append(rng.uniform(0.5, 2.0, shape))
            elif self.draw == "spread":
                values = rng.permutation(int(np.prod(shape))) + 1.0
                values *= rng.choice([-1.0, 1.0], values.shape) * 0.37
                arrays.append(values.reshape(shape))
            else:
                arrays.append(rng.standard_normal(shape))
        return arrays


LABELS = np.array([0, 2, 1, 2, 0])
EMB_INDEX = np.array([[1, 3, 1], [0, 3, 3]])
FANCY_INDEX = np.array([0, 2, 0, 1])
GATHER_INDEX = np.array([[0, 2, 2], [1, 1, 0], [3, 0, 1]])


def _torch():
    import torch

    return torch


def _tF():
    return _torch().nn.functional


def _t(array):
    return _torch().as_tensor(array)


# window centres, contexts (sorted by window), the window of each, negatives per window
CBOW_BATCH = (np.array([1, 4, 2]), np.array([0, 2, 3, 5, 1, 4]), np.array([0, 0, 0, 1, 1, 2]),
              np.array([[5, 3], [0, 2], [1, 5]]))
GLOVE_ENTRIES = (np.array([0, 1, 2, 0, 5]), np.array([1, 0, 4, 4, 2]), np.array([3.0, 150.0, 1.5, 0.5, 20.0]))


def _torch_cbow(w_in, w_out, centers, contexts, pair_window, negatives):
    torch = _torch()
    sums = torch.zeros(len(centers), w_in.shape[1], dtype=w_in.dtype).index_add(0, pair_window, w_in[contexts])
    h = sums / torch.bincount(pair_window).to(w_in.dtype)[:, None]
    return -(_tF().logsigmoid((h * w_out[centers]).sum(1)).sum()
             + _tF().logsigmoid(-torch.einsum("bkd,bd->bk", w_out[negatives], h)).sum())


def _torch_glove(w, wc, b, bc, rows, cols, counts):
    weight = (counts / 100.0).pow(0.75).clamp(max=1.0)
    diff = (w[rows] * wc[cols]).sum(1) + b[rows, 0] + bc[cols, 0] - counts.log()
    return 0.5 * (weight * diff * diff).sum()


CASES = [
    OpCase("add", lambda a, b: a + b, lambda a, b: a + b, [(3, 4), (3, 4)]),
    OpCase("add_broadcast", lambda a, b: a + b, lambda a, b: a + b, [(2, 1, 4), (3, 1)]),
    OpCase("add_scalar_tensor", lambda a, b: a + b, lambda a, b: a + b, [(), (3,)]),
    OpCase("sub_broadcast", lambda a, b: a - b, lambda a, b: a - b, [(3, 4), (4,)]),
    OpCase("mul_broadcast", lambda a, b: a * b, lambda a, b: a * b, [(3, 4), (3, 1)]),
    OpCase("div_broadcast", lambda a, b: a / b, lambda a, b: a / b, [(3, 4), (4,)], "positive"),
    OpCase("rdiv_scalar", lambda a: 2.0 / a, lambda a: 2.0 / a, [(5,)], "positive"),
    OpCase("neg", lambda a: -a, lambda a: -a, [(2, 3)]),
    OpCase("pow_scalar", lambda a: a**3, lambda a: a**3, [(2, 3)]),
    OpCase("pow_fractional", lambda a: a**-1.5, lambda a: a**-1.5, [(2, 3)], "positive"),
    OpCase("pow_tensor", lambda a, b: a**b, lambda a, b: a**b, [(2, 3), (3,)], "positive"),
    OpCase("matmul", lambda a, b: a @ b, lambda a, b: a @ b, [(3, 4), (4, 5)]),
    OpCase("matmul_vec_mat", lambda a, b: a @ b, lambda a, b: a @ b, [(4,), (4, 5)]),
    OpCase("matmul_mat_vec", lambda a, b: a @ b, lambda a, b: a @ b, [(3, 4), (4,)]),
    OpCase("matmul_batched_broadcast", lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3, 4), (1, 4, 2)]),
    OpCase("maximum", F.maximum, lambda a, b: _torch().maximum(a, b), [(3, 4), (4,)], "spread"),
    OpCase("abs", F.abs, lambda a: a.abs(), [(3, 4)], "spread"),
    OpCase("exp", F.exp, lambda a: a.exp(), [(3, 4)]),
    OpCase("log", F.log, lambda a: a.log(), [(3, 4)], "positive"),
    OpCase("sqrt", F.sqrt, lambda a: a.sqrt(), [(3, 4)], "positive"),
    OpCase("tanh", F.tanh, lambda a: a.tanh(), [(3, 4)]),
    OpCase("sigmoid", F.sigmoid, lambda a: a.sigmoid(), [(3, 4)]),
    OpCase("relu", F.relu, lambda a: a.relu(), [(3, 4)], "spread"),
    OpCase("leaky_relu", lambda a: F.leaky_relu(a, 0.1), lambda a: _tF().leaky_relu(a, 0.1), [(3, 4)], "spread"),
    OpCase("gelu", F.gelu, lambda a: _tF().gelu(a, approximate="tanh"), [(3, 4)]),
    OpCase("softplus", F.softplus, lambda a: _tF().softplus(a), [(3, 4)]),
    OpCase("log_sigmoid", F.log_sigmoid, lambda a: _tF().logsigmoid(a), [(3, 4)]),
    OpCase("softmax", F.softmax, lambda a: a.softmax(-1), [(3, 5)]),
    OpCase("softmax_axis0", lambda a: F.softmax(a, axis=0), lambda a: a.softmax(0), [(3, 5)]),
    OpCase("log_softmax", F.log_softmax, lambda a: a.log_softmax(-1), [(3, 5)]),
    OpCase("logsumexp", lambda a: F.logsumexp(a, axis=1), lambda a: a.logsumexp(1), [(3, 5)]),
    OpCase("logsumexp_keepdims", lambda a: F.logsumexp(a, axis=0, keepdims=True),
           lambda a: a.logsumexp(0, keepdim=True), [(3, 5)]),
    OpCase("sum_all", lambda a: a.sum(), lambda a: a.sum(), [(3, 4)]),
    OpCase("sum_axes_keepdims", lambda a: a.sum(axis=(0, 2), keepdims=True),
           lambda a: a.sum((0, 2), keepdim=True), [(2, 3, 4)]),
    OpCase("mean_axis", lambda a: a.mean(axis=1), lambda a: a.mean(1), [(2, 3, 4)]),
    OpCase("max_axis", lambda a: a.max(axis=1), lambda a: a.amax(1), [(3, 4)], "spread"),
    OpCase("max_all", lambda a: a.max(), lambda a: a.max(), [(3, 4)], "spread"),
    OpCase("reshape", lambda a: a.reshape(4, 3), lambda a: a.reshape(4, 3), [(3, 4)]),
    OpCase("transpose", lambda a: a.transpose(2, 0, 1), lambda a: a.permute(2, 0, 1), [(2, 3, 4)]),
    OpCase("T", lambda a: a.T, lambda a: a.T, [(3, 4)]),
    OpCase("getitem_slice", lambda a: a[1:, ::2], lambda a: a[1:, ::2], [(3, 4)]),
    OpCase("getitem_fancy_repeats", lambda a: a[FANCY_INDEX], lambda a: a[_t(FANCY_INDEX)], [(3, 4)]),
    OpCase("gather", lambda a: F.gather(a, GATHER_INDEX, axis=1),
           lambda a: _torch().gather(a, 1, _t(GATHER_INDEX)), [(3, 4)]),
    OpCase("broadcast_to", lambda a: F.broadcast_to(a, (2, 3, 4)), lambda a: a.broadcast_to((2, 3, 4)), [(3, 1)]),
    OpCase("sum_to", lambda a: F.sum_to(a, (3, 1)), lambda a: a.sum(0).sum(-1, keepdim=True), [(2, 3, 4)]),
    OpCase("concat", lambda a, b: F.concat([a, b], axis=1), lambda a, b: _torch().cat([a, b], 1), [(2, 3), (2, 2)]),
    OpCase("stack", lambda a, b: F.stack([a, b], axis=1), lambda a, b: _torch().stack([a, b], 1), [(2, 3), (2, 3)]),
    OpCase("linear", F.linear, lambda x, W, b: x @ W + b, [(5, 4), (4, 3), (3,)]),
    OpCase("linear_relu", F.linear_relu, lambda x, W, b: (x @ W + b).relu(), [(5, 4), (4, 3), (3,)]),
    OpCase("linear_relu_no_bias_3d", F.linear_relu, lambda x, W: (x @ W).relu(), [(2, 5, 4), (4, 3)]),
    OpCase("linear_no_bias_3d", F.linear, lambda x, W: x @ W, [(2, 5, 4), (4, 3)]),
    OpCase("embedding", lambda W: F.embedding(W, EMB_INDEX), lambda W: _tF().embedding(_t(EMB_INDEX), W), [(5, 3)]),
    OpCase("batch_norm_2d", lambda x, g, b: F.batch_norm(x, g, b)[0],
           lambda x, g, b: _tF().batch_norm(x, None, None, g, b, training=True), [(6, 3), (3,), (3,)]),
    OpCase("batch_norm_4d", lambda x, g, b: F.batch_norm(x, g, b)[0],
           lambda x, g, b: _tF().batch_norm(x, None, None, g, b, training=True), [(3, 2, 4, 3), (2,), (2,)]),
    OpCase("batch_norm_relu_4d", lambda x, g, b: F.batch_norm(x, g, b, relu=True)[0],
           lambda x, g, b: _tF().batch_norm(x, None, None, g, b, training=True).relu(), [(3, 2, 4, 3), (2,), (2,)]),
    OpCase("conv2d", F.conv2d, lambda x, W, b: _tF().conv2d(x, W, b), [(2, 3, 6, 5), (4, 3, 3, 3), (4,)]),
    OpCase("conv2d_same_padding", lambda x, W, b: F.conv2d(x, W, b, padding=(1, 2)),
           lambda x, W, b: _tF().conv2d(x, W, b, padding=(1, 2)), [(2, 3, 5, 6), (4, 3, 3, 4), (4,)]),
    OpCase("conv2d_stride_pad", lambda x, W: F.conv2d(x, W, stride=2, padding=1),
           lambda x, W: _tF().conv2d(x, W, stride=2, padding=1), [(2, 2, 7, 6), (3, 2, 3, 2)]),
    OpCase("conv2d_winograd", lambda x, W, b: F.conv2d(x, W, b, padding=1),  # 3×3, padding 1, even sizes
           lambda x, W, b: _tF().conv2d(x, W, b, padding=1), [(2, 4, 6, 4), (3, 4, 3, 3), (3,)]),
    # the three paths of the fused block: Winograd (3×3, padding 1), im2col rows, the reference (stride 2)
    OpCase("conv2d_relu_pool_winograd", lambda x, W, b: F.conv2d_relu_pool(x, W, b, padding=1),
           lambda x, W, b: _tF().max_pool2d(_tF().conv2d(x, W, b, padding=1).relu(), 2),
           [(2, 4, 6, 4), (3, 4, 3, 3), (3,)]),
    OpCase("conv2d_relu_pool_rows", lambda x, W, b: F.conv2d_relu_pool(x, W, b, padding=(0, 1)),
           lambda x, W, b: _tF().max_pool2d(_tF().conv2d(x, W, b, padding=(0, 1)).relu(), 2),
           [(2, 1, 5, 6), (3, 1, 2, 3), (3,)]),
    OpCase("conv2d_relu_pool_strided", lambda x, W, b: F.conv2d_relu_pool(x, W, b, stride=2, padding=1),
           lambda x, W, b: _tF().max_pool2d(_tF().conv2d(x, W, b, stride=2, padding=1).relu(), 2),
           [(2, 2, 7, 6), (3, 2, 3, 3), (3,)]),
    OpCase("max_pool2d", lambda x: F.max_pool2d(x, 2), lambda x: _tF().max_pool2d(x, 2), [(2, 3, 6, 4)], "spread"),
    OpCase("max_pool2d_overlap_pad", lambda x: F.max_pool2d(x, 3, stride=2, padding=1),
           lambda x: _tF().max_pool2d(x, 3, stride=2, padding=1), [(2, 2, 7, 6)], "spread"),
    OpCase("avg_pool2d", lambda x: F.avg_pool2d(x, 2), lambda x: _tF().avg_pool2d(x, 2), [(2, 3, 6, 4)]),
    OpCase("avg_pool2d_overlap_pad", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1),
           lambda x: _tF().avg_pool2d(x, 3, stride=2, padding=1), [(2, 2, 7, 6)]),
    OpCase("cross_entropy", lambda z: F.cross_entropy(z, LABELS),
           lambda z: _tF().cross_entropy(z, _t(LABELS)), [(5, 3)]),
    OpCase("cross_entropy_smoothing", lambda z: F.cross_entropy(z, LABELS, label_smoothing=0.1),
           lambda z: _tF().cross_entropy(z, _t(LABELS), label_smoothing=0.1), [(5, 3)]),
    OpCase("nll", lambda z: F.nll(z, LABELS), lambda z: _tF().nll_loss(z, _t(LABELS)), [(5, 3)]),
    OpCase("bce_with_logits", F.binary_cross_entropy_with_logits,
           lambda z, t: _tF().binary_cross_entropy_with_logits(z, t), [(4, 3), (4, 3)]),
    OpCase("mse", F.mse, lambda a, b: _tF().mse_loss(a, b), [(4, 3), (4, 3)]),
    # torch's multi_margin_loss divides by the number of classes; the course's SVM loss does not
    OpCase("multiclass_hinge", lambda s: F.multiclass_hinge(s, LABELS),
           lambda s: _tF().multi_margin_loss(s, _t(LABELS)) * s.shape[1], [(5, 3)], "spread"),
    OpCase("negative_sampling_mean", lambda c, o, n: F.negative_sampling(c, o, n, reduction="mean"),
           lambda c, o, n: -(_tF().logsigmoid((c * o).sum(1)).sum()
                             + _tF().logsigmoid(-_torch().einsum("bkd,bd->bk", n, c)).sum()) / c.shape[0],
           [(4, 3), (4, 3), (4, 2, 3)]),
    OpCase("cbow_ns", lambda w_in, w_out: F.cbow_ns(w_in, w_out, *CBOW_BATCH, reduction="sum", exact=True),
           lambda w_in, w_out: _torch_cbow(w_in, w_out, *(_t(a) for a in CBOW_BATCH)), [(6, 3), (6, 3)]),
    OpCase("glove", lambda w, wc, b, bc: F.glove(w, wc, b, bc, *GLOVE_ENTRIES),
           lambda w, wc, b, bc: _torch_glove(w, wc, b, bc, *(_t(a) for a in GLOVE_ENTRIES)),
           [(6, 3), (6, 3), (6, 1), (6, 1)]),
    OpCase("negative_sampling", F.negative_sampling,
           lambda c, o, n: -(_tF().logsigmoid((c * o).sum(1)).sum()
                             + _tF().logsigmoid(-_torch().einsum("bkd,bd->bk", n, c)).sum()),
           [(4, 3), (4, 3), (4, 2, 3)]),
]
