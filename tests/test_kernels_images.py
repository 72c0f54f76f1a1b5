"""The pooling, batch-norm and fused convolution-block kernels against their references
(NNPIPE_KERNELS=reference), and the CNN's use of them."""
import numpy as np
import pytest

import nnpipe.autograd.functions as F
from nnpipe.autograd import Tensor

numba = pytest.importorskip("numba")


@pytest.mark.parametrize("shape,kernel,stride,padding", [
    ((4, 3, 8, 8), 2, 2, 0), ((2, 2, 7, 9), 2, 2, 0), ((2, 3, 9, 8), 3, 2, 1), ((1, 2, 6, 6), 3, 1, 0),
    ((2, 1, 5, 7), 2, 1, 1),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_kernel_matches_the_reference(both_paths, shape, kernel, stride, padding, dtype):
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, shape).astype(dtype)  # many ties: the first maximum must win
    x = np.asfortranarray(x) if shape[0] == 2 else x  # a non-contiguous input too

    def pool():
        tensor = Tensor(x.copy(order="A"), requires_grad=True)
        y = F.max_pool2d(tensor, kernel, stride, padding)
        upstream = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
        (y * Tensor(upstream)).sum().backward()
        return y.data, tensor.grad

    (ref_y, ref_gx), (y, gx) = both_paths(pool)
    np.testing.assert_array_equal(y, ref_y)
    np.testing.assert_allclose(gx, ref_gx, rtol=1e-6)
    assert y.dtype == dtype and gx.dtype == dtype


@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 6, 5), (3, 2, 4, 4, 2)])
@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("relu", [False, True])
def test_batch_norm_kernels_match_the_reference(both_paths, shape, dtype, tolerance, relu):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    x = np.asfortranarray(x) if len(shape) == 4 else x  # a non-contiguous input too
    gamma, beta = rng.uniform(0.5, 2, shape[1]).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    upstream = rng.standard_normal(shape).astype(dtype)

    def normalise():
        inputs = [Tensor(array.copy(order="A"), requires_grad=True) for array in (x, gamma, beta)]
        y, mean, var = F.batch_norm(*inputs, relu=relu)
        (y * Tensor(upstream)).sum().backward()
        return [y.data, mean, var, *(tensor.grad for tensor in inputs)]

    reference, compiled = both_paths(normalise)
    if relu:  # some outputs are cut to 0, not all
        assert 0.1 < np.mean(compiled[0] == 0) < 0.9
    for name, expected, got in zip(["y", "mean", "var", "gx", "ggamma", "gbeta"], reference, compiled):
        assert got.dtype == dtype and got.shape == expected.shape, name
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance * 10, err_msg=name)


def test_cnn_pools_before_a_monotonic_activation_with_the_same_result():
    """max(relu(x)) = relu(max(x)), gradients included: the CNN's order does not change it."""
    import nnpipe.nn as nn

    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((3, 4, 6, 6)).astype(np.float32), requires_grad=True)
    pooled_last = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))(x)
    (pooled_last * pooled_last).sum().backward()
    expected = x.grad
    x.grad = None
    pooled_first = nn.Sequential(nn.MaxPool2d(2), nn.ReLU())(x)
    (pooled_first * pooled_first).sum().backward()
    np.testing.assert_array_equal(pooled_first.data, pooled_last.data)
    np.testing.assert_array_equal(x.grad, expected)


def test_winograd_kernels_apply_the_matrices_named_beside_them():
    """Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A is the 2×2 correlation of a 4×4 tile d with a 3×3 filter g,
    and the input and output kernels compute Bᵀ d B and Aᵀ M A (+ bias; pooled and
    rectified in the fused block's)."""
    from nnpipe.kernels import conv_pool, winograd

    BT, G, AT = winograd.WINOGRAD_BT, winograd.WINOGRAD_G, winograd.WINOGRAD_AT
    rng = np.random.default_rng(0)
    d, g = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
    direct = np.array([[(d[i:i + 3, j:j + 3] * g).sum() for j in range(2)] for i in range(2)])
    np.testing.assert_allclose(AT @ ((G @ g @ G.T) * (BT @ d @ BT.T)) @ AT.T, direct, rtol=1e-12)
    x = rng.standard_normal((1, 1, 2, 2))  # one tile: its 4×4 input is x zero-padded by 1
    v = np.empty((16, 1, 1))
    winograd.winograd_input(x, v)
    padded = np.pad(x[0, 0], 1)
    np.testing.assert_allclose(v[:, 0, 0].reshape(4, 4), BT @ padded @ BT.T, rtol=1e-12)
    m = rng.standard_normal((16, 1, 1))
    tile = AT @ m[:, 0, 0].reshape(4, 4) @ AT.T + 0.25
    y = np.empty((1, 1, 2, 2))
    winograd.winograd_output(m, np.array([0.25]), y)
    np.testing.assert_allclose(y[0, 0], tile, rtol=1e-12)
    pooled, winner = np.empty((1, 1, 1, 1)), np.empty((1, 1, 1, 1), np.int8)
    conv_pool.winograd_output_pool(m, np.array([0.25]), pooled, winner)
    assert pooled[0, 0, 0, 0] == pytest.approx(max(tile.max(), 0.0), rel=1e-12)
    np.testing.assert_allclose(winograd.winograd_weights(g[None, None])[:, 0, 0].reshape(4, 4), G @ g @ G.T)


