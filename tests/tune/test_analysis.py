"""ExperimentAnalysis (what the legacy tune.run returns) over experiment directories written in
tmp_path (no processes)."""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys

import pytest
from tuning import save_state

from caliper.tune.analysis import ExperimentAnalysis
from caliper.tune.experiment_state import STATE_FILE
from caliper.tune.result_grid import SCOPES, ResultGrid
from caliper.tune.trainable_wrappers import PlacementGroupFactory
from caliper.tune.trial import Trial, TrialStatus

BEST_PROPERTIES = [
    "best_trial",
    "best_config",
    "best_result",
    "best_logdir",
    "best_checkpoint",
    "best_dataframe",
    "best_result_df",
]


def make_trial(root, trial_id, config, losses, files=True):
    """A finished trial that reported ``losses`` (its result.json written unless not
    ``files``), with a checkpoint after every result."""
    trial = Trial(trial_id, dict(config), trial_id, PlacementGroupFactory([{"CPU": 1}]))
    trial.status = TrialStatus.TERMINATED
    trial.dirname = f"train_{trial_id}"
    trial.path = os.path.join(root, trial.dirname)
    os.makedirs(trial.path)
    lines = []
    for i, loss in enumerate(losses, 1):
        result = {"loss": loss, "info": {"step": i}, "training_iteration": i, "trial_id": trial_id}
        trial.record(result)
        lines.append(json.dumps({**result, "config": trial.config}) + "\n")
        checkpoint = os.path.join(trial.path, f"checkpoint_{i - 1:06d}")
        os.makedirs(checkpoint)
        trial.checkpoints.append({"path": checkpoint, "metrics": result})
    if files:
        with open(os.path.join(trial.path, "result.json"), "w") as f:
            f.writelines(lines)
    return trial


@pytest.fixture
def root(tmp_path):
    return str(tmp_path / "exp")


@pytest.fixture
def trials(root):
    return [
        make_trial(root, "a", {"lr": 0.1, "opt": {"name": "sgd"}}, [3.0, 1.0, 2.0]),
        make_trial(root, "b", {"lr": 0.01, "opt": {"name": "adam"}}, [0.5, 1.5]),
        make_trial(root, "c", {"lr": 1.0, "opt": {"name": "sgd"}}, [4.0], files=False),
    ]


def test_from_a_path_with_the_experiments_metric_and_mode(root, trials):
    analysis = ExperimentAnalysis(save_state(root, trials, "loss", "min"))
    assert analysis.experiment_path == root
    assert (analysis.default_metric, analysis.default_mode) == ("loss", "min")
    assert [t.trial_id for t in analysis.trials] == ["a", "b", "c"]
    assert analysis.best_trial.trial_id == "b"  # last losses: a 2.0, b 1.5, c 4.0
    assert analysis.best_config == {"lr": 0.01, "opt": {"name": "adam"}}
    assert analysis.best_result["loss"] == 1.5
    assert analysis.best_logdir == os.path.join(root, "train_b")
    assert analysis.best_checkpoint.path == os.path.join(root, "train_b", "checkpoint_000000")
    assert list(analysis.best_dataframe["loss"]) == [0.5, 1.5]
    df = analysis.best_result_df
    assert list(df.index) == ["b"] and df.index.name == "trial_id"
    assert df.loc["b", "loss"] == 1.5 and df.loc["b", "info/step"] == 2


def test_explicit_defaults_win_over_the_experiments(root, trials):
    analysis = ExperimentAnalysis(save_state(root, trials, "loss", "min"), default_mode="max")
    assert analysis.best_trial.trial_id == "c"


def test_built_from_trials_as_tune_run_does(root, trials):
    analysis = ExperimentAnalysis(root, trials=trials, default_metric="loss", default_mode="max")
    assert not os.path.exists(os.path.join(root, STATE_FILE))  # nothing read from disk
    assert analysis.best_config["lr"] == 1.0
    assert analysis.get_best_config("loss", "min", scope="all") == trials[1].config
    assert analysis.get_best_trial("loss", "min", scope="avg") is trials[1]  # 1.0 vs 2.0
    assert analysis.get_best_logdir("loss", "min") == trials[1].path


