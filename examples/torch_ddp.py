"""Distributed trials: every trial trains one PyTorch MLP on scikit-learn's digits with 2
worker processes in DistributedDataParallel (gloo on CPU), and ASHA stops the weak trials.

``TorchTrainer`` runs ``train_loop_per_worker`` on each worker; ``prepare_model`` wraps the
model in DDP (gradients averaged over the ranks), ``prepare_data_loader`` gives each rank its
share of the data, and rank 0's ``report`` (metrics and a checkpoint) is the trial's result.
Passed to ``tune.Tuner`` with ``param_space={"train_loop_config": {...}}``, each trial
reserves one CPU per worker. Needs PyTorch (the CPU build) and scikit-learn:

    pip install torch scikit-learn
    python examples/torch_ddp.py                   # 6 trials of 8 epochs, 2 workers each
    python examples/torch_ddp.py --num-workers 1   # the same trials without DDP
    python examples/torch_ddp.py --smoke-test      # 2 trials of 2 epochs, for CI

Results go to ``<storage-path>/torch_ddp`` (a fresh temporary directory unless given).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile

from caliper import tune
from caliper.schedulers import ASHAScheduler

MISSING = [name for name in ("torch", "sklearn") if importlib.util.find_spec(name) is None]


def digits_datasets(seed: int = 0):
    """The digits as float32 tensors in [0, 1], split 80/20 into train and validation."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    images, labels = load_digits(return_X_y=True)
    images = (images / 16.0).astype(np.float32)
    x_train, x_val, y_train, y_val = train_test_split(
        images, labels, test_size=0.2, stratify=labels, random_state=seed
    )

    def dataset(x, y):
        return torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))

    return dataset(x_train, y_train), dataset(x_val, y_val)


def train_loop_per_worker(config: dict) -> None:
    """Run by every worker (rank 0..N-1), each in its own process."""
    import torch
    import torch.nn.functional as F

    from caliper.integrations.torch import (
        Checkpoint,
        get_checkpoint,
        get_context,
        prepare_data_loader,
        prepare_model,
        report,
    )

    torch.manual_seed(0)  # the same initial weights on every rank
    train_set, val_set = digits_datasets()
    loader = torch.utils.data.DataLoader(train_set, batch_size=config["batch_size"], shuffle=True)
    loader = prepare_data_loader(loader)  # a DistributedSampler: each rank its own share
    model = torch.nn.Sequential(
        torch.nn.Linear(64, config["hidden_size"]),
        torch.nn.ReLU(),
        torch.nn.Linear(config["hidden_size"], 10),
    )
    model = prepare_model(model)  # DistributedDataParallel with more than one worker
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    start_epoch = 0
    checkpoint = get_checkpoint()  # the trial's newest checkpoint after a restart
    if checkpoint:
        with checkpoint.as_directory() as ckpt_dir:
            state = torch.load(os.path.join(ckpt_dir, "model.pt"), weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch = state["epoch"] + 1

    x_val, y_val = val_set.tensors
    for epoch in range(start_epoch, config["epochs"]):
        if hasattr(loader.sampler, "set_epoch"):
            loader.sampler.set_epoch(epoch)  # a new shuffle each epoch
        model.train()
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()  # DDP averages the gradients over the ranks here
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            metrics = {
                "val_loss": F.cross_entropy(logits, y_val).item(),
                "val_accuracy": (logits.argmax(dim=1) == y_val).float().mean().item(),
                "epoch": epoch,
                "world_size": get_context().get_world_size(),
            }
        with tempfile.TemporaryDirectory() as tmp_dir:
            if get_context().get_world_rank() == 0:  # one copy of the weights is enough
                torch.save(
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "epoch": epoch,
                    },
                    os.path.join(tmp_dir, "model.pt"),
                )
            report(metrics, checkpoint=Checkpoint.from_directory(tmp_dir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-samples", type=int, default=6, help="how many trials")
    parser.add_argument("--epochs", type=int, default=8, help="epochs per trial")
    parser.add_argument("--num-workers", type=int, default=2, help="workers per trial")
    parser.add_argument("--storage-path", help="parent directory of the experiment")
    parser.add_argument("--smoke-test", action="store_true", help="2 trials of 2 epochs, for CI")
    args = parser.parse_args()
    if MISSING:
        sys.exit(
            f"examples/torch_ddp.py needs {' and '.join(MISSING)}: pip install torch scikit-learn"
        )
    from caliper.integrations.torch import ScalingConfig, TorchTrainer

    num_samples, epochs = (2, 2) if args.smoke_test else (args.num_samples, args.epochs)
    storage_path = args.storage_path or tempfile.mkdtemp(prefix="caliper_torch_ddp_")

    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"epochs": epochs, "batch_size": 32},
        scaling_config=ScalingConfig(num_workers=args.num_workers),
    )
    tuner = tune.Tuner(
        trainer,
        param_space={
            "train_loop_config": {
                "lr": tune.loguniform(1e-3, 1e-1),
                "hidden_size": tune.choice([32, 64]),
            }
        },
        tune_config=tune.TuneConfig(
            metric="val_loss",
            mode="min",
            num_samples=num_samples,
            scheduler=ASHAScheduler(max_t=epochs, grace_period=1, reduction_factor=2),
        ),
        run_config=tune.RunConfig(
            name="torch_ddp",
            storage_path=storage_path,
            failure_config=tune.FailureConfig(max_failures=1),  # retried from its checkpoint
        ),
    )
    results = tuner.fit()

    best = results.get_best_result()
    print(f"Best config: {best.config['train_loop_config']}")
    print(
        f"Best val_loss: {best.metrics['val_loss']:.4f}, "
        f"val_accuracy: {best.metrics['val_accuracy']:.3f} after {best.metrics['epoch'] + 1} "
        f"epochs on {best.metrics['world_size']} workers"
    )
    print(f"Best checkpoint: {best.checkpoint}")


if __name__ == "__main__":
    main()