def test_winograd_gradient_kernels_are_the_transposes_of_the_forward_ones():
    """<forward(a), b> = <a, backward(b)> for the output transform (Aᵀ M A → A dY Aᵀ) and
    the input transform (Bᵀ d B over overlapping, padded tiles → B dV Bᵀ summed back)."""
    from nnpipe.kernels import winograd

    rng = np.random.default_rng(0)
    n, c, h, w = 2, 3, 4, 6
    tiles = n * (h // 2) * (w // 2)
    m, gy = rng.standard_normal((16, c, tiles)), rng.standard_normal((n, c, h, w))
    y, dm = np.empty((n, c, h, w)), np.empty((16, c, tiles))
    winograd.winograd_output(m, np.zeros(c), y)
    winograd.winograd_output_grad(gy, dm)
    assert (y * gy).sum() == pytest.approx((m * dm).sum(), rel=1e-12)
    x, dv = rng.standard_normal((n, c, h, w)), rng.standard_normal((16, c, tiles))
    v, gx = np.empty((16, c, tiles)), np.empty((n, c, h, w))
    winograd.winograd_input(x, v)
    winograd.winograd_input_grad(dv, gx)
    assert (v * dv).sum() == pytest.approx((x * gx).sum(), rel=1e-12)


@pytest.mark.parametrize("shape,weight,padding,path,input_grad", [
    ((3, 5, 6, 8), (4, 5, 3, 3), 1, "winograd", True), ((2, 8, 2, 14), (7, 8, 3, 3), 1, "winograd", True),
    ((2, 1, 6, 6), (3, 1, 3, 3), 1, "rows", True), ((2, 3, 5, 7), (4, 3, 2, 2), 0, "rows", True),
    # a grayscale first layer's 3×3 im2col block: the parameters' gradients straight from
    # the winners (padding 2 too); other first layers keep the GEMM
    ((2, 1, 6, 6), (3, 1, 3, 3), 1, "rows", False), ((3, 1, 4, 10), (5, 1, 3, 3), 2, "rows", False),
    ((2, 3, 6, 6), (3, 3, 3, 3), 1, "rows", False), ((2, 3, 5, 7), (4, 3, 2, 2), 0, "rows", False),
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, "reference", True),  # odd output height: pooling drops a row
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_conv_block_kernels_match_the_reference(both_paths, shape, weight, padding, path, input_grad, dtype):
    from nnpipe.autograd.ops.conv_block import _fused_path

    rng = np.random.default_rng(0)
    # small integers: Winograd's transforms are exact on them, so ties (the first maximum
    # wins) and zeros (the ReLU's kink) fall the same way on both paths
    x, W = rng.integers(-2, 3, shape).astype(dtype), rng.integers(-1, 2, weight).astype(dtype)
    b = rng.integers(-6, 1, weight[0]).astype(dtype)  # negative biases: the ReLU cuts some maxima
    x = np.asfortranarray(x) if shape[0] == 2 else x  # a non-contiguous input too
    assert _fused_path(x, W, b, (1, 1), (padding, padding)) == path

    def block():
        tensors = [Tensor(a.copy(order="A"), requires_grad=input_grad or a is not x) for a in (x, W, b)]
        y = F.conv2d_relu_pool(*tensors, padding=padding)
        upstream = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
        (y * Tensor(upstream)).sum().backward()
        return (y.data, *(t.grad for t in tensors if t.requires_grad))

    reference, compiled = both_paths(block)
    assert len(compiled) == 4 if input_grad else 3
    np.testing.assert_array_equal(compiled[0], reference[0])
    assert (reference[0] == 0).mean() > 0.1 and compiled[0].dtype == dtype  # the ReLU cut some
    for grad, expected in zip(compiled[1:], reference[1:]):
        np.testing.assert_allclose(grad, expected, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)
        assert grad.dtype == dtype


def test_cnn_fuses_its_conv_relu_pool_blocks_with_the_same_result():
    """The CNN's fused blocks give what Conv2d → MaxPool2d → ReLU give with the same weights."""
    import nnpipe.nn as nn
    from nnpipe.config import load_config
    from nnpipe.models import build_model

    model = build_model(load_config("configs/cnn.yaml").model, np.random.default_rng(0), (1, 28, 28), 10)
    fused = [layer for layer in model if isinstance(layer, nn.Conv2dReLUPool)]
    assert len(fused) == 2
    x = np.random.default_rng(1).standard_normal((4, 1, 28, 28)).astype(np.float32)
    for block in fused:
        plain = nn.Conv2d(block.in_channels, block.out_channels, 3, padding=1)
        plain.load_state_dict(block.state_dict())
        tensors = [Tensor(x, requires_grad=True) for _ in range(2)]
        y_fused = block(tensors[0])
        y_plain = nn.Sequential(plain, nn.MaxPool2d(2), nn.ReLU())(tensors[1])
        (y_fused * y_fused).sum().backward()
        (y_plain * y_plain).sum().backward()
        np.testing.assert_allclose(y_fused.data, y_plain.data, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(tensors[0].grad, tensors[1].grad, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(block.weight.grad, plain.weight.grad, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(block.bias.grad, plain.bias.grad, rtol=1e-4, atol=1e-3)
        x = y_fused.data


@pytest.mark.parametrize("channels, input_grad", [(4, True), (1, False)])  # Winograd; a first layer's im2col
def test_fused_conv_block_gives_the_same_bits_for_any_thread_count(threads, both_paths, channels, input_grad):
    """Batches longer than a chunk are cut the same way at any thread count, and the chunks'
    weight gradients summed in order; the result matches the reference too."""
    from nnpipe.autograd.ops.conv_block import CHUNK

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2 * CHUNK + 3, channels, 4, 6)).astype(np.float32)
    W, b = rng.standard_normal((5, channels, 3, 3)).astype(np.float32), rng.standard_normal(5).astype(np.float32)

    def block():
        tensors = [Tensor(a, requires_grad=input_grad or a is not x) for a in (x, W, b)]
        y = F.conv2d_relu_pool(*tensors, padding=1)
        (y * y).sum().backward()
        return (y.data, *(t.grad for t in tensors if t.requires_grad))

    assert_thread_free_and_near_the_reference(block, threads, both_paths, 1e-4)


def assert_thread_free_and_near_the_reference(function, threads, both_paths, tolerance):
    """``function``'s arrays: the same bits at 1 and 2 threads, within ``tolerance`` of the reference's."""
    one, two = threads(function)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    reference, compiled = both_paths(function)
    for got, expected in zip(compiled, reference):
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("channels, size, kernel, padding, bias, winograd", [
    (3, (9, 8), 3, 1, True, False), (3, (9, 8), 5, 0, False, False), (3, (9, 8), 1, 0, True, False),
    (3, (9, 8), 3, 2, True, False), (5, (8, 6), 3, 1, True, True), (4, (6, 10), 3, 1, False, True),
    (5, (7, 6), 3, 1, True, False),  # odd height: no whole 2×2 tiles, im2col
])
@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 1e-4), (np.float64, 1e-11)])
def test_chunked_conv2d_matches_the_reference_with_the_same_bits_for_any_thread_count(
        threads, both_paths, channels, size, kernel, padding, bias, winograd, dtype, tolerance):
    """A stride-1 conv2d on NumPy runs in chunks of images (70: two whole chunks and a
    partial one), as Winograd F(2×2, 3×3) where it fits, and lays its columns or tiles out
    again in backward; the reference keeps its columns."""
    from nnpipe.autograd.ops.winograd_conv import winograd_conv_fits

    rng = np.random.default_rng(0)
    x = rng.standard_normal((70, channels, *size)).astype(dtype)
    W = rng.standard_normal((4, channels, kernel, kernel)).astype(dtype)
    arrays = (x, W, rng.standard_normal(4).astype(dtype)) if bias else (x, W)
    assert winograd_conv_fits(x, W, (1, 1), (padding, padding)) == winograd

    def convolve():
        tensors = [Tensor(a, requires_grad=True) for a in arrays]
        y = F.conv2d(*tensors, padding=padding)
        (y * y).sum().backward()
        return (y.data, *(t.grad for t in tensors))

    assert_thread_free_and_near_the_reference(convolve, threads, both_paths, tolerance)
