"""End to end: the legacy ``tune.run(...)`` entry point and the ``ExperimentAnalysis`` it returns,
as books and blog posts use them."""

from __future__ import annotations

import json
import os
import sys
import time

import cloudpickle
import pytest

from caliper import tune
from caliper.tune import ExperimentAnalysis, TuneError

pytestmark = pytest.mark.timeout(60)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def objective(config):
    for step in range(1, 4):
        tune.report({"mean_loss": (config["lr"] - 0.1) ** 2 + 1.0 / step, "step": step})


def test_run_returns_an_analysis_with_the_best_of_everything(rt, tmp_path):
    analysis = tune.run(
        objective,
        config={"lr": tune.grid_search([0.01, 0.1, 0.5]), "batch": 32},
        metric="mean_loss",
        mode="min",
        name="legacy",
        storage_path=str(tmp_path),
        verbose=0,
    )
    assert isinstance(analysis, ExperimentAnalysis)
    assert analysis.experiment_path == os.path.join(str(tmp_path), "legacy")
    assert len(analysis.trials) == 3
    assert {t.status.value for t in analysis.trials} == {"TERMINATED"}

    assert analysis.best_config == {"lr": 0.1, "batch": 32}
    assert analysis.best_result["mean_loss"] == pytest.approx(1 / 3)
    assert analysis.best_result["training_iteration"] == 3
    assert analysis.best_trial.config["lr"] == 0.1
    assert analysis.best_trial in analysis.trials
    assert os.path.isdir(analysis.best_logdir)
    assert analysis.get_best_config("mean_loss", "max")["lr"] == 0.5
    assert analysis.get_best_config(metric="step", mode="max")["lr"] in (0.01, 0.1, 0.5)
    assert analysis.get_best_trial("mean_loss", "min") is analysis.best_trial

    df = analysis.results_df
    assert len(df) == 3
    assert set(df.index) == {t.trial_id for t in analysis.trials}
    assert "mean_loss" in df.columns and "config/lr" in df.columns

    frame = analysis.dataframe()
    assert len(frame) == 3
    assert {"mean_loss", "config/lr", "config/batch", "logdir"} <= set(frame.columns)
    best_rows = analysis.dataframe(metric="mean_loss", mode="min")
    assert sorted(best_rows["mean_loss"]) == pytest.approx(sorted(frame["mean_loss"]))

    frames = analysis.trial_dataframes
    assert len(frames) == 3 and all(len(f) == 3 for f in frames.values())

    # the same from the directory, as a later session reads it
    again = ExperimentAnalysis(analysis.experiment_path)
    assert again.best_config == analysis.best_config
    assert again.get_best_config("mean_loss", "min") == {"lr": 0.1, "batch": 32}


def test_run_without_metric_asks_for_it(rt, tmp_path):
    analysis = tune.run(
        objective, config={"lr": 0.2}, storage_path=str(tmp_path), name="nometric", verbose=0
    )
    with pytest.raises(ValueError, match="metric"):
        _ = analysis.best_config
    assert analysis.get_best_config("mean_loss", "min") == {"lr": 0.2}


def test_run_with_num_samples_and_stop(rt, tmp_path):
    def forever(config):
        for i in range(1, 100_000):
            time.sleep(0.005)
            tune.report({"score": i * config["k"]})

    analysis = tune.run(
        forever,
        config={"k": tune.choice([1, 2, 3])},
        num_samples=4,
        stop={"training_iteration": 2},
        metric="score",
        mode="max",
        storage_path=str(tmp_path),
        verbose=0,
    )
    assert len(analysis.trials) == 4
    assert all(t.last_result["training_iteration"] == 2 for t in analysis.trials)
    assert analysis.best_result["score"] == 2 * analysis.best_config["k"]


def timed(config):
    start = time.time()
    time.sleep(0.2)
    cpus = tune.get_context().get_trial_resources().required_resources.get("CPU")
    tune.report({"start": start, "end": time.time(), "cpus": cpus})


