"""Population Based Training of a small PyTorch MLP on scikit-learn's digits.

A population of trials trains at once. Every ``--interval`` epochs each trial reports its
validation accuracy with a checkpoint; the worst quarter then copies the model, optimizer
state and hyperparameters of a trial of the best quarter and perturbs the learning rate and
momentum (x0.8 or x1.2, or a fresh sample). The schedule every trial followed is logged in
``pbt_global.txt`` and ``pbt_policy_<trial_id>.txt`` of the experiment directory. Needs
PyTorch (the CPU build is enough) and scikit-learn:

    pip install torch scikit-learn
    python examples/pbt_digits.py                   # 4 trials of 12 epochs, ~30 s on 2 CPUs
    python examples/pbt_digits.py --population 8 --epochs 20 --storage-path ./results
    python examples/pbt_digits.py --smoke-test      # 4 trials of 4 epochs, for CI
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile

from caliper import tune
from caliper.schedulers import PopulationBasedTraining

MISSING = [name for name in ("torch", "sklearn") if importlib.util.find_spec(name) is None]


def train_digits(config: dict, data: dict) -> None:
    """The trainable: SGD with the trial's learning rate and momentum, one epoch per report."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    torch.manual_seed(0)
    x_train, y_train = torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"])
    x_val, y_val = torch.from_numpy(data["x_val"]), torch.from_numpy(data["y_val"])
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"])
    epoch = 0

    # After an exploit this is a copy of a better trial's checkpoint, and ``config`` holds the
    # perturbed hyperparameters: load the weights, then apply the new hyperparameters.
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as ckpt_dir:
            state = torch.load(os.path.join(ckpt_dir, "model.pt"), weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        epoch = state["epoch"]
        for group in optimizer.param_groups:
            group["lr"], group["momentum"] = config["lr"], config["momentum"]

    while epoch < config["epochs"]:
        epoch += 1
        model.train()
        order = torch.randperm(len(x_train))
        for begin in range(0, len(x_train), 32):
            batch = order[begin : begin + 32]
            loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x_val).argmax(dim=1) == y_val).float().mean().item()
        with tempfile.TemporaryDirectory() as tmp_dir:
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
            torch.save({**state, "epoch": epoch}, os.path.join(tmp_dir, "model.pt"))
            tune.report(
                {"val_accuracy": accuracy, "lr": config["lr"], "momentum": config["momentum"]},
                checkpoint=tune.Checkpoint.from_directory(tmp_dir),
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--population", type=int, default=4, help="how many trials")
    parser.add_argument("--epochs", type=int, default=12, help="epochs per trial")
    parser.add_argument("--interval", type=int, default=2, help="epochs between exploits")
    parser.add_argument("--storage-path", help="parent directory of the experiment")
    parser.add_argument("--smoke-test", action="store_true", help="4 trials of 4 epochs")
    args = parser.parse_args()
    if MISSING:
        sys.exit(
            f"examples/pbt_digits.py needs {' and '.join(MISSING)}: pip install torch scikit-learn"
        )
    population, epochs, interval = (
        (4, 4, 1) if args.smoke_test else (args.population, args.epochs, args.interval)
    )
    storage_path = args.storage_path or tempfile.mkdtemp(prefix="caliper_pbt_digits_")

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_digits import load_digits_split  # the data, loaded once in this process

    scheduler = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=interval,
        hyperparam_mutations={
            "lr": tune.loguniform(1e-3, 1.0),
            "momentum": tune.uniform(0.0, 0.99),
        },
        seed=0,
    )
    tuner = tune.Tuner(
        tune.with_resources(
            tune.with_parameters(train_digits, data=load_digits_split()), {"cpu": 0.5}
        ),
        param_space={
            "lr": tune.loguniform(1e-3, 1.0),
            "momentum": tune.uniform(0.0, 0.99),
            "epochs": epochs,
        },
        tune_config=tune.TuneConfig(
            metric="val_accuracy",
            mode="max",
            scheduler=scheduler,
            num_samples=population,
            search_seed=0,
        ),
        run_config=tune.RunConfig(
            name="pbt_digits",
            storage_path=storage_path,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        ),
    )
    results = tuner.fit()

    best = results.get_best_result()
    print(f"Best config: {best.config}")
    print(
        f"Best val_accuracy: {best.metrics['val_accuracy']:.3f} after "
        f"{best.metrics['training_iteration']} epochs"
    )
    print(f"Exploits: {scheduler.num_perturbations} (see {results.experiment_path}/pbt_global.txt)")


if __name__ == "__main__":
    main()
