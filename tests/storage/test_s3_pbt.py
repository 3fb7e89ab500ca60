"""Population Based Training with its experiment in S3: the controller copies checkpoints
between trials inside the bucket (never through this machine), and pruning deletes there."""

from __future__ import annotations

import json

import pytest
from storage_helpers import keys, read

from caliper import tune
from caliper.schedulers import PopulationBasedTraining

pytestmark = pytest.mark.timeout(100)

STEPS = 16


def toy(config):
    """PBT's toy problem (see tests/schedulers/test_pbt_tuner.py): Q = 1.2 - |theta|^2."""
    theta, step = [0.9, 0.9], 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        saved = checkpoint.to_dict()
        theta, step = saved["theta"], saved["step"]
    while step < STEPS:
        step += 1
        h = (config["h0"], config["h1"])
        theta = [t - 0.1 * h_i * t for t, h_i in zip(theta, h, strict=True)]
        tune.report(
            {"Q": 1.2 - sum(t * t for t in theta)},
            checkpoint=tune.Checkpoint.from_dict({"theta": theta, "step": step}),
        )


def test_pbt_exploits_copy_checkpoints_inside_the_bucket(rt, bucket):
    scheduler = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=4,
        quantile_fraction=0.5,
        resample_probability=0.5,
        hyperparam_mutations={"h0": tune.uniform(0.0, 1.0), "h1": tune.uniform(0.0, 1.0)},
        synch=True,
        seed=0,
    )
    results = tune.Tuner(
        tune.with_resources(toy, {"cpu": 0.5}),
        param_space={
            "h0": tune.grid_search([1.0, 0.0]),
            "h1": tune.sample_from(lambda s: 1 - s.config.h0),
        },
        tune_config=tune.TuneConfig(metric="Q", mode="max", scheduler=scheduler),
        run_config=tune.RunConfig(
            name="pbt",
            storage_path=f"s3://{bucket}/runs",
            verbose=0,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        ),
    ).fit()
    assert results.num_errors == 0
    assert read(bucket, "runs/pbt/pbt_global.txt").strip()  # exploits happened
    stored = keys(bucket, "runs/pbt/")
    assert not [k for k in stored if ".exploit_checkpoint" in k]
    folders = {k.rsplit("/", 1)[0] for k in stored if "/checkpoint_" in k}
    for folder in folders:
        assert f"{folder}/.checkpoint_complete" in stored, folder
    for result in results:
        kept = [c for c, _ in result.best_checkpoints]
        assert len(kept) <= 3  # num_to_keep=2, plus the newest
        assert {
            f"{bucket}/{f}"
            for f in folders
            if f.startswith(result.path.rsplit("/", 1)[1], len("runs/pbt/"))
        } == {c.path for c in kept}
        assert kept[-1].to_dict()["step"] == STEPS
    state = json.loads(read(bucket, "runs/pbt/experiment_state.json"))
    exploited = [t for t in state["trials"] if "@perturbed" in t["experiment_tag"]]
    assert exploited
    for trial in exploited:  # the copy is marked with its source, and complete in the bucket
        copies = [c for c in trial["checkpoints"] if c.get("source")]
        assert all(c["source"] != trial["trial_id"] for c in copies)


class Counter(tune.Trainable):
    """Adds ``x`` each step; its total survives a pause only through its checkpoint."""

    def setup(self, config):
        self.total = 0

    def step(self):
        self.total += self.config["x"]
        return {"total": self.total, "score": self.total / (self.iteration + 1)}

    def save_checkpoint(self, checkpoint_dir):
        return {"total": self.total}

    def load_checkpoint(self, state):
        self.total = state["total"]


def test_hyperband_pauses_and_resumes_a_class_trainable_through_the_bucket(rt, bucket):
    from caliper.schedulers import HyperBandScheduler

    results = tune.Tuner(
        tune.with_resources(Counter, {"cpu": 0.5}),
        param_space={"x": tune.grid_search([1, 2, 3, 4])},
        tune_config=tune.TuneConfig(
            metric="score",
            mode="max",
            scheduler=HyperBandScheduler(max_t=9, reduction_factor=3),
        ),
        run_config=tune.RunConfig(name="hb", storage_path=f"s3://{bucket}/runs", verbose=0),
    ).fit()
    assert results.num_errors == 0
    resumed = 0
    for result in results:
        iterations = result.metrics["training_iteration"]
        assert result.metrics["total"] == result.config["x"] * iterations  # state carried over
        resumed += iterations > 3
    assert resumed >= 1
    stored = set(keys(bucket, "runs/hb/"))
    folders = {k.rsplit("/", 1)[0] for k in stored if "/checkpoint_" in k}
    assert folders  # the paused runs' checkpoints went to the bucket, each complete
    assert all(f"{folder}/.checkpoint_complete" in stored for folder in folders)