def test_resources_per_trial(rt, tmp_path):
    analysis = tune.run(
        timed,
        config={"i": tune.grid_search([0, 1])},
        resources_per_trial={"cpu": 2},
        storage_path=str(tmp_path),
        verbose=0,
    )
    results = [t.last_result for t in analysis.trials]
    assert [r["cpus"] for r in results] == [2, 2]
    (_, first_end), (second_start, _) = sorted((r["start"], r["end"]) for r in results)
    assert second_start >= first_end  # 2 CPUs each on a 2-CPU machine: one at a time


def breaks(config):
    tune.report({"loss": config["x"]})
    if config["x"] == 1:
        raise ValueError("x=1 is broken")


def test_raise_on_failed_trial(rt, tmp_path):
    with pytest.raises(TuneError) as info:
        tune.run(
            breaks,
            config={"x": tune.grid_search([0, 1])},
            storage_path=str(tmp_path),
            name="raises",
            verbose=0,
        )
    assert "1" in str(info.value)
    # the results are on disk anyway
    experiment = os.path.join(str(tmp_path), "raises")
    with open(os.path.join(experiment, "experiment_state.json")) as f:
        state = json.load(f)
    assert sorted(t["status"] for t in state["trials"]) == ["ERROR", "TERMINATED"]
    analysis = ExperimentAnalysis(experiment)
    assert analysis.get_best_config("loss", "min") == {"x": 0}

    analysis = tune.run(
        breaks,
        config={"x": tune.grid_search([0, 1])},
        storage_path=str(tmp_path),
        name="keeps",
        metric="loss",
        mode="max",
        raise_on_failed_trial=False,
        verbose=0,
    )
    statuses = {t.config["x"]: t.status.value for t in analysis.trials}
    assert statuses == {0: "TERMINATED", 1: "ERROR"}
    failed = next(t for t in analysis.trials if t.config["x"] == 1)
    with open(failed.error_file) as f:
        assert "x=1 is broken" in f.read()


class Counter(tune.Trainable):
    def setup(self, config):
        self.n = config["start"]

    def step(self):
        self.n += 1
        return {"n": self.n}


def test_run_a_class_trainable(rt, tmp_path):
    analysis = tune.run(
        Counter,
        config={"start": tune.grid_search([0, 10])},
        stop={"training_iteration": 3},
        metric="n",
        mode="max",
        storage_path=str(tmp_path),
        verbose=0,
    )
    assert analysis.best_config == {"start": 10}
    assert analysis.best_result["n"] == 13


def test_run_with_max_failures_and_callbacks(rt, tmp_path):
    seen = []

    class Seen(tune.Callback):
        def on_trial_complete(self, iteration, trials, trial, **info):
            seen.append(trial.config["x"])

    def fails_once(config):
        marker = os.path.join(config["dir"], "failed")
        if not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("once")
        tune.report({"loss": 0.0})

    analysis = tune.run(
        fails_once,
        config={"dir": str(tmp_path), "x": 7},
        max_failures=1,
        callbacks=[Seen()],
        storage_path=str(tmp_path),
        name="retry",
        verbose=0,
    )
    assert seen == [7]
    assert analysis.trials[0].status.value == "TERMINATED"


def test_run_verbose_1_prints_a_summary_naming_the_results(rt, tmp_path, capfd):
    analysis = tune.run(
        objective,
        config={"lr": tune.grid_search([0.01, 0.1])},
        metric="mean_loss",
        mode="min",
        storage_path=str(tmp_path),
        name="loud",
        verbose=1,
    )
    out, err = capfd.readouterr()
    assert analysis.experiment_path in out + err
    assert "TERMINATED" in out + err


def test_run_verbose_0_prints_nothing(rt, tmp_path, capfd):
    tune.run(objective, config={"lr": 0.1}, storage_path=str(tmp_path), verbose=0)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
