"""A Tuner whose storage_path is an s3:// URI: every file of the experiment lands in the
bucket (state, trial files, checkpoints), and results read back from the URI find the
checkpoints there."""

from __future__ import annotations

import json
import os

import pytest
from storage_helpers import keys, read

from caliper import tune

pytestmark = pytest.mark.timeout(90)


def train_fn(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        start = checkpoint.to_dict()["step"]
    with open(os.path.join(tune.get_context().get_trial_dir(), "notes.txt"), "a") as f:
        f.write(f"started at {start}\n")  # a file of the trainable's own
    for step in range(start + 1, 4):
        tune.report(
            {"loss": config["x"] / step, "step": step},
            checkpoint=tune.Checkpoint.from_dict({"step": step, "x": config["x"]}),
        )


class Counter(tune.Trainable):
    def setup(self, config):
        self.total = 0

    def step(self):
        self.total += self.config["x"]
        return {"loss": -self.total, "done": self.iteration + 1 >= 3}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "total.txt"), "w") as f:
            f.write(str(self.total))

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "total.txt")) as f:
            self.total = int(f.read())


def _trial_files(bucket: str, prefix: str) -> dict[str, list[str]]:
    """Per trial directory, the names of its files (checkpoint files as dir/name)."""
    out: dict[str, list[str]] = {}
    for key in keys(bucket, prefix + "/"):
        rest = key[len(prefix) + 1 :]
        if "/" in rest:
            trial, _, name = rest.partition("/")
            out.setdefault(trial, []).append(name)
    return out


@pytest.mark.parametrize("trainable", [train_fn, Counter], ids=["function", "class"])
def test_experiment_lands_in_the_bucket(rt, bucket, tmp_path, trainable):
    storage = f"s3://{bucket}/runs"
    run_config = tune.RunConfig(name="exp", storage_path=storage, verbose=0)
    if trainable is Counter:
        run_config.checkpoint_config = tune.CheckpointConfig(checkpoint_frequency=1)
    tuner = tune.Tuner(
        trainable,
        param_space={"x": tune.grid_search([1, 2])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=run_config,
    )
    results = tuner.fit()
    assert results.num_errors == 0
    top = keys(bucket, "runs/exp/")
    for name in ("experiment_state.json", "tuner.pkl"):
        assert f"runs/exp/{name}" in top
    state = json.loads(read(bucket, "runs/exp/experiment_state.json"))
    assert state["status"] == "FINISHED"
    assert {t["status"] for t in state["trials"]} == {"TERMINATED"}
    files = _trial_files(bucket, "runs/exp")
    assert len(files) == 2
    for trial in state["trials"]:
        names = files[trial["dirname"]]
        for name in ("result.json", "progress.csv", "params.json", "params.pkl"):
            assert name in names, (trial["dirname"], names)
        assert ("notes.txt" in names) == (trainable is train_fn)
        for index in range(3):
            assert f"checkpoint_{index:06d}/.checkpoint_complete" in names, names
        lines = read(bucket, f"runs/exp/{trial['dirname']}/result.json").splitlines()
        assert [json.loads(line)["training_iteration"] for line in lines] == [1, 2, 3]

    best = results.get_best_result()
    assert best.checkpoint.filesystem is not None
    assert best.checkpoint.path.startswith(f"{bucket}/runs/exp/")
    with best.checkpoint.as_directory() as folder:
        assert ".checkpoint_complete" not in os.listdir(folder)
        if trainable is Counter:
            with open(os.path.join(folder, "total.txt")) as f:
                assert f.read() == "6"
    if trainable is train_fn:
        assert best.checkpoint.to_dict() == {"step": 3, "x": 1}

    again = tune.ResultGrid.from_path(f"{storage}/exp")  # as another machine reads it
    assert len(again) == 2
    best = again.get_best_result()
    assert best.metrics["loss"] == (-6 if trainable is Counter else 1 / 3)
    target = best.checkpoint.to_directory(str(tmp_path / "copy"))
    assert os.listdir(target)
    assert len(best.metrics_dataframe) == 3

    analysis = tune.ExperimentAnalysis(f"{storage}/exp")  # the legacy reader, from the URI
    trial = analysis.get_best_trial("loss", "min")
    checkpoint = analysis.get_best_checkpoint(trial, "training_iteration", "max")
    assert checkpoint.filesystem is not None
    with checkpoint.as_directory() as folder:
        assert os.listdir(folder)
    assert len(analysis.dataframe()) == 2


def test_endpoint_given_in_the_uri(s3_env, bucket, monkeypatch, runtime_factory):
    """pyarrow's URI options name the server and the credentials (no AWS_ENDPOINT_URL): the
    trials' processes and readers reach it too, and the credentials are not stored."""
    server = s3_env["AWS_ENDPOINT_URL"].removeprefix("http://")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    runtime_factory(num_cpus=2)
    secret = "SeCrEt-in-the-uri"
    storage = f"s3://AKIAEXAMPLE:{secret}@{bucket}/q?endpoint_override={server}&scheme=http"
    results = tune.Tuner(
        train_fn,
        param_space={"x": tune.grid_search([1, 2])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(name="exp", storage_path=storage, verbose=0),
    ).fit()
    assert results.num_errors == 0
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env["AWS_ENDPOINT_URL"])  # for the listing
    stored = keys(bucket, "q/exp/")
    assert "q/exp/experiment_state.json" in stored
    for key in stored:  # credentials in the URI are never written down
        assert secret.encode() not in read(bucket, key), key
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    grid = tune.ResultGrid.from_path(f"s3://{bucket}/q/exp?endpoint_override={server}&scheme=http")
    assert secret not in results.get_best_result().checkpoint.__repr__()
    assert grid.get_best_result().checkpoint.to_dict() == {"step": 3, "x": 1}


def test_tune_run_analysis_checkpoints_come_from_the_bucket(rt, bucket, tmp_path):
    """The legacy tune.run with a URI: its ExperimentAnalysis hands out checkpoints that
    download from the bucket (the driver's local copy has none)."""
    analysis = tune.run(
        train_fn,
        config={"x": tune.grid_search([1, 2])},
        metric="loss",
        mode="min",
        storage_path=f"s3://{bucket}/runs",
        name="legacy",
        verbose=0,
    )
    checkpoint = analysis.best_checkpoint
    assert checkpoint is not None
    assert checkpoint.filesystem is not None  # on the bucket, as Ray's: filesystem + path
    assert checkpoint.path.startswith(f"{bucket}/runs/legacy/")
    assert checkpoint.to_dict() == {"step": 3, "x": 1}
