"""Quickstart: tune a cheap noisy objective with the Ray Tune API on caliper.

Each trial "trains" for a few steps on a simulated loss surface of the learning rate and
momentum (a curved Rosenbrock-like valley, best near lr=1e-2 and momentum=0.9), plus a
penalty for the activation and the layer width, and reports the loss at every step with
``tune.report``. The search space mixes random sampling (``loguniform``, ``uniform``,
``choice``) with a ``grid_search``: every sample is repeated for each grid value. Runs in a
few seconds on any machine:

    python examples/quickstart.py                     # 10 samples x 2 widths = 20 trials
    python examples/quickstart.py --num-samples 50 --storage-path ./results
    python examples/quickstart.py --smoke-test        # 2 samples x 2 widths, for CI

Results go to ``<storage-path>/quickstart`` (a fresh temporary directory unless given); read
them back later with ``tune.ResultGrid.from_path(...)``.
"""

from __future__ import annotations

import argparse
import math
import tempfile

import numpy as np

from caliper import tune


def objective(config: dict) -> None:
    """A simulated training run: the loss falls towards a floor set by the hyperparameters."""
    x = math.log10(config["lr"]) + 2.0  # 0 at lr = 1e-2
    y = config["momentum"] - 0.9  # 0 at momentum = 0.9
    floor = x**2 + 5.0 * (y + 0.2 * x**2) ** 2  # a curved valley, like Rosenbrock's
    floor += {"relu": 0.0, "gelu": 0.02, "tanh": 0.1}[config["activation"]]
    floor += 0.05 if config["width"] < 64 else 0.0
    rng = np.random.default_rng()
    for step in range(1, config["steps"] + 1):
        loss = floor + 1.0 / step + rng.normal(0.0, 0.01)
        tune.report({"loss": loss, "step": step})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-samples", type=int, default=10, help="samples per grid point")
    parser.add_argument("--storage-path", help="parent directory of the experiment")
    parser.add_argument("--smoke-test", action="store_true", help="a tiny budget, for CI")
    args = parser.parse_args()
    num_samples = 2 if args.smoke_test else args.num_samples
    storage_path = args.storage_path or tempfile.mkdtemp(prefix="caliper_quickstart_")

    tuner = tune.Tuner(
        objective,
        param_space={
            "lr": tune.loguniform(1e-4, 1e-1),
            "momentum": tune.uniform(0.5, 0.99),
            "activation": tune.choice(["relu", "gelu", "tanh"]),
            "width": tune.grid_search([32, 64]),
            "steps": 5 if args.smoke_test else 10,  # constants pass through unchanged
        },
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=num_samples),
        run_config=tune.RunConfig(name="quickstart", storage_path=storage_path),
    )
    results = tuner.fit()

    best = results.get_best_result()  # by the last reported "loss" of each trial
    print(f"Best config: {best.config}")
    print(f"Best loss: {best.metrics['loss']:.4f} after {best.metrics['step']} steps")
    df = results.get_dataframe()  # one row per trial: its last result and its config
    columns = ["loss", "config/lr", "config/momentum", "config/activation", "config/width"]
    print(df[columns].sort_values("loss").head().to_string(index=False))
    print(f"Experiment directory: {results.experiment_path}")


if __name__ == "__main__":
    main()
