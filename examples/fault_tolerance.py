"""Fault tolerance: checkpoints, retries of failed trials, and resuming a crashed experiment.

Each trial trains a simulated model for some epochs, saving a checkpoint (a small dict) at
every epoch and resuming from ``tune.get_checkpoint()`` when there is one. One trial fails
once part way; ``FailureConfig(max_failures=2)`` retries it from its newest checkpoint. With
``--crash-after SECONDS`` the whole script kills itself (SIGKILL, as a power cut or an
out-of-memory kill would) part way through; run the same command again and it resumes the
experiment with ``tune.Tuner.restore``: finished trials stay finished, the others go on from
their newest checkpoints, and every epoch is in the result files once.

    python examples/fault_tolerance.py --storage-path ./results --crash-after 1.5   # dies
    python examples/fault_tolerance.py --storage-path ./results                     # resumes
    python examples/fault_tolerance.py --smoke-test                                  # for CI
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
import time

from caliper import tune


def train(config: dict) -> None:
    """A simulated training run with a checkpoint per epoch."""
    epoch, weight = 0, 0.0
    checkpoint = tune.get_checkpoint()
    if checkpoint:  # a retry or a resumed experiment: go on from where it was saved
        state = checkpoint.to_dict()
        epoch, weight = state["epoch"], state["weight"]
    while epoch < config["epochs"]:
        epoch += 1
        time.sleep(config["epoch_seconds"])  # the "training"
        weight += config["lr"] * (1.0 - weight)  # moves towards the optimum 1.0
        flag = os.path.join(tune.get_context().get_trial_dir(), "failed-once")
        if config.get("fail_at") == epoch and not os.path.exists(flag):
            open(flag, "w").close()  # fail once only
            raise RuntimeError(f"simulated failure at epoch {epoch}")
        tune.report(
            {"loss": (1.0 - weight) ** 2, "epoch": epoch},
            checkpoint=tune.Checkpoint.from_dict({"epoch": epoch, "weight": weight}),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage-path", default=None, help="where the experiment goes")
    parser.add_argument("--crash-after", type=float, default=None, help="SIGKILL after S s")
    parser.add_argument("--smoke-test", action="store_true", help="a tiny run, for CI")
    args = parser.parse_args()
    storage = args.storage_path or tempfile.mkdtemp(prefix="caliper_fault_tolerance_")
    path = os.path.join(os.path.abspath(storage), "fault_tolerance")
    if args.crash_after is not None:
        kill = lambda: os.kill(os.getpid(), signal.SIGKILL)  # noqa: E731
        threading.Timer(args.crash_after, kill).start()

    if tune.Tuner.can_restore(path):
        print(f"Resuming the experiment in {path}")
        tuner = tune.Tuner.restore(path, trainable=train)
    else:
        epochs = 4 if args.smoke_test else 10
        tuner = tune.Tuner(
            train,
            param_space={
                "lr": tune.grid_search([0.05, 0.1, 0.2, 0.4]),
                "epochs": epochs,
                "epoch_seconds": 0.05 if args.smoke_test else 0.2,
                "fail_at": 2,  # each trial fails once at epoch 2, then resumes from epoch 1
            },
            tune_config=tune.TuneConfig(metric="loss", mode="min"),
            run_config=tune.RunConfig(
                name="fault_tolerance",
                storage_path=storage,
                failure_config=tune.FailureConfig(max_failures=2),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
                verbose=1,
            ),
        )
    results = tuner.fit()
    best = results.get_best_result()
    print(f"Best config: {best.config}")
    print(f"Best loss: {best.metrics['loss']:.6f} after {best.metrics['epoch']} epochs")
    print(f"Best checkpoint: {best.checkpoint}")
    print(f"Errors: {results.num_errors}")
    print(f"Experiment directory: {results.experiment_path}")


if __name__ == "__main__":
    main()
