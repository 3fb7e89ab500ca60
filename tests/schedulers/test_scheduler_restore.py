"""A scheduler's state survives an interrupted experiment: restored, PBT's population and
HyperBand's brackets go on where they were, and the experiment ends as an uninterrupted one
would."""

from __future__ import annotations

import json
import os

import pytest

from caliper import tune
from caliper.schedulers import HyperBandScheduler
from tests.schedulers.test_pbt_tuner import SPACE, STEPS, pbt, toy
from tests.schedulers.trainables import counting
from tests.tune.test_restore import InterruptAfter

pytestmark = pytest.mark.timeout(120)


def run(tmp_path, trainable, space, scheduler, name, callbacks=(), num_samples=1):
    return tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(
            metric="Q", mode="max", scheduler=scheduler, num_samples=num_samples
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=str(tmp_path),
            verbose=0,
            callbacks=list(callbacks),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        ),
    )


def policy(path) -> list:
    with open(os.path.join(path, "pbt_global.txt"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_synchronous_pbt_continues_its_population_after_a_restore(rt, tmp_path):
    trainable = tune.with_resources(toy, {"cpu": 0.5})
    whole = run(tmp_path, trainable, SPACE, pbt(synch=True), "whole").fit()
    interrupt = InterruptAfter(STEPS, str(tmp_path / "fired"))  # half-way
    first = run(tmp_path, trainable, SPACE, pbt(synch=True), "cut", [interrupt])
    first.fit()
    before = len(policy(first.experiment_path))
    assert 0 < before < len(policy(whole.experiment_path))
    tuner = tune.Tuner.restore(first.experiment_path, trainable)
    results = tuner.fit()
    scheduler = tuner.tune_config.scheduler
    assert scheduler.num_perturbations == len(policy(first.experiment_path)) > before
    assert [r.checkpoint.to_dict()["step"] for r in results] == [STEPS, STEPS]
    # up to the interruption, the same exploits as without it; after the restore, every
    # exploit is at a meeting time (a multiple of the interval) and the population still
    # reaches the optimum (which later exploits happen depends on the order the resumed
    # trials reach the first meeting, so they are not compared one by one)
    records = policy(first.experiment_path)
    assert records[:before] == policy(whole.experiment_path)[:before]
    assert all(record[2] % 4 == 0 for record in records)
    assert max(r.metrics["Q"] for r in results) > 0.99


def test_hyperband_keeps_its_brackets_across_a_restore(rt, tmp_path):
    space = {"x": tune.grid_search([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])}

    def hyperband():
        return HyperBandScheduler(time_attr="training_iteration", max_t=9, reduction_factor=3)

    whole = run(tmp_path, counting, space, hyperband(), "whole").fit()
    interrupt = InterruptAfter(12, str(tmp_path / "fired"))
    first = run(tmp_path, counting, space, hyperband(), "cut", [interrupt])
    first.fit()
    results = tune.Tuner.restore(first.experiment_path, counting).fit()
    assert results.num_errors == 0

    def reached(grid):
        return {r.config["x"]: r.metrics["training_iteration"] for r in grid}

    assert reached(results) == reached(whole)
    assert max(reached(results).values()) == 9


def fails_once(config):
    """Reports ``loss = x + 1/t`` up to t = 9; trial x=0 fails at t=2 until the flag exists."""
    step = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        step = checkpoint.to_dict()["step"]
    while step < 9:
        step += 1
        if config["x"] == 0 and step == 2 and not os.path.exists(config["flag"]):
            raise RuntimeError("fails before the flag exists")
        tune.report(
            {"loss": config["x"] + 1 / step}, checkpoint=tune.Checkpoint.from_dict({"step": step})
        )


@pytest.mark.parametrize("name", ["hyperband", "pbt-synch", "asha"])
def test_a_resumed_errored_trial_runs_again_under_its_scheduler(rt, tmp_path, name):
    from caliper.schedulers import ASHAScheduler

    scheduler = {
        "hyperband": lambda: HyperBandScheduler(max_t=9, reduction_factor=3),
        "pbt-synch": lambda: pbt(synch=True, hyperparam_mutations={"y": [1, 2, 3]}),
        "asha": lambda: ASHAScheduler(max_t=9, grace_period=1, reduction_factor=3),
    }[name]()
    flag = tmp_path / "flag"
    space = {"x": tune.grid_search([0, 1, 2, 3]), "flag": str(flag), "y": 1}
    trainable = tune.with_resources(fails_once, {"cpu": 0.5})
    first = tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(metric="loss", mode="min", scheduler=scheduler),
        run_config=tune.RunConfig(name="exp", storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert [r.config["x"] for r in first if r.error is not None] == [0]
    flag.touch()
    results = tune.Tuner.restore(first.experiment_path, trainable, resume_errored=True).fit()
    [best] = [r for r in results if r.config["x"] == 0]
    assert best.error is None
    assert best.metrics["training_iteration"] > 1  # it ran again, not just closed
