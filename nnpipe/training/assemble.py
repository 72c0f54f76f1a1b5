"""What a config builds before any training: the device, the task with its data, the
model and the loss.  The trainer adds an optimizer and a schedule; evaluation needs no
more than this."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import backend
from ..config import Config, ConfigError
from ..data.weight_files import read_safetensors
from ..models import build_model
from ..nn import StateDictError, build_loss
from ..nn.plain_layers import load_torch_state_dict
from ..tasks import build_task


@dataclass
class Parts:
    device: str
    task: object
    model: object
    loss_fn: object
    model_rng: np.random.Generator


def configured_model(config: Config, rng, inputs):
    """The config's model for the data's ``inputs``; a model the data cannot fit (too many
    pooling blocks for the image, say) is a config error."""
    try:
        return build_model(config.model, rng, **inputs)
    except ValueError as exc:
        raise ConfigError(f"model: {exc}") from None


def assemble(config: Config, device=None, local_rank=0) -> Parts:
    """``local_rank``: this process's rank among the MPI ranks on its node, which picks its GPU."""
    device = backend.use_device(device or config.device, local_rank)  # made current: every array of the run goes there
    xp = backend.cupy_module() if device.startswith("cuda") else np
    task = build_task(config, xp)
    # the model's own generator: initialisation; dropout layers spawn their mask streams from
    # its seed (the trainer checkpoints both)
    model_rng = np.random.default_rng(np.random.SeedSequence(config.seed).spawn(1)[0])
    model = configured_model(config, model_rng, task.model_inputs())
    if device != "cpu":
        model.to(device)
    loss_fn = build_loss(config.loss.name, **config.loss.options())
    return Parts(device, task, model, loss_fn, model_rng)


def start_from(model, path):
    """Set ``model``'s weights from a safetensors file under PyTorch's names (``nnpipe
    export``): ``model.init_from``, for a new run."""
    try:
        load_torch_state_dict(model, read_safetensors(path, "model.init_from"))
    except StateDictError as exc:
        raise ConfigError(f"model.init_from {path} does not fit the configured model: {exc}") from None
