"""What the training loop trains: a task supplies batches, the loss of a batch with its
running statistics, and evaluation.  One loop serves every model."""
from __future__ import annotations

import functools

import numpy as np

from ..autograd import Tensor, no_grad
from ..backend import to_numpy
from ..data import BatchLoader, load_image_data, random_crop_flip
from .distributed import SingleProcess


class ClassificationTask:
    """Image classification (MNIST, CIFAR-10): accuracy beside the loss."""

    unit = "samples"
    loss_reduction = "mean"  # the loss is a batch mean: weigh it by the batch size

    def __init__(self, config, xp):
        data_cfg = config.data
        self.data = load_image_data(data_cfg.name, data_cfg.root, data_cfg.val_split, config.seed,
                                    data_cfg.mean, data_cfg.std, data_cfg.files)
        data_cfg.mean, data_cfg.std = self.data.mean, self.data.std  # stored in the run's config
        self.xp = xp
        augment = None
        if data_cfg.augment:
            augment = functools.partial(random_crop_flip, padding=data_cfg.crop_padding, flip=data_cfg.flip)
        self.loader = BatchLoader(self.data.train_x, self.data.train_y, data_cfg.batch_size, data_cfg.shuffle,
                                  data_cfg.drop_last, seed=config.seed, augment=augment)

    def save_extras(self, run_dir):
        """Nothing beyond the config is needed to rebuild an image classifier."""

    def model_inputs(self):
        return {"input_shape": self.data.input_shape, "num_classes": len(self.data.classes)}

    def batches(self):
        """(batch, number of samples) for the rest of the epoch."""
        for x, y in self.loader:
            yield (self.xp.asarray(x), self.xp.asarray(y)), len(y)

    def loss(self, model, loss_fn, batch):
        """The batch's loss tensor and the running sums it adds (for epoch metrics)."""
        x, y = batch
        logits = model(Tensor(x))
        loss = loss_fn(logits, y)
        correct = int((logits.data.argmax(axis=1) == y).sum())
        return loss, {"correct": correct}

    def state_dict(self):
        return self.loader.state_dict()

    def load_state_dict(self, state):
        self.loader.load_state_dict(state)

    @staticmethod
    def epoch_metrics(sums, samples):
        return {"accuracy": sums.get("correct", 0) / max(samples, 1)}

    def evaluate(self, model, loss_fn, split="val", comm=None):
        """Loss, accuracy and per-class accuracy of ``model`` on a split, in eval mode.
        With several ranks each evaluates its shard and the sums are added up."""
        comm = comm or SingleProcess()
        x, y = self.data.split(split)
        if len(x) == 0:
            return {}
        part = comm.shard(len(x))
        x, y = x[part], y[part]
        was_training = model.training
        model.eval()
        total_loss, predictions = 0.0, []
        with no_grad():
            for start in range(0, len(x), 1000):
                xb, yb = self.xp.asarray(x[start:start + 1000]), self.xp.asarray(y[start:start + 1000])
                logits = model(Tensor(xb))
                total_loss += float(loss_fn(logits, yb).data) * len(yb)
                predictions.append(to_numpy(logits.data.argmax(axis=1)))
        model.train(was_training)
        predicted = np.concatenate(predictions) if predictions else np.zeros(0, np.int64)
        classes = len(self.data.classes)
        hits = np.bincount(y[predicted == y], minlength=classes)
        counts = np.bincount(y, minlength=classes)
        sums = comm.sum(np.concatenate([[total_loss], hits, counts]))
        hits, counts = sums[1:1 + classes], sums[1 + classes:]
        per_class = {name: float(hits[k] / counts[k]) if counts[k] else None
                     for k, name in enumerate(self.data.classes)}
        return {"loss": float(sums[0] / counts.sum()), "accuracy": float(hits.sum() / counts.sum()),
                "per_class": per_class}


def build_task(config, xp):
    if config.data.name in ("mnist", "cifar10"):
        return ClassificationTask(config, xp)
    from .text_task import SkipGramTask  # noqa: PLC0415  (text data only when asked for)

    return SkipGramTask(config, xp)
