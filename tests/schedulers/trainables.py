"""Trainables the scheduler experiments share."""

from __future__ import annotations

from caliper import tune


def counting(config):
    """Up to t = 9 with a checkpoint per report: ``Q = x * t`` (grows) and ``loss = x / t``
    (falls)."""
    step = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        step = checkpoint.to_dict()["step"]
    while step < 9:
        step += 1
        tune.report(
            {"Q": config["x"] * step, "loss": config["x"] / step},
            checkpoint=tune.Checkpoint.from_dict({"step": step}),
        )
