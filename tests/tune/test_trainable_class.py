"""End to end: class trainables (``tune.Trainable`` subclasses) and their lifecycle: setup, step,
save_checkpoint, load_checkpoint, reset_config, cleanup. Each trainable writes the calls it got
into a file of the test's tmp_path (they run in worker processes)."""

from __future__ import annotations

import json
import os
import sys

import cloudpickle
import numpy as np
import pytest
from tuning import read_lines, tuner

from caliper import tune
from caliper.tune import ResultGrid

pytestmark = pytest.mark.timeout(60)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture
def work(tmp_path):
    path = tmp_path / "work"
    path.mkdir()
    return path


def calls(work, name="calls.txt"):
    with open(os.path.join(work, name), encoding="utf-8") as f:
        return f.read().splitlines()


class Logged(tune.Trainable):
    """Counts up; logs each call; ``done_at`` ends it; ``fail_at`` fails once at that value."""

    def log(self, *parts):
        name = f"calls{self.config.get('tag', '')}.txt"
        with open(os.path.join(self.config["dir"], name), "a", encoding="utf-8") as f:
            f.write(" ".join(map(str, parts)) + "\n")

    def setup(self, config):
        self.value = 0
        self.log("setup")

    def step(self):
        self.value += 1
        self.log("step", self.value)
        fail_at = self.config.get("fail_at")
        marker = os.path.join(self.config["dir"], "failed")
        if fail_at == self.value and not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError(f"failing at {self.value}")
        result = {
            "value": self.value,
            "iteration_in_step": self.iteration,
            "logdir": self.logdir,
            "seen_trial_id": self.trial_id,
            "pid_seen": os.getpid(),
        }
        if self.config.get("done_at") == self.value:
            result["done"] = True
        return result

    def save_checkpoint(self, checkpoint_dir):
        self.log("save", self.value)
        with open(os.path.join(checkpoint_dir, "value.txt"), "w") as f:
            f.write(str(self.value))
        return {"value": self.value}

    def load_checkpoint(self, checkpoint):
        self.log("load", checkpoint["value"])
        self.value = checkpoint["value"]

    def cleanup(self):
        self.log("cleanup")


def value_in(checkpoint):
    with open(os.path.join(checkpoint.path, "value.txt")) as f:
        return int(f.read())


def test_setup_step_cleanup_and_stop_by_iteration(rt, tmp_path, work):
    (result,) = tuner(
        Logged, tmp_path, param_space={"dir": str(work)}, stop={"training_iteration": 3}
    ).fit()
    assert result.error is None
    assert calls(work) == ["setup", "step 1", "step 2", "step 3", "cleanup"]
    m = result.metrics
    assert m["training_iteration"] == 3 and m["value"] == 3
    assert m["done"] is True
    assert [line["iteration_in_step"] for line in read_lines(result.path)] == [0, 1, 2]
    assert m["logdir"] == result.path
    assert m["seen_trial_id"] == m["trial_id"]
    assert not [n for n in os.listdir(result.path) if n.startswith("checkpoint_")]


def test_a_result_with_done_ends_the_trial(rt, tmp_path, work):
    (result,) = tuner(Logged, tmp_path, param_space={"dir": str(work), "done_at": 2}).fit()
    assert calls(work) == ["setup", "step 1", "step 2", "cleanup"]
    assert result.metrics["training_iteration"] == 2
    assert result.metrics["done"] is True
    lines = read_lines(result.path)
    assert [line["done"] for line in lines] == [False, True]


def test_checkpoint_frequency_saves_every_n_iterations(rt, tmp_path, work):
    (result,) = tuner(
        Logged,
        tmp_path,
        param_space={"dir": str(work)},
        stop={"training_iteration": 5},
        checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=2),
    ).fit()
    assert [c for c in calls(work) if c.startswith("save")] == ["save 2", "save 4"]
    names = sorted(n for n in os.listdir(result.path) if n.startswith("checkpoint_"))
    assert names == ["checkpoint_000000", "checkpoint_000001"]
    assert result.checkpoint is not None
    assert result.checkpoint.path == os.path.join(result.path, "checkpoint_000001")
    assert value_in(result.checkpoint) == 4
    assert [value_in(c) for c, _ in result.best_checkpoints] == [2, 4]
    assert [m["training_iteration"] for _, m in result.best_checkpoints] == [2, 4]
    (again,) = ResultGrid.from_path(os.path.dirname(result.path))
    assert again.checkpoint == result.checkpoint


def test_checkpoint_at_end_when_done(rt, tmp_path, work):
    (result,) = tuner(
        Logged,
        tmp_path,
        param_space={"dir": str(work), "done_at": 3},
        checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=True),
    ).fit()
    assert result.checkpoint is not None and value_in(result.checkpoint) == 3


