"""Optuna's TPE proposes configs, ASHA stops the unpromising ones early.

A linear classifier (scikit-learn's SGDClassifier) learns the digits one epoch at a time and
reports its validation accuracy after each. OptunaSearch learns from every finished trial,
including those ASHA stopped at a rung (they are told to Optuna with their last value), and
ASHA lets only the top third of the trials at each rung train on. Needs optuna and
scikit-learn:

    pip install "caliper[optuna]" scikit-learn
    python examples/asha_optuna.py                  # 40 trials of up to 27 epochs, ~20 s
    python examples/asha_optuna.py --num-samples 100 --storage-path ./results
    python examples/asha_optuna.py --smoke-test     # 8 trials of up to 3 epochs, for CI
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile

from caliper import tune
from caliper.schedulers import ASHAScheduler
from caliper.searchers import OptunaSearch

MISSING = [name for name in ("optuna", "sklearn") if importlib.util.find_spec(name) is None]


def train_linear(config: dict, data: dict) -> None:
    """One trial: an epoch of SGD per report."""
    import numpy as np
    from sklearn.linear_model import SGDClassifier

    model = SGDClassifier(
        loss=config["loss"],
        alpha=config["alpha"],
        learning_rate="invscaling",
        eta0=config["eta0"],
        random_state=0,
    )
    classes = np.arange(10)
    for _ in range(config["max_epochs"]):
        model.partial_fit(data["x_train"], data["y_train"], classes=classes)
        tune.report({"val_accuracy": model.score(data["x_val"], data["y_val"])})


def load_data() -> dict:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    images, labels = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        images / 16.0, labels, test_size=0.25, stratify=labels, random_state=0
    )
    return {"x_train": x_train, "y_train": y_train, "x_val": x_val, "y_val": y_val}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-samples", type=int, default=40, help="how many trials")
    parser.add_argument("--max-epochs", type=int, default=27, help="epochs of the best trials")
    parser.add_argument("--storage-path", help="parent directory of the experiment")
    parser.add_argument("--smoke-test", action="store_true", help="8 trials of up to 3 epochs")
    args = parser.parse_args()
    if MISSING:
        needs = " and ".join(MISSING)
        sys.exit(
            f'examples/asha_optuna.py needs {needs}: pip install "caliper[optuna]" scikit-learn'
        )
    num_samples, max_epochs = (8, 3) if args.smoke_test else (args.num_samples, args.max_epochs)
    storage_path = args.storage_path or tempfile.mkdtemp(prefix="caliper_asha_optuna_")

    tuner = tune.Tuner(
        tune.with_parameters(train_linear, data=load_data()),
        param_space={
            "loss": tune.choice(["hinge", "log_loss", "modified_huber"]),
            "alpha": tune.loguniform(1e-6, 1e-1),
            "eta0": tune.loguniform(1e-3, 1.0),
            "max_epochs": max_epochs,
        },
        tune_config=tune.TuneConfig(
            metric="val_accuracy",
            mode="max",
            search_alg=OptunaSearch(seed=0),
            scheduler=ASHAScheduler(max_t=max_epochs, grace_period=1, reduction_factor=3),
            num_samples=num_samples,
        ),
        run_config=tune.RunConfig(name="asha_optuna", storage_path=storage_path),
    )
    results = tuner.fit()

    best = results.get_best_result()
    epochs = [r.metrics["training_iteration"] for r in results]
    print(f"Best config: {best.config}")
    print(
        f"Best val_accuracy: {best.metrics['val_accuracy']:.3f} after "
        f"{best.metrics['training_iteration']} epochs"
    )
    print(
        f"Epochs trained: {sum(epochs)} of {len(epochs) * max_epochs} "
        f"({sum(e < max_epochs for e in epochs)} of {len(epochs)} trials stopped early by ASHA)"
    )


if __name__ == "__main__":
    main()