@pytest.mark.parametrize("name", BEST_PROPERTIES)
@pytest.mark.parametrize(
    "defaults,missing",
    [
        ({}, "metric and mode"),
        ({"default_metric": "loss"}, "mode"),
        ({"default_mode": "min"}, "metric"),
    ],
)
def test_best_properties_need_the_default_metric_and_mode(root, trials, name, defaults, missing):
    analysis = ExperimentAnalysis(root, trials=trials, **defaults)
    with pytest.raises(ValueError, match=rf"To fetch `{name}`.*\(not set: {missing}\)"):
        getattr(analysis, name)


def test_without_a_best_trial_get_returns_none_and_best_properties_say_why(root, trials, caplog):
    analysis = ExperimentAnalysis(root, trials=trials, default_metric="acc", default_mode="max")
    with caplog.at_level(logging.WARNING, logger="caliper.tune.analysis"):
        assert analysis.get_best_trial() is None
        assert analysis.get_best_config() is None and analysis.best_config is None
    assert "No trial reported the metric 'acc'" in caplog.text and "'loss'" in caplog.text
    with pytest.raises(ValueError, match=r"`best_result`: there is no best trial.*'acc'"):
        _ = analysis.best_result


def test_nan_values_are_skipped(root):
    trials = [make_trial(root, "n", {}, [math.nan]), make_trial(root, "k", {}, [7.0])]
    analysis = ExperimentAnalysis(root, trials=trials, default_metric="loss", default_mode="min")
    assert analysis.best_trial is trials[1]
    # unfiltered, as in Ray: nothing compares better than a NaN met first
    assert analysis.get_best_trial(filter_nan_and_inf=False) is trials[0]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"mode": "smallest"}, r"mode must be 'min' or 'max'.*'smallest'"),
        ({"scope": "max"}, r"scope must be one of last, avg"),
        ({"metric": None, "mode": "min"}, r"No `metric` was passed and no `default_metric`"),
        ({"metric": "loss"}, r"No `mode` was passed and no `default_mode`"),
    ],
)
def test_bad_get_best_trial_calls(root, trials, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ExperimentAnalysis(root, trials=trials).get_best_trial(**kwargs)


def test_bad_default_mode(root, trials):
    with pytest.raises(ValueError, match=r"default_mode must be 'min' or 'max'.*'low'"):
        ExperimentAnalysis(root, trials=trials, default_metric="loss", default_mode="low")


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("mode", ["min", "max"])
def test_same_best_trial_as_the_result_grid(root, trials, scope, mode):
    trials.append(make_trial(root, "d", {}, [0.2, 9.0, 1.2]))  # last 1.2, min 0.2, max 9
    analysis = ExperimentAnalysis(root, trials=trials)
    grid = ResultGrid(trials, root)
    # last: a 2, b 1.5, c 4, d 1.2; mean (and last-5/-10 mean): a 2, b 1, c 4, d 3.47
    expected = {"last": "d", "all": "d"}.get(scope, "b") if mode == "min" else "c"
    if (mode, scope) == ("max", "all"):
        expected = "d"
    assert analysis.get_best_trial("loss", mode, scope).trial_id == expected
    assert grid.get_best_result("loss", mode, scope).metrics["trial_id"] == expected


def test_get_best_checkpoint(root, trials):
    analysis = ExperimentAnalysis(root, trials=trials)
    a = trials[0]
    assert analysis.get_best_checkpoint(a, "loss", "min").path.endswith("checkpoint_000001")
    assert analysis.get_best_checkpoint(a.path, "loss", "max").path.endswith("checkpoint_000000")
    assert analysis.get_best_checkpoint("a", "info/step", "max").path.endswith("checkpoint_000002")
    # metric defaults to training_iteration when there is no default metric
    assert analysis.get_best_checkpoint(a, mode="max").path.endswith("checkpoint_000002")
    assert analysis.get_last_checkpoint(a).path.endswith("checkpoint_000002")
    # no trial: the one with the most iterations (a: 3), as in Ray
    assert analysis.get_last_checkpoint().path == os.path.join(a.path, "checkpoint_000002")
    with pytest.raises(ValueError, match=r"No `mode` was passed"):
        analysis.get_best_checkpoint(a, "loss")
    with pytest.raises(ValueError, match=r"No trial of this experiment .*'zzz'"):
        analysis.get_best_checkpoint("zzz", "loss", "min")


def test_get_best_checkpoint_skips_nan_and_missing_values(root):
    trial = make_trial(root, "a", {}, [math.nan, 2.0, 3.0])
    trial.checkpoints[2]["metrics"] = {"training_iteration": 3}  # no loss
    analysis = ExperimentAnalysis(root, trials=[trial], default_metric="loss", default_mode="max")
    assert analysis.best_checkpoint.path.endswith("checkpoint_000001")
    assert analysis.get_best_checkpoint(trial, "acc", "max") is None


def test_a_single_trial_is_the_best_whatever_it_reported(root):
    trial = make_trial(root, "only", {"lr": 3}, [math.nan])
    analysis = ExperimentAnalysis(root, trials=[trial])
    assert analysis.get_best_trial() is trial  # as Ray: no metric needed
    assert analysis.get_best_config(metric="acc", mode="max") == {"lr": 3}


def test_results_and_results_df(root, trials):
    analysis = ExperimentAnalysis(root, trials=trials)
    assert analysis.results == {
        "a": trials[0].last_result,
        "b": trials[1].last_result,
        "c": trials[2].last_result,
    }
    df = analysis.results_df
    assert list(df.index) == ["a", "b", "c"] and df.index.name == "trial_id"
    assert list(df["loss"]) == [2.0, 1.5, 4.0] and list(df["info/step"]) == [3, 2, 1]
    empty = ExperimentAnalysis(root, trials=[]).results_df
    assert empty.empty and empty.index.name == "trial_id"


def test_trial_dataframes_are_keyed_by_trial_directory(root, trials):
    frames = ExperimentAnalysis(root, trials=trials).trial_dataframes
    assert list(frames) == [t.path for t in trials]
    assert list(frames[trials[0].path]["loss"]) == [3.0, 1.0, 2.0]
    assert list(frames[trials[0].path]["config/opt/name"]) == ["sgd"] * 3
    assert frames[trials[2].path].empty  # c has no result files


def test_dataframe_matches_the_result_grids(root, trials):
    analysis = ExperimentAnalysis(root, trials=trials)
    grid = ResultGrid(trials, root)
    assert analysis.dataframe().equals(grid.get_dataframe())
    best = analysis.dataframe(metric="loss", mode="min")
    assert best.equals(grid.get_dataframe("loss", "min"))
    assert list(best["loss"]) == [1.0, 0.5, 4.0]  # c: no files, its last result
    assert list(best["config/opt/name"]) == ["sgd", "adam", "sgd"]
    assert list(best["logdir"]) == [t.path for t in trials]
    with pytest.raises(ValueError, match=r"mode='max' needs metric too"):
        analysis.dataframe(mode="max")


def test_get_all_configs(root, trials):
    analysis = ExperimentAnalysis(root, trials=trials)
    assert analysis.get_all_configs() == {t.path: t.config for t in trials}
    flat = analysis.get_all_configs(prefix=True)
    assert flat[trials[1].path] == {"config/lr": 0.01, "config/opt/name": "adam"}


def test_reads_a_moved_experiment_and_rejects_a_missing_one(root, trials, tmp_path):
    save_state(root, trials, "loss", "min")
    moved = str(tmp_path / "moved")
    os.rename(root, moved)
    analysis = ExperimentAnalysis(os.path.join(moved, STATE_FILE))
    assert analysis.best_logdir == os.path.join(moved, "train_b")
    assert list(analysis.best_dataframe["loss"]) == [0.5, 1.5]
    with pytest.raises(FileNotFoundError, match=r"No experiment_state.json"):
        ExperimentAnalysis(root)
    assert "trials=3, default_metric='loss', default_mode='min'" in repr(analysis)


def test_importing_the_result_modules_does_not_import_pandas():
    code = (
        "import sys, caliper.tune.result_grid, caliper.tune.analysis, caliper.tune.result; "
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"