def test_checkpoint_at_end_when_stopped_by_a_stopper(rt, tmp_path, work):
    # Ray marks the result that stops a trial done=True and then saves (checkpoint_at_end)
    (result,) = tuner(
        Logged,
        tmp_path,
        param_space={"dir": str(work)},
        stop={"training_iteration": 3},
        checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=True),
    ).fit()
    assert result.checkpoint is not None
    assert value_in(result.checkpoint) == 3


def test_a_retried_trial_is_restored_with_load_checkpoint(rt, tmp_path, work):
    (result,) = tuner(
        Logged,
        tmp_path,
        param_space={"dir": str(work), "fail_at": 3},
        stop={"training_iteration": 4},
        checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=1),
        failure_config=tune.FailureConfig(max_failures=1),
    ).fit()
    assert result.error is None
    log = calls(work)
    failed_step = log.index("step 3")
    assert log[: failed_step + 1] == ["setup", "step 1", "save 1", "step 2", "save 2", "step 3"]
    rest = log[failed_step + 1 :]
    if rest and rest[0] == "cleanup":  # whether a failed trainable's cleanup runs is not fixed
        rest = rest[1:]
    assert rest == ["setup", "load 2", "step 3", "save 3", "step 4", "save 4", "cleanup"]
    assert result.metrics["value"] == 4
    assert result.metrics["training_iteration"] == 4
    assert result.metrics["iteration_in_step"] == 3
    assert value_in(result.checkpoint) == 4
    with open(os.path.join(result.path, "error.txt")) as f:
        assert "failing at 3" in f.read()


class Resettable(Logged):
    def reset_config(self, new_config):
        self.log("reset", new_config["x"])
        self.value = 0
        return True


def test_reuse_actors_calls_reset_config_instead_of_a_new_setup(rt, tmp_path, work):
    results = tuner(
        Resettable,
        tmp_path,
        param_space={"dir": str(work), "x": tune.grid_search([0, 1, 2]), "done_at": 2},
        tune_config=tune.TuneConfig(max_concurrent_trials=1, reuse_actors=True),
    ).fit()
    log = calls(work)
    assert log.count("setup") == 1
    assert log.count("reset 1") == 1 and log.count("reset 2") == 1
    assert log.count("cleanup") == 1 and log[-1] == "cleanup"
    assert len({r.metrics["pid_seen"] for r in results}) == 1
    for r in results:
        assert r.metrics["value"] == 2 and r.metrics["training_iteration"] == 2
        assert r.metrics["logdir"] == r.path
        assert r.metrics["seen_trial_id"] == r.metrics["trial_id"]
        assert [line["iteration_in_step"] for line in read_lines(r.path)] == [0, 1]


def test_class_trials_get_a_fresh_instance_without_reuse(rt, tmp_path, work):
    results = tuner(
        Logged,
        tmp_path,
        param_space={"dir": str(work), "x": tune.grid_search([0, 1]), "done_at": 1},
        tune_config=tune.TuneConfig(max_concurrent_trials=1),
    ).fit()
    assert calls(work) == ["setup", "step 1", "cleanup"] * 2
    assert all(r.metrics["value"] == 1 for r in results)


class BadStep(tune.Trainable):
    def step(self):
        return [1, 2]


class NoStep(tune.Trainable):
    pass


def test_a_step_that_returns_no_dict_errors_the_trial(rt, tmp_path):
    (result,) = tuner(BadStep, tmp_path, name="bad").fit()
    assert result.error is not None
    assert "step()" in str(result.error) and "list" in str(result.error)
    (result,) = tuner(NoStep, tmp_path, name="none").fit()
    assert result.error is not None and "step" in str(result.error)


class WithData(tune.Trainable):
    def setup(self, config, data=None):
        self.total = float(data.sum()) * config["k"]

    def step(self):
        return {"total": self.total, "done": True}


def test_with_parameters_on_a_class_trainable(rt, tmp_path):
    results = tuner(
        tune.with_parameters(WithData, data=np.arange(10)),
        tmp_path,
        param_space={"k": tune.grid_search([1, 2])},
    ).fit()
    assert sorted(r.metrics["total"] for r in results) == [45.0, 90.0]
    for r in results:
        with open(os.path.join(r.path, "params.json")) as f:
            assert json.load(f) == {"k": r.config["k"]}


def test_with_resources_on_a_class_trainable(rt, tmp_path, work):
    results = tuner(
        tune.with_resources(Logged, {"cpu": 2}),
        tmp_path,
        param_space={"dir": str(work), "tag": tune.grid_search(["a", "b"]), "done_at": 1},
    ).fit()
    assert all(r.error is None for r in results)
    assert calls(work, "callsa.txt") == ["setup", "step 1", "cleanup"]
    assert calls(work, "callsb.txt") == ["setup", "step 1", "cleanup"]
