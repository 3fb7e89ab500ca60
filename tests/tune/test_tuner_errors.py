"""End to end: trials that fail, retries, fail_fast, and bad input that must be refused before
any trial starts (with a message that names what is wrong)."""

from __future__ import annotations

import glob
import json
import os
import sys
import tempfile
import threading

import cloudpickle
import pytest
from tuning import read_state, tuner

from caliper import tune
from caliper.tune import ResultGrid

pytestmark = pytest.mark.timeout(60)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def trial_dirs(experiment_path):
    return [p for p in glob.glob(os.path.join(experiment_path, "*")) if os.path.isdir(p)]


def nothing_written(tmp_path):
    """No trial directory anywhere under tmp_path (an empty experiment directory is fine)."""
    found = []
    for root, dirs, files in os.walk(tmp_path):
        found += [os.path.join(root, f) for f in files if f != "experiment_state.json"]
        found += [os.path.join(root, d) for d in dirs if root != str(tmp_path)]
    return not found


def fails_for_one(config):
    tune.report({"loss": config["x"]})
    if config["x"] == 1:
        raise ValueError(f"bad value {config['x']} for x")
    tune.report({"loss": config["x"] + 0.5})


def test_a_failing_trial_errors_and_the_others_finish(rt, tmp_path):
    results = tuner(
        fails_for_one,
        tmp_path,
        param_space={"x": tune.grid_search([0, 1, 2])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
    ).fit()
    assert len(results) == 3
    assert results.num_errors == 1 and results.num_terminated == 2
    assert len(results.errors) == 1
    by_x = {r.config["x"]: r for r in results}
    for x in (0, 2):
        assert by_x[x].error is None
        assert by_x[x].metrics["loss"] == x + 0.5
        assert by_x[x].metrics["training_iteration"] == 2
    failed = by_x[1]
    assert failed.error is results.errors[0]
    message = str(failed.error)
    assert "ValueError" in message and "bad value 1 for x" in message
    assert "Traceback" in message and "fails_for_one" in message  # the trial's traceback
    assert failed.metrics["loss"] == 1  # what it reported before failing

    error_file = os.path.join(failed.path, "error.txt")
    with open(error_file, encoding="utf-8") as f:
        text = f.read()
    assert "bad value 1 for x" in text and "Traceback" in text and "fails_for_one" in text
    for x in (0, 2):
        assert not os.path.exists(os.path.join(by_x[x].path, "error.txt"))

    state = read_state(results.experiment_path)
    assert sorted(t["status"] for t in state["trials"]) == ["ERROR", "TERMINATED", "TERMINATED"]
    assert results.get_best_result().config["x"] == 0

    again = ResultGrid.from_path(results.experiment_path)
    assert again.num_errors == 1
    assert "bad value 1 for x" in str(again.errors[0])


def fails_first_time(config):
    marker = os.path.join(config["dir"], "failed_once")
    ckpt = tune.get_checkpoint()
    start = 0
    if ckpt is not None:
        with open(os.path.join(ckpt.path, "step.txt")) as f:
            start = int(f.read())
    with open(os.path.join(config["dir"], "starts.txt"), "a") as f:
        f.write(f"{start}\n")
    for step in range(start + 1, 5):
        if step == 3 and not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("transient failure")
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "step.txt"), "w") as f:
                f.write(str(step))
            tune.report({"step": step}, checkpoint=tune.Checkpoint.from_directory(tmp))


