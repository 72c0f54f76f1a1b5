"""Worked example 5: SGD, Momentum, Nesterov, AdaGrad, RMSProp and Adam from the same
start on f(x, y) = x²/20 + y² and on the Rosenbrock function (1 - x)² + 100(y - x²)².

Each optimizer is nnpipe's own, driven by nnpipe's gradients.  Prints the steps each
needs to bring f below a tolerance and draws the trajectories over the contours.
"""
from pathlib import Path

import numpy as np

import nnpipe.optim as optim
from nnpipe.nn import Parameter

HERE = Path(__file__).resolve().parent

PROBLEMS = {
    "bowl": {"f": lambda x, y: x**2 / 20 + y**2, "start": (-7.0, 2.0), "tol": 1e-4, "steps": 1000,
             "lr": {"sgd": 0.9, "momentum": 0.1, "nesterov": 0.1, "adagrad": 1.5, "rmsprop": 0.01, "adam": 0.3},
             "box": (-8, 8, -3, 3)},
    "rosenbrock": {"f": lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2, "start": (-1.5, 2.0), "tol": 1e-4,
                   "steps": 5000,
                   "lr": {"sgd": 1e-3, "momentum": 2e-4, "nesterov": 2e-4, "adagrad": 0.5, "rmsprop": 1e-3,
                          "adam": 0.05},
                   "box": (-2, 2, -1, 3)},
}
OPTIMIZERS = {
    "sgd": lambda p, lr: optim.SGD(p, lr=lr),
    "momentum": lambda p, lr: optim.Momentum(p, lr=lr, momentum=0.9),
    "nesterov": lambda p, lr: optim.Momentum(p, lr=lr, momentum=0.9, nesterov=True),
    "adagrad": lambda p, lr: optim.AdaGrad(p, lr=lr),
    "rmsprop": lambda p, lr: optim.RMSProp(p, lr=lr, alpha=0.9),
    "adam": lambda p, lr: optim.Adam(p, lr=lr),
}


def trajectory(problem, name):
    """(points visited, steps until f < tol or None)."""
    spec = PROBLEMS[problem]
    point = Parameter(np.array(spec["start"]))
    optimizer = OPTIMIZERS[name]([point], spec["lr"][name])
    points, reached = [point.data.copy()], None
    for step in range(1, spec["steps"] + 1):
        value = spec["f"](point[0], point[1])
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        points.append(point.data.copy())
        if reached is None and spec["f"](*point.data) < spec["tol"]:
            reached = step
    return np.array(points), reached


def main():
    results = {}
    for problem in PROBLEMS:
        results[problem] = {name: trajectory(problem, name) for name in OPTIMIZERS}
    print("steps to f < tolerance (— when not reached within the budget)")
    print(f"{'optimizer':<10}" + "".join(f"{p:>12}" for p in PROBLEMS))
    for name in OPTIMIZERS:
        cells = [results[p][name][1] for p in PROBLEMS]
        print(f"{name:<10}" + "".join(f"{c if c else '—':>12}" for c in cells))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print('plot skipped: pip install -e ".[plot]"')
        return results
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for axis, problem in zip(axes, PROBLEMS):
        spec = PROBLEMS[problem]
        x0, x1, y0, y1 = spec["box"]
        gx, gy = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
        axis.contour(gx, gy, spec["f"](gx, gy), levels=np.logspace(-2, 3, 18), cmap="Greys", linewidths=0.6)
        for name, (points, _) in results[problem].items():
            axis.plot(points[:, 0], points[:, 1], ".-", markersize=2, linewidth=1, label=name)
        axis.set_title(problem)
        axis.set_xlim(x0, x1)
        axis.set_ylim(y0, y1)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(HERE / "images" / "optimizers.png", dpi=110)
    print("plot: scripts/examples/images/optimizers.png")
    return results


if __name__ == "__main__":
    main()
