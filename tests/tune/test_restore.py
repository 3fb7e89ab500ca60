"""Tuner.restore continues an experiment from its directory: finished trials stay finished,
unfinished ones resume from their newest checkpoint, errored ones follow the flags, and the
searcher hands out no config twice."""

from __future__ import annotations

import json
import os
import sys
import tempfile

import cloudpickle
import pytest

from caliper import tune

pytestmark = pytest.mark.timeout(60)
cloudpickle.register_pickle_by_value(sys.modules[__name__])

STEPS = 8


@pytest.fixture
def rt(runtime_factory):
    return runtime_factory(num_cpus=2)


def resumable(config):
    """Counts to STEPS with a checkpoint per step; fails once at step 3 when asked to."""
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with open(os.path.join(checkpoint.path, "step")) as f:
            start = int(f.read())
    for step in range(start + 1, STEPS + 1):
        flag = config.get("fail_flag")
        if flag and step == 3 and not os.path.exists(flag):
            open(flag, "w").close()
            raise RuntimeError("fails once at step 3")
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "step"), "w") as f:
                f.write(str(step))
            tune.report(
                {"loss": float(STEPS - step) + config["x"], "step": step},
                checkpoint=tune.Checkpoint.from_directory(tmp),
            )


class InterruptAfter(tune.Callback):
    """Raises KeyboardInterrupt in the driver after some results, like Ctrl-C would, once
    (the callback comes back with the restored RunConfig; a marker file says it fired)."""

    def __init__(self, results: int, marker: str):
        self.left = results
        self.marker = marker

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.left -= 1
        if self.left == 0 and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            raise KeyboardInterrupt


def state_of(path):
    with open(os.path.join(path, "experiment_state.json")) as f:
        return json.load(f)


def test_an_interrupted_experiment_resumes_and_finishes_every_trial(rt, tmp_path):
    space = {"x": tune.grid_search([0.0, 0.5, 1.0])}
    first = tune.Tuner(
        resumable,
        param_space=space,
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(
            name="exp",
            storage_path=str(tmp_path),
            verbose=0,
            callbacks=[InterruptAfter(5, str(tmp_path / "fired"))],
        ),
    ).fit()
    path = first.experiment_path
    assert state_of(path)["status"] == "INTERRUPTED"
    assert tune.Tuner.can_restore(path)
    assert not tune.Tuner.can_restore(tmp_path)
    unfinished = [r for r in first if r.metrics.get("step", 0) < STEPS]
    assert unfinished  # the interrupt came before the end

    results = tune.Tuner.restore(path, trainable=resumable).fit()
    assert state_of(path)["status"] == "FINISHED"
    assert len(results) == 3 and results.num_errors == 0
    assert sorted(r.config["x"] for r in results) == [0.0, 0.5, 1.0]  # no config twice
    for r in results:
        assert r.metrics["step"] == STEPS
        assert r.metrics["training_iteration"] == STEPS  # counted on from the checkpoint
    assert results.get_best_result().config["x"] == 0.0


def test_errored_trials_stay_errored_or_resume_or_restart_as_asked(rt, tmp_path):
    flag = str(tmp_path / "failed-once")
    path = (
        tune.Tuner(
            resumable,
            param_space={"x": 0.0, "fail_flag": flag},
            run_config=tune.RunConfig(name="exp", storage_path=str(tmp_path), verbose=0),
        )
        .fit()
        .experiment_path
    )
    assert state_of(path)["trials"][0]["status"] == "ERROR"

    kept = tune.Tuner.restore(path, trainable=resumable).fit()
    assert kept.num_errors == 1  # errored trials stay errored by default

    resumed = tune.Tuner.restore(path, trainable=resumable, resume_errored=True).fit()
    assert resumed.num_errors == 0
    [result] = list(resumed)
    assert result.metrics["step"] == STEPS
    assert result.metrics["training_iteration"] == STEPS  # went on from checkpoint 2


def test_restore_of_a_directory_without_an_experiment_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"experiment_state\.json"):
        tune.Tuner.restore(str(tmp_path), trainable=resumable)
