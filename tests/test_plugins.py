"""One way to plug things in: a toy optimizer, loss and schedule registered from this file
train through a YAML config and the Trainer with no change to config.py or train/."""
import re
from typing import Annotated

import numpy as np
import pytest
import yaml

import nnpipe.autograd.functions as F
from nnpipe.config import ConfigError, dump, from_dict, load_config
from nnpipe.nn import LOSSES
from nnpipe.optim import OPTIMIZERS, SCHEDULES, Optimizer
from nnpipe.options import Positive, Range
from nnpipe.training import Trainer

from helpers import write_config


class SignSGD(Optimizer):
    """p ← p - lr·scale·sign(g): a new optimizer with a hyperparameter of its own."""

    def __init__(self, params, lr: Positive = 0.001, scale: Annotated[float, Range(gt=0, le=4)] = 1.0):
        self.scale = scale
        super().__init__(params, lr)

    def update(self, param, grad, state):
        param -= param.dtype.type(self.lr * self.scale) * np.sign(grad)


def tempered_cross_entropy(logits, labels, temperature: float = 2.0):
    """Cross-entropy of logits divided by a temperature."""
    return F.cross_entropy(logits * (1.0 / temperature), labels)


def halving(t, span, base_lr, every: int = 10):
    """Halve the learning rate every ``every`` steps."""
    return base_lr * 0.5 ** (t // every)


@pytest.fixture
def toys():
    OPTIMIZERS.register("signsgd")(SignSGD)
    LOSSES.register("tempered_ce", tags=("classification",))(tempered_cross_entropy)
    SCHEDULES.register("halving")(halving)
    yield
    OPTIMIZERS.unregister("signsgd")
    LOSSES.unregister("tempered_ce")
    SCHEDULES.unregister("halving")


def toy_config(tmp_path):
    return write_config(tmp_path, optimizer={"name": "signsgd", "lr": 0.004, "scale": 0.5},
                        loss={"name": "tempered_ce", "temperature": 1.5},
                        schedule={"name": "halving", "every": 100}, train={"epochs": 1})


@pytest.mark.slow
def test_toy_components_train_one_epoch_through_the_config(toys, tmp_path):
    config = load_config(toy_config(tmp_path))
    trainer = Trainer(config, quiet=True)
    assert isinstance(trainer.optimizer, SignSGD) and trainer.optimizer.scale == 0.5
    assert trainer.loss_fn.keywords == {"temperature": 1.5}
    trainer.start_run()
    summary = trainer.fit()
    assert summary["status"] == "completed" and summary["steps"] == 227
    assert trainer.optimizer.lr == pytest.approx(0.004 * 0.5 ** (226 // 100))  # lr of the last step
    assert summary["test"]["accuracy"] > 0.8  # it learned, with the toy update, loss and schedule


def test_toy_options_drive_validation_and_config_show(toys, tmp_path):
    config = load_config(toy_config(tmp_path))
    shown = yaml.safe_load(dump(config))
    assert shown["optimizer"] == {"name": "signsgd", "lr": 0.004, "scale": 0.5}
    assert shown["loss"] == {"name": "tempered_ce", "temperature": 1.5}
    assert shown["schedule"] == {"name": "halving", "interval": "step", "warmup": 0, "every": 100}
    with pytest.raises(ConfigError, match=r"optimizer.scal: unknown key \(did you mean 'scale'\?\)"):
        load_config(toy_config(tmp_path), ["optimizer.scal=2"])
    with pytest.raises(ConfigError, match=r"schedule.every: expected an integer"):
        load_config(toy_config(tmp_path), ["schedule.every=often"])


@pytest.mark.parametrize("scale,message", [(0, "must be in (0, 4], got 0"), (4.5, "must be in (0, 4], got 4.5")])
def test_a_toy_optimizers_own_bound_is_enforced(toys, tmp_path, scale, message):
    """The limit is declared in SignSGD's signature, in this file, and nowhere else."""
    assert load_config(toy_config(tmp_path), ["optimizer.scale=4"]).optimizer.scale == 4.0
    with pytest.raises(ConfigError, match=rf"optimizer\.scale: {re.escape(message)}"):
        load_config(toy_config(tmp_path), [f"optimizer.scale={scale}"])


def test_a_data_kind_refuses_models_and_losses_of_another_kind(tmp_path):
    with pytest.raises(ConfigError, match="task 'text' cannot train model 'mlp'; it takes cbow, skipgram"):
        from_dict({"model": {"name": "mlp"}, "data": {"name": "text"}, "loss": {"name": "sgns"}})
    with pytest.raises(ConfigError,
                       match="task 'mnist' cannot train loss 'sgns'; it takes cross_entropy, multiclass_hinge, nll"):
        load_config(write_config(tmp_path, loss={"name": "sgns"}))
    with pytest.raises(ConfigError, match="task 'cooccurrence' cannot train model 'cbow'; it takes glove, svd"):
        from_dict({"model": {"name": "cbow"}, "data": {"name": "cooccurrence"}, "loss": {"name": "glove"}})
    with pytest.raises(ConfigError, match="model 'svd' is trained with loss 'ppmi_svd', not 'glove'"):
        from_dict({"model": {"name": "svd"}, "data": {"name": "cooccurrence"}, "loss": {"name": "glove"}})


def test_unreachable_options_are_reachable_and_foreign_ones_refused(tmp_path):
    skipgram = from_dict({"model": {"name": "skipgram", "dim": 8}, "data": {"name": "text"},
                          "loss": {"name": "sgns", "reduction": "mean"}, "optimizer": {"name": "sgd"}})
    assert skipgram.loss.reduction == "mean"
    with pytest.raises(ConfigError, match="data.val_split: unknown key"):
        from_dict({"model": {"name": "skipgram"}, "data": {"name": "text", "val_split": 10}, "loss": {"name": "sgns"}})
    with pytest.raises(ConfigError, match="optimizer.betas: unknown key"):
        load_config(write_config(tmp_path, optimizer={"name": "sgd", "betas": [0.9, 0.99]}))
