"""Tune a small PyTorch MLP on scikit-learn's digits (8x8 images of 0-9, 1,797 samples).

Each trial trains with its own learning rate, hidden size and batch size, and after every
epoch reports the validation loss and accuracy together with a checkpoint (model and optimizer
state). When a trial is restarted (``FailureConfig(max_failures=...)`` after a crash), it
resumes from its last checkpoint through ``tune.get_checkpoint()``, as in the Ray Tune
tutorial. Needs PyTorch (the CPU build is enough) and scikit-learn; no torchvision, no download:

    pip install torch scikit-learn
    python examples/torch_digits.py                   # 8 trials of 10 epochs, ~20 s on 2 CPUs
    python examples/torch_digits.py --num-samples 20 --storage-path ./results
    python examples/torch_digits.py --smoke-test      # 2 trials of 2 epochs, for CI

The data is loaded once, in this process, and handed to every trial with
``tune.with_parameters``; trials import only torch. Results go to
``<storage-path>/torch_digits`` (a fresh temporary directory unless given).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile

import numpy as np

from caliper import tune

MISSING = [name for name in ("torch", "sklearn") if importlib.util.find_spec(name) is None]


def load_digits_split(seed: int = 0) -> dict[str, np.ndarray]:
    """The digits as float32 pixels in [0, 1], split 80/20 into train and validation sets."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    images, labels = load_digits(return_X_y=True)
    images = (images / 16.0).astype(np.float32)
    x_train, x_val, y_train, y_val = train_test_split(
        images, labels, test_size=0.2, stratify=labels, random_state=seed
    )
    return {"x_train": x_train, "y_train": y_train, "x_val": x_val, "y_val": y_val}


def build_model(hidden_size: int):
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(64, hidden_size),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden_size, 10),
    )


def train_digits(config: dict, data: dict[str, np.ndarray]) -> None:
    """The trainable: one trial, in its own worker process."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)  # one CPU per trial (see with_resources below): no oversubscription
    torch.manual_seed(config["seed"])
    x_train, y_train = torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"])
    x_val, y_val = torch.from_numpy(data["x_val"]), torch.from_numpy(data["y_val"])

    model = build_model(config["hidden_size"])
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    start_epoch = 0

    # Resume from a checkpoint if this trial is being restarted.
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as ckpt_dir:
            state = torch.load(os.path.join(ckpt_dir, "model.pt"), weights_only=True)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            start_epoch = state["epoch"] + 1

    batch_size = config["batch_size"]
    for epoch in range(start_epoch, config["epochs"]):
        model.train()
        order = torch.randperm(len(x_train))
        for begin in range(0, len(x_train), batch_size):
            batch = order[begin : begin + batch_size]
            loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            val_loss = F.cross_entropy(logits, y_val).item()
            val_accuracy = (logits.argmax(dim=1) == y_val).float().mean().item()

        # Save a checkpoint with each metric report.
        with tempfile.TemporaryDirectory() as tmp_dir:
            torch.save(
                {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch},
                os.path.join(tmp_dir, "model.pt"),
            )
            tune.report(
                {"val_loss": val_loss, "val_accuracy": val_accuracy, "epoch": epoch},
                checkpoint=tune.Checkpoint.from_directory(tmp_dir),
            )


def train_on_digits(config: dict) -> None:
    """The trainable of ``examples/digits_asha_optuna.yaml`` (``tune run`` gives a trainable
    the config alone): each trial loads the digits itself (a few milliseconds)."""
    train_digits(config, load_digits_split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-samples", type=int, default=8, help="how many trials")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per trial")
    parser.add_argument("--storage-path", help="parent directory of the experiment")
    parser.add_argument("--smoke-test", action="store_true", help="2 trials of 2 epochs, for CI")
    args = parser.parse_args()
    if MISSING:
        sys.exit(
            f"examples/torch_digits.py needs {' and '.join(MISSING)}: "
            "pip install torch scikit-learn"
        )
    num_samples, epochs = (2, 2) if args.smoke_test else (args.num_samples, args.epochs)
    storage_path = args.storage_path or tempfile.mkdtemp(prefix="caliper_torch_digits_")

    data = load_digits_split()
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(train_digits, data=data), {"cpu": 1}),
        param_space={
            "lr": tune.loguniform(1e-4, 1e-1),
            "hidden_size": tune.choice([32, 64, 128]),
            "batch_size": tune.choice([16, 32, 64]),
            "epochs": epochs,
            "seed": 0,
        },
        tune_config=tune.TuneConfig(metric="val_loss", mode="min", num_samples=num_samples),
        run_config=tune.RunConfig(
            name="torch_digits",
            storage_path=storage_path,
            failure_config=tune.FailureConfig(max_failures=2),  # restarts resume from checkpoints
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        ),
    )
    results = tuner.fit()

    best = results.get_best_result()
    print(f"Best config: {best.config}")
    print(
        f"Best val_loss: {best.metrics['val_loss']:.4f}, "
        f"val_accuracy: {best.metrics['val_accuracy']:.3f} after {best.metrics['epoch'] + 1} epochs"
    )
    print(f"Best checkpoint: {best.checkpoint}")
    df = results.get_dataframe()
    columns = ["val_loss", "val_accuracy", "config/lr", "config/hidden_size", "config/batch_size"]
    print(df[columns].sort_values("val_loss").to_string(index=False))


if __name__ == "__main__":
    main()
