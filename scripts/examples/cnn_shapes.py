"""Worked example 6: shapes through a CNN.  A 32×32×3 image through six 5×5×3 filters
(→ 28×28×6), 2×2 max pooling (→ 14×14×6), sixteen 5×5×6 filters (→ 10×10×16), pooling
(→ 5×5×16) and three fully connected layers, printed as a layer table with parameter
counts (the same table as `nnpipe summary`)."""
import numpy as np

import nnpipe.nn as nn
from nnpipe.autograd import Tensor
from nnpipe.nn.summary import format_table, layer_table


def lenet():
    rng = np.random.default_rng(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 5, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120, rng=rng), nn.ReLU(), nn.Linear(120, 84, rng=rng), nn.ReLU(),
        nn.Linear(84, 10, rng=rng),
    )


def main():
    rows = layer_table(lenet(), Tensor(np.zeros((1, 3, 32, 32), np.float32)))
    print("input (3, 32, 32)  [channels, height, width]")
    print(format_table(rows))
    return rows


if __name__ == "__main__":
    main()
