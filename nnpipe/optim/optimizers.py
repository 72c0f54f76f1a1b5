"""Optimizers with the update rules of the course slides and PyTorch's defaults.

Each rule is written once, in place, over (parameter, gradient, state) arrays.  A dense
gradient runs it on the whole parameter; a :class:`SparseRows` gradient (embeddings)
runs it on the touched rows only, gathered and written back, so no V x D gradient or
state update is ever made and untouched rows stay bit-identical (the "lazy" variants,
like ``torch.optim.SparseAdam``).  State is plain arrays, saved and restored exactly.
"""
from __future__ import annotations

import math
from typing import Annotated

from ..autograd import SparseRows
from ..backend import get_array_module
from ..kernels import even_chunks, lazy, map_chunks, use_compiled
from ..options import Check, Fraction, NonNegative, Positive, Range
from ..registry import Registry

OPTIMIZERS = Registry("optimizer", inputs=1)
sparse_updates = lazy("sparse_updates")
DENSE_CHUNK = 1 << 18  # elements: a dense update larger than this runs in even slices on the kernel threads


def _compiled_dense(param, grad, state):
    """Whether a dense update may run as a compiled kernel over the flat arrays: NumPy arrays of
    one dtype, all C-contiguous (so the flat views are views, not copies)."""
    arrays = (param, grad, *state.values())
    return (use_compiled(*arrays) and grad.dtype == param.dtype
            and all(a.flags.c_contiguous for a in arrays))


class Optimizer:
    state_names: tuple = ()

    def __init__(self, params, lr: Positive, weight_decay: NonNegative = 0.0):
        self.params = list(params)
        self.lr = lr
        self.weight_decay = weight_decay
        self.step_count = 0
        self.state = [self._new_state(p.data) for p in self.params]

    def _new_state(self, data):
        xp = get_array_module(data)
        return {name: xp.zeros_like(data) for name in self.state_names}

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        self.step_count += 1
        for p, state in zip(self.params, self.state):
            grad = p.grad
            if grad is None:
                continue
            if isinstance(grad, SparseRows):
                self._sparse_step(p.data, grad.coalesce(), state)
            else:
                self._dense_step(p.data, grad, state)

    def _dense_step(self, param, grad, state):
        if self.kernel and _compiled_dense(param, grad, state):
            _, dense_update = sparse_updates.UPDATES[self.kernel]
            flat, constants = [a.reshape(-1) for a in (param, *state.values(), grad)], self._kernel_constants(param)
            map_chunks(lambda part: dense_update(*(a[part] for a in flat), *constants),
                       even_chunks(param.size, DENSE_CHUNK))  # element by element: the same bits in any slices
            return
        if self.weight_decay and not self.decoupled_decay:
            grad = grad + param.dtype.type(self.weight_decay) * param
        self.update(param, grad, state)

    def _sparse_step(self, param, grad, state):
        values = grad.values.astype(param.dtype, copy=False)
        if self.kernel and use_compiled(param, values):
            rows_update, _ = sparse_updates.UPDATES[self.kernel]
            rows_update(param, *state.values(), grad.rows, values, *self._kernel_constants(param))
            return
        rows = grad.rows
        param_rows = param[rows]
        state_rows = {name: array[rows] for name, array in state.items()}
        self._dense_step(param_rows, values, state_rows)
        param[rows] = param_rows
        for name, array in state_rows.items():
            state[name][rows] = array

    def apply_in_backward(self, chunks=2, hogwild=False):
        """Let ops that can apply this optimizer's step themselves do it in their backward
        ("optimizer in backward": word2vec's per-window update, on ``chunks`` runs of a
        step's windows side by side, each on its own copies of the rows, or all on the
        tables at once with ``hogwild``); returns whether this optimizer allows it.  Only
        plain SGD does: other rules need their gradient whole."""
        return False

    decoupled_decay = False

    def update(self, param, grad, state):
        """Change ``param`` (and ``state``) in place from ``grad``."""
        raise NotImplementedError

    # The name of the optimizer's compiled updates in ``kernels.sparse_updates.UPDATES``;
    # None: the NumPy reference always runs.
    kernel = None

    def _kernel_constants(self, param):
        """The update's constants in the parameter's dtype, in the kernels' order."""
        raise NotImplementedError

    # ---- checkpointing ----------------------------------------------------------------
    def state_dict(self):
        return {
            "kind": type(self).__name__,
            "step_count": self.step_count,
            "lr": self.lr,
            "state": [{name: array for name, array in s.items()} for s in self.state],
        }

    def load_state_dict(self, saved):
        if saved.get("kind", type(self).__name__) != type(self).__name__:
            raise ValueError(f"the state is of optimizer {saved['kind']}, this one is {type(self).__name__}")
        if len(saved["state"]) != len(self.state):
            raise ValueError(
                f"optimizer state holds {len(saved['state'])} parameters, this optimizer has {len(self.state)}"
            )
        for own, loaded in zip(self.state, saved["state"]):
            for name, array in own.items():
                if name not in loaded or loaded[name].shape != array.shape:
                    raise ValueError(f"optimizer state {name!r} is missing or mis-shaped")
                array[...] = get_array_module(array).asarray(loaded[name])
        self.step_count = int(saved["step_count"])
        self.lr = float(saved["lr"])


