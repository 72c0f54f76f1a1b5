"""Image classification (MNIST, CIFAR-10): batches of normalised NCHW images, accuracy
beside the loss, per-class accuracy in evaluation."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated, Optional

import numpy as np

from ..autograd import Tensor, no_grad
from ..backend import to_numpy
from ..data import BatchLoader, load_image_data, random_crop_flip
from ..data.cifar import CLASSES as CIFAR_CLASSES
from ..options import NonNegativeInt, Range
from .task_registry import TASKS, Task

# input shape (C, H, W) and class names of each image task
IMAGE_KINDS = {"mnist": ((1, 28, 28), [str(d) for d in range(10)]), "cifar10": ((3, 32, 32), CIFAR_CLASSES)}


@dataclass
class ImageOptions:
    val_split: NonNegativeInt = 5000  # images held out of the training set, chosen by the seed
    shuffle: bool = True
    drop_last: bool = False
    augment: bool = False  # random crops of padded images (+ horizontal flips), per batch
    crop_padding: NonNegativeInt = 4  # pixels of zero padding the crops move within
    flip: bool = True  # also flip half the images horizontally (off for digits)
    files: Optional[dict] = None  # IDX file names by role (train_images, ...)
    mean: Optional[list] = None  # per-channel normalisation; filled in from the training split
    std: Optional[Annotated[list, Range(gt=0)]] = None


@TASKS.register("cifar10", ImageOptions)
@TASKS.register("mnist", ImageOptions)
class ClassificationTask(Task):
    accepts = {"model": "classifier", "loss": "classification"}
    unit = "samples"
    monitors = ("val_accuracy", "val_loss", "train_accuracy", "train_loss")

    def __init__(self, config, xp):
        data_cfg = config.data
        self.data = load_image_data(data_cfg.name, data_cfg.root, data_cfg.val_split, config.seed,
                                    data_cfg.mean, data_cfg.std, data_cfg.files)
        data_cfg.mean, data_cfg.std = self.data.mean, self.data.std  # stored in the run's config
        self.xp = xp
        augment = None
        if data_cfg.augment:
            augment = functools.partial(random_crop_flip, padding=data_cfg.crop_padding, flip=data_cfg.flip)
        x, y = self.data.train_x, self.data.train_y
        if augment is None:  # on a GPU the training split is uploaded once and batches are cut there
            x, y = xp.asarray(x), xp.asarray(y)
        self.loader = BatchLoader(x, y, data_cfg.batch_size, data_cfg.shuffle, data_cfg.drop_last,
                                  seed=config.seed, augment=augment)

    @staticmethod
    def sample(config):
        """(model inputs, a batch of two blank images, their labels), without loading data."""
        shape, classes = IMAGE_KINDS[config.data.name]
        inputs = {"input_shape": shape, "num_classes": len(classes)}
        return inputs, Tensor(np.zeros((2,) + shape, np.float32)), np.zeros(2, np.int64)

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
        correct = (logits.data.argmax(axis=1) == y).sum()  # a device count: read only when reported
        return loss, {"correct": correct}

    @staticmethod
    def loss_terms(sums, samples):
        """How many terms a summed loss adds up: one per image."""
        return samples

    @staticmethod
    def epoch_metrics(sums, samples):
        return {"accuracy": sums.get("correct", 0) / max(samples, 1)}

    def evaluate(self, model, loss_fn, split, comm):
        """Loss, accuracy and per-class accuracy of ``model`` on a split, in eval mode.
        With several ranks each evaluates its shard and the sums are added up."""
        x, y = self.data.split(split)
        if len(x) == 0:
            return {}
        part = comm.shard(len(x))
        x, y = x[part], y[part]
        was_training = model.training
        model.eval()
        losses, predictions = [], []
        with no_grad():
            for start in range(0, len(x), 1000):
                xb, yb = self.xp.asarray(x[start:start + 1000]), self.xp.asarray(y[start:start + 1000])
                logits = model(Tensor(xb))
                losses.append(loss_fn(logits, yb).data.astype(self.xp.float64) * len(yb))
                predictions.append(logits.data.argmax(axis=1))
        model.train(was_training)
        # read once at the end, not per batch
        total_loss = float(to_numpy(self.xp.stack(losses).sum())) if losses else 0.0
        predicted = to_numpy(self.xp.concatenate(predictions)) if predictions else np.zeros(0, np.int64)
        classes = len(self.data.classes)
        hits = np.bincount(y[predicted == y], minlength=classes)
        counts = np.bincount(y, minlength=classes)
        sums = comm.sum(np.concatenate([[total_loss], hits, counts]))
        hits, counts = sums[1:1 + classes], sums[1 + classes:]
        per_class = {name: float(hits[k] / counts[k]) if counts[k] else None
                     for k, name in enumerate(self.data.classes)}
        return {"loss": float(sums[0] / counts.sum()), "accuracy": float(hits.sum() / counts.sum()),
                "per_class": per_class}