def test_max_failures_retries_a_trial_from_its_checkpoint(rt, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (result,) = tuner(
        fails_first_time,
        tmp_path,
        param_space={"dir": str(work)},
        failure_config=tune.FailureConfig(max_failures=1),
    ).fit()
    assert result.error is None
    with open(work / "starts.txt") as f:
        assert f.read().split() == ["0", "2"]  # the retry resumed from checkpoint 2
    assert result.metrics["step"] == 4
    assert result.metrics["training_iteration"] == 4  # counted on from the checkpoint
    with open(os.path.join(result.path, "result.json")) as f:
        steps = [json.loads(line)["step"] for line in f]
    assert steps == [1, 2, 3, 4]
    state = read_state(os.path.dirname(result.path))
    assert state["trials"][0]["status"] == "TERMINATED"
    assert state["trials"][0]["num_failures"] == 1


def test_without_max_failures_the_same_trial_errors(rt, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (result,) = tuner(fails_first_time, tmp_path, param_space={"dir": str(work)}).fit()
    assert result.error is not None and "transient failure" in str(result.error)
    with open(work / "starts.txt") as f:
        assert f.read().split() == ["0"]


def fails_always(config):
    with open(os.path.join(config["dir"], f"ran_{config['i']}"), "w"):
        pass
    raise RuntimeError(f"trial {config['i']} broke")


def test_fail_fast_stops_the_experiment_at_the_first_error(rt, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    results = tuner(
        fails_always,
        tmp_path,
        param_space={"dir": str(work), "i": tune.grid_search([0, 1, 2, 3, 4])},
        tune_config=tune.TuneConfig(max_concurrent_trials=1),
        failure_config=tune.FailureConfig(fail_fast=True),
    ).fit()
    assert sorted(os.listdir(work)) == ["ran_0"]
    assert results.num_errors == 1
    assert "trial 0 broke" in str(results.errors[0])


def test_fail_fast_raise_raises_the_error(rt, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(Exception, match="trial 0 broke"):
        tuner(
            fails_always,
            tmp_path,
            param_space={"dir": str(work), "i": tune.grid_search([0, 1, 2])},
            tune_config=tune.TuneConfig(max_concurrent_trials=1),
            failure_config=tune.FailureConfig(fail_fast="raise"),
        ).fit()
    assert sorted(os.listdir(work)) == ["ran_0"]


def bad_return(config):
    return 42


def test_a_function_returning_a_non_dict_errors_with_a_message(rt, tmp_path):
    (result,) = tuner(bad_return, tmp_path).fit()
    assert result.error is not None
    assert "int" in str(result.error) and "dict" in str(result.error)


def reports_only_acc(config):
    if config["x"] == 1:
        tune.report({"acc": 0.5, "other": 1})
    else:
        tune.report({"loss": float(config["x"])})


def test_a_metric_the_trial_never_reports_errors_that_trial(rt, tmp_path):
    results = tuner(
        reports_only_acc,
        tmp_path,
        param_space={"x": tune.grid_search([0, 1, 2])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        failure_config=tune.FailureConfig(max_failures=2),  # not a failure to retry
    ).fit()
    assert results.num_errors == 1
    by_x = {r.config["x"]: r for r in results}
    message = str(by_x[1].error)
    assert "loss" in message and "acc" in message and "other" in message
    assert by_x[0].error is None and by_x[2].error is None
    with open(os.path.join(by_x[1].path, "error.txt")) as f:
        assert "acc" in f.read()
    state = read_state(results.experiment_path)
    failed = next(t for t in state["trials"] if t["config"]["x"] == 1)
    assert failed["num_failures"] == 1 and failed["status"] == "ERROR"
    assert results.get_best_result().config["x"] == 0


# -- bad input, refused before any trial starts --------------------------------------------------


def never_runs(config):
    open(os.path.join(config["dir"], "ran"), "w").close()
    tune.report({"loss": 1})


def test_unknown_config_fields_are_named():
    with pytest.raises(TypeError, match="metrc"):
        tune.TuneConfig(metrc="loss")
    with pytest.raises(TypeError, match="stopp"):
        tune.RunConfig(stopp={"training_iteration": 1})
    with pytest.raises(TypeError, match="max_failure"):
        tune.FailureConfig(max_failure=1)
    with pytest.raises(TypeError, match="num_to_kep"):
        tune.CheckpointConfig(num_to_kep=1)


def test_bad_mode_and_metric_without_mode(rt, tmp_path):
    with pytest.raises(ValueError, match="minimize"):
        tune.TuneConfig(metric="loss", mode="minimize")
    with pytest.raises(ValueError, match="mode"):
        tuner(never_runs, tmp_path, tune_config=tune.TuneConfig(metric="loss")).fit()
    with pytest.raises(ValueError, match="metric"):
        tuner(never_runs, tmp_path, tune_config=tune.TuneConfig(mode="min")).fit()
    assert nothing_written(tmp_path)


def test_bad_search_space_bounds():
    with pytest.raises(ValueError, match="2"):
        tune.uniform(2, 1)
    with pytest.raises(ValueError, match="0"):
        tune.loguniform(0, 1)
    with pytest.raises(ValueError):
        tune.randint(5, 5)
    with pytest.raises(ValueError):
        tune.choice([])


def test_bad_config_values_are_refused(rt, tmp_path):
    with pytest.raises(ValueError, match="num_samples"):
        tune.TuneConfig(num_samples=0)
    with pytest.raises(ValueError, match="max_concurrent_trials"):
        tune.TuneConfig(max_concurrent_trials=0)
    with pytest.raises(ValueError, match="time_budget_s"):
        tune.TuneConfig(time_budget_s=-1)
    with pytest.raises(ValueError, match="verbose"):
        tune.RunConfig(verbose=7)
    with pytest.raises(ValueError, match="max_failures"):
        tune.FailureConfig(max_failures=-2)
    with pytest.raises(TypeError, match="stop"):
        tuner(never_runs, tmp_path, param_space={"dir": str(tmp_path)}, stop=3).fit()
    assert nothing_written(tmp_path)


def test_a_trainable_that_is_not_one_is_refused(tmp_path):
    with pytest.raises(TypeError, match="trainable"):
        tune.Tuner(42)

    class NotATrainable:
        pass

    with pytest.raises(TypeError, match="Trainable"):
        tune.Tuner(NotATrainable)
    assert nothing_written(tmp_path)


def test_an_unpicklable_trainable_names_the_variable(rt, tmp_path):
    lock = threading.Lock()

    def uses_lock(config):
        with lock:
            tune.report({"loss": 1})

    with pytest.raises(TypeError, match="lock") as info:
        tuner(uses_lock, tmp_path).fit()
    assert "with_parameters" in str(info.value) or "inside" in str(info.value)
    assert nothing_written(tmp_path)


def test_resources_larger_than_the_machine_fail_before_a_trial_runs(rt, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(Exception, match="64") as info:
        tuner(
            tune.with_resources(never_runs, {"cpu": 64}),
            tmp_path,
            name="huge",
            param_space={"dir": str(work)},
        ).fit()
    message = str(info.value)
    assert "CPU" in message and "2" in message  # what was asked, what the machine has
    assert os.listdir(work) == []
    experiment = os.path.join(str(tmp_path), "huge")
    assert not os.path.isdir(experiment) or trial_dirs(experiment) == []


def test_a_callback_that_is_not_one_is_refused(rt, tmp_path):
    with pytest.raises(TypeError, match="Callback"):
        tuner(never_runs, tmp_path, param_space={"dir": str(tmp_path)}, callbacks=[object()]).fit()
    assert not os.path.exists(tmp_path / "ran")
    assert nothing_written(tmp_path)


def crashes(config):
    tune.report({"loss": 1.0})
    marker = os.path.join(config["dir"], f"crashed_{config['x']}")
    if config["x"] == 1 and (config["always"] or not os.path.exists(marker)):
        open(marker, "w").close()
        os._exit(3)
    tune.report({"loss": 0.5})


def test_a_trial_whose_process_dies_errors_and_the_others_finish(rt, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    results = tuner(
        crashes,
        tmp_path,
        param_space={"dir": str(work), "x": tune.grid_search([0, 1]), "always": True},
    ).fit()
    by_x = {r.config["x"]: r for r in results}
    assert by_x[0].error is None and by_x[0].metrics["loss"] == 0.5
    assert by_x[1].error is not None
    assert "3" in str(by_x[1].error)  # the exit code
    assert os.path.isfile(os.path.join(by_x[1].path, "error.txt"))


def test_a_trial_whose_process_died_once_is_retried(rt, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    results = tuner(
        crashes,
        tmp_path,
        param_space={"dir": str(work), "x": tune.grid_search([0, 1]), "always": False},
        failure_config=tune.FailureConfig(max_failures=1),
    ).fit()
    assert results.num_errors == 0
    assert [r.metrics["loss"] for r in results] == [0.5, 0.5]


def reports_a_lock(config):
    tune.report({"loss": 1.0, "lock": threading.Lock()})


def test_a_result_that_cannot_be_pickled_errors_the_trial(rt, tmp_path):
    (result,) = tuner(reports_a_lock, tmp_path).fit()
    assert result.error is not None
    assert "pickle" in str(result.error)
