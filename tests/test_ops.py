"""Every differentiable op: float64 gradcheck, dtype preservation, and PyTorch agreement."""
import numpy as np
import pytest

from nnpipe import backend
from nnpipe.autograd import SparseRows, Tensor, gradcheck

from op_cases import CASES

IDS = [case.name for case in CASES]


def _grad_array(grad):
    return backend.to_numpy(grad.to_dense() if isinstance(grad, SparseRows) else grad)


def _run(case, arrays, xp=np):
    tensors = [Tensor(xp.asarray(a), requires_grad=True) for a in arrays]
    out = case.fn(*tensors)
    weights = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype)
    (out * Tensor(xp.asarray(weights))).sum().backward()
    return out, tensors, weights


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck_float64(case):
    assert gradcheck(case.fn, case.inputs())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_output_and_grad_keep_dtype(case, dtype, xp):
    arrays = [a.astype(dtype) for a in case.inputs()]
    out, tensors, _ = _run(case, arrays, xp)
    assert out.dtype == dtype
    for tensor in tensors:
        assert tensor.grad is not None and tensor.grad.dtype == dtype
        assert tensor.grad.shape == tensor.shape


def _noncontiguous(array):
    """The same values laid out in Fortran order (not C-contiguous) where ndim >= 2."""
    return np.asfortranarray(array) if array.ndim >= 2 else array


@pytest.mark.parametrize("layout", ["contiguous", "fortran"])
@pytest.mark.parametrize("dtype,atol,rtol", [(np.float64, 1e-6, 1e-6), (np.float32, 1e-5, 1e-4)])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_torch(case, dtype, atol, rtol, layout):
    torch = pytest.importorskip("torch")
    arrays = [a.astype(dtype) for a in case.inputs()]
    if layout == "fortran":
        arrays = [_noncontiguous(a) for a in arrays]
    out, tensors, weights = _run(case, arrays)
    reference_inputs = [torch.tensor(np.ascontiguousarray(a), requires_grad=True) for a in arrays]
    reference = case.torch_fn(*reference_inputs)
    (reference * torch.as_tensor(weights)).sum().backward()
    np.testing.assert_allclose(out.numpy(), reference.detach().numpy(), atol=atol, rtol=rtol)
    for tensor, ref in zip(tensors, reference_inputs):
        np.testing.assert_allclose(_grad_array(tensor.grad), ref.grad.numpy(), atol=atol, rtol=rtol)


@pytest.mark.gpu
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_device_forward_and_backward_match_numpy(case, gpu_module):
    """Every op on the GPU (or the fake device) gives NumPy's values, forward and backward."""
    arrays = [a.astype(np.float32) for a in case.inputs()]
    out, tensors, _ = _run(case, arrays)
    device_out, device_tensors, _ = _run(case, arrays, gpu_module)
    assert backend.is_cupy_array(device_out.data)
    np.testing.assert_allclose(device_out.numpy(), out.numpy(), rtol=1e-5, atol=1e-6)
    for tensor, device_tensor in zip(tensors, device_tensors):
        np.testing.assert_allclose(_grad_array(device_tensor.grad), _grad_array(tensor.grad), rtol=1e-5, atol=1e-6)
