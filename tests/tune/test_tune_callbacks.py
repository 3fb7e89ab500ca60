"""End to end: ``tune.Callback`` and ``LoggerCallback`` hooks, called in the driver in Ray
Tune's order, once per event."""

from __future__ import annotations

import os
import sys
import tempfile

import cloudpickle
import pytest
from tuning import tuner

from caliper import tune
from caliper.tune.logger import LoggerCallback

pytestmark = pytest.mark.timeout(60)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


class Recorder(tune.Callback):
    def __init__(self):
        self.events = []  # (hook, trial_id or None, extra)

    def setup(self, stop=None, num_samples=None, **info):
        self.events.append(("setup", None, num_samples))

    def on_trial_start(self, iteration, trials, trial, **info):
        assert trial in trials
        self.events.append(("start", trial.trial_id, dict(trial.config)))

    def on_trial_result(self, iteration, trials, trial, result, **info):
        assert trial in trials
        self.events.append(("result", trial.trial_id, dict(result)))

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.events.append(("complete", trial.trial_id, None))

    def on_trial_error(self, iteration, trials, trial, **info):
        self.events.append(("error", trial.trial_id, trial.error_file))

    def on_trial_recover(self, iteration, trials, trial, **info):
        self.events.append(("recover", trial.trial_id, None))

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        self.events.append(("checkpoint", trial.trial_id, checkpoint))

    def on_experiment_end(self, trials, **info):
        self.events.append(("end", None, len(trials)))

    def of(self, trial_id):
        return [(hook, extra) for hook, tid, extra in self.events if tid == trial_id]

    def hooks(self, trial_id):
        return [hook for hook, _ in self.of(trial_id)]


def mixed(config):
    x = config["x"]
    tune.report({"loss": x})
    if x == 2:
        raise ValueError("x=2 fails")
    if x == 0:
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "w.txt"), "w") as f:
                f.write("weights")
            tune.report({"loss": x + 0.1}, checkpoint=tune.Checkpoint.from_directory(tmp))
    else:
        tune.report({"loss": x + 0.1})


def test_callback_hooks_are_called_once_per_event_in_order(rt, tmp_path):
    recorder = Recorder()
    results = tuner(
        mixed, tmp_path, param_space={"x": tune.grid_search([0, 1, 2])}, callbacks=[recorder]
    ).fit()
    events = recorder.events
    assert events[0] == ("setup", None, 1)
    assert events[-1] == ("end", None, 3)
    assert [e[0] for e in events].count("setup") == 1
    assert [e[0] for e in events].count("end") == 1

    by_x = {r.config["x"]: r.metrics["trial_id"] for r in results}
    assert recorder.hooks(by_x[0]) == ["start", "result", "result", "checkpoint", "complete"]
    assert recorder.hooks(by_x[1]) == ["start", "result", "result", "complete"]
    assert recorder.hooks(by_x[2]) == ["start", "result", "error"]

    results_of_0 = [extra for hook, extra in recorder.of(by_x[0]) if hook == "result"]
    assert [r["loss"] for r in results_of_0] == [0, 0.1]
    assert [r["training_iteration"] for r in results_of_0] == [1, 2]
    assert all(r["trial_id"] == by_x[0] for r in results_of_0)

    (checkpoint,) = [extra for hook, extra in recorder.of(by_x[0]) if hook == "checkpoint"]
    assert isinstance(checkpoint, tune.Checkpoint)
    by_path = {r.config["x"]: r for r in results}
    assert os.path.dirname(checkpoint.path) == by_path[0].path
    with open(os.path.join(checkpoint.path, "w.txt")) as f:
        assert f.read() == "weights"

    (error_file,) = [extra for hook, extra in recorder.of(by_x[2]) if hook == "error"]
    assert error_file == os.path.join(by_path[2].path, "error.txt")

    # the default loggers still write their files next to the user's callbacks
    for r in results:
        assert os.path.isfile(os.path.join(r.path, "result.json"))
        assert os.path.isfile(os.path.join(r.path, "progress.csv"))


def fails_once(config):
    marker = os.path.join(config["dir"], "failed")
    tune.report({"loss": 1.0})
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("once")
    tune.report({"loss": 0.5})


def test_a_retried_trial_completes_once_and_is_never_reported_as_errored(rt, tmp_path):
    recorder = Recorder()
    (result,) = tuner(
        fails_once,
        tmp_path,
        param_space={"dir": str(tmp_path)},
        failure_config=tune.FailureConfig(max_failures=1),
        callbacks=[recorder],
    ).fit()
    hooks = recorder.hooks(result.metrics["trial_id"])
    assert hooks.count("recover") == 1
    assert hooks.count("complete") == 1 and hooks[-1] == "complete"
    assert "error" not in hooks
    assert hooks.index("recover") < len(hooks) - 1
    assert hooks.count("start") == 2  # started again for the retry


def forever(config):
    import time

    for i in range(1, 100_000):
        time.sleep(0.01)
        tune.report({"loss": float(i)})


def test_stopped_trials_complete_once(rt, tmp_path):
    recorder = Recorder()
    results = tuner(
        forever,
        tmp_path,
        param_space={"x": tune.grid_search([0, 1])},
        stop={"training_iteration": 2},
        callbacks=[recorder],
    ).fit()
    for r in results:
        hooks = recorder.hooks(r.metrics["trial_id"])
        assert hooks == ["start", "result", "result", "complete"]
        last = [extra for hook, extra in recorder.of(r.metrics["trial_id"]) if hook == "result"]
        assert last[-1]["done"] is True  # as in Ray: the result that stops a trial is done


def test_trials_ended_by_the_time_budget_complete_once(rt, tmp_path):
    recorder = Recorder()
    results = tuner(
        forever,
        tmp_path,
        tune_config=tune.TuneConfig(num_samples=2, time_budget_s=0.5),
        callbacks=[recorder],
    ).fit()
    assert len(results) == 2
    for r in results:
        hooks = recorder.hooks(r.metrics["trial_id"])
        assert hooks[0] == "start" and hooks[-1] == "complete"
        assert hooks.count("complete") == 1 and "error" not in hooks
    assert recorder.events[-1][0] == "end"


class Lines(LoggerCallback):
    def __init__(self):
        self.calls = []

    def log_trial_start(self, trial):
        self.calls.append(("start", trial.trial_id))

    def log_trial_result(self, iteration, trial, result):
        self.calls.append(("result", trial.trial_id, result["loss"]))

    def log_trial_end(self, trial, failed=False):
        self.calls.append(("end", trial.trial_id, failed))


def test_a_logger_callback_gets_start_result_and_end(rt, tmp_path):
    logger = Lines()
    results = tuner(
        mixed, tmp_path, param_space={"x": tune.grid_search([0, 1, 2])}, callbacks=[logger]
    ).fit()
    by_x = {r.config["x"]: r.metrics["trial_id"] for r in results}
    for x, losses, failed in ((0, [0, 0.1], False), (1, [1, 1.1], False), (2, [2], True)):
        tid = by_x[x]
        mine = [c for c in logger.calls if c[1] == tid]
        assert mine == [
            ("start", tid),
            *[("result", tid, loss) for loss in losses],
            ("end", tid, failed),
        ]