@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    """p ← p - lr·g"""

    def __init__(self, params, lr: Positive = 0.001, weight_decay: NonNegative = 0.0):
        super().__init__(params, lr, weight_decay)

    def update(self, param, grad, state):
        param -= param.dtype.type(self.lr) * grad

    def apply_in_backward(self, chunks=2, hogwild=False):
        if self.weight_decay:
            return False
        self.chunks_in_backward, self.hogwild_in_backward = chunks, hogwild
        for param in self.params:
            param.update_in_backward = self
        return True

    def in_backward_lr(self):
        """The step size an op applies in backward: this step's learning rate."""
        return self.lr

    kernel = "sgd"

    def _kernel_constants(self, param):
        dtype = param.dtype.type
        return dtype(self.lr), dtype(self.weight_decay)


@OPTIMIZERS.register("momentum")
class Momentum(Optimizer):
    """v ← μ·v + g;  p ← p - lr·v  (Nesterov: p ← p - lr·(g + μ·v))."""

    state_names = ("velocity",)

    def __init__(self, params, lr: Positive = 0.001, momentum: Fraction = 0.9, nesterov: bool = False,
                 weight_decay: NonNegative = 0.0):
        self.momentum, self.nesterov = momentum, nesterov
        super().__init__(params, lr, weight_decay)

    def update(self, param, grad, state):
        mu, lr = param.dtype.type(self.momentum), param.dtype.type(self.lr)
        velocity = state["velocity"]
        velocity *= mu
        velocity += grad
        param -= lr * (grad + mu * velocity) if self.nesterov else lr * velocity


@OPTIMIZERS.register("adagrad")
class AdaGrad(Optimizer):
    """s ← s + g²;  p ← p - lr·g/(√s + ε)"""

    state_names = ("sum_squares",)

    def __init__(self, params, lr: Positive = 0.01, eps: Positive = 1e-10, weight_decay: NonNegative = 0.0,
                 initial_accumulator_value: NonNegative = 0.0):
        self.eps = eps
        super().__init__(params, lr, weight_decay)
        for state in self.state:
            state["sum_squares"] += initial_accumulator_value

    def update(self, param, grad, state):
        xp = get_array_module(param)
        state["sum_squares"] += grad * grad
        param -= param.dtype.type(self.lr) * grad / (xp.sqrt(state["sum_squares"]) + param.dtype.type(self.eps))

    kernel = "adagrad"

    def _kernel_constants(self, param):
        dtype = param.dtype.type
        return dtype(self.lr), dtype(self.eps), dtype(self.weight_decay)


@OPTIMIZERS.register("rmsprop")
class RMSProp(Optimizer):
    """s ← α·s + (1-α)·g²;  p ← p - lr·g/(√s + ε)"""

    state_names = ("mean_square",)

    def __init__(self, params, lr: Positive = 0.01, alpha: Fraction = 0.99, eps: Positive = 1e-8,
                 weight_decay: NonNegative = 0.0):
        self.alpha, self.eps = alpha, eps
        super().__init__(params, lr, weight_decay)

    def update(self, param, grad, state):
        xp = get_array_module(param)
        alpha = param.dtype.type(self.alpha)
        square = state["mean_square"]
        square *= alpha
        square += (1 - alpha) * grad * grad
        param -= param.dtype.type(self.lr) * grad / (xp.sqrt(square) + param.dtype.type(self.eps))


# (β1, β2): the decay rates of the two moments
Betas = Annotated[list, Range(ge=0, lt=1), Check(lambda betas: len(betas) == 2, "two numbers (β1, β2)")]


@OPTIMIZERS.register("adam")
class Adam(Optimizer):
    """m ← β1·m + (1-β1)·g;  v ← β2·v + (1-β2)·g²;
    p ← p - lr·m̂/(√v̂ + ε) with bias corrections m̂ = m/(1-β1ᵗ), v̂ = v/(1-β2ᵗ)."""

    state_names = ("m", "v")

    def __init__(self, params, lr: Positive = 0.001, betas: Betas = (0.9, 0.999), eps: Positive = 1e-8,
                 weight_decay: NonNegative = 0.0):
        self.beta1, self.beta2 = betas
        self.eps = eps
        super().__init__(params, lr, weight_decay)

    def update(self, param, grad, state):
        xp = get_array_module(param)
        dtype = param.dtype.type
        m, v = state["m"], state["v"]
        m *= dtype(self.beta1)
        m += dtype(1 - self.beta1) * grad
        v *= dtype(self.beta2)
        v += dtype(1 - self.beta2) * grad * grad
        t = self.step_count
        step_size = self.lr / (1 - self.beta1**t)
        denom = xp.sqrt(v) / dtype(math.sqrt(1 - self.beta2**t))
        denom += dtype(self.eps)
        param -= dtype(step_size) * m / denom

    kernel = "adam"

    def _kernel_constants(self, param):
        dtype, t = param.dtype.type, self.step_count
        return (dtype(self.beta1), dtype(1 - self.beta1), dtype(self.beta2), dtype(1 - self.beta2),
                dtype(self.lr / (1 - self.beta1**t)), dtype(math.sqrt(1 - self.beta2**t)), dtype(self.eps),
                dtype(self.weight_decay))


@OPTIMIZERS.register("adamw")
class AdamW(Adam):
    """Adam with decoupled weight decay: p ← p·(1 - lr·λ) before the Adam step."""

    decoupled_decay = True
    kernel = None  # the decay before the step is not in the Adam kernels

    def __init__(self, params, lr: Positive = 0.001, betas: Betas = (0.9, 0.999), eps: Positive = 1e-8,
                 weight_decay: NonNegative = 0.01):
        super().__init__(params, lr, betas, eps, weight_decay)

    def update(self, param, grad, state):
        param *= param.dtype.type(1 - self.lr * self.weight_decay)
        super().update(param, grad, state)

