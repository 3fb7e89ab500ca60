"""ResultGrid and Result over real experiment directories written in tmp_path (no processes)."""

from __future__ import annotations

import csv
import json
import math
import os
import pickle
import shutil

import pytest
from tuning import save_state

from caliper.tune.checkpoint import Checkpoint
from caliper.tune.errors import TrialError, TuneError
from caliper.tune.experiment_state import STATE_FILE
from caliper.tune.logger.logger import flatten_dict
from caliper.tune.result import Result
from caliper.tune.result_grid import ResultGrid, select_best_trial
from caliper.tune.trainable_wrappers import PlacementGroupFactory
from caliper.tune.trial import Trial, TrialStatus

# Each trial wins exactly one scope when minimising its loss (12 results each).
SCOPE_SERIES = {
    "t_last": [9.0] * 11 + [0.0],  # last 0
    "t_all": [-1.0] + [9.0] * 11,  # min -1
    "t_avg": [0.5] * 2 + [4.0] * 10,  # mean 3.42
    "t_l5": [9.0] * 7 + [2.0] * 5,  # last-5 mean 2
    "t_l10": [9.0] * 2 + [3.0] * 10,  # last-10 mean 3
}
SCOPE_WINNER = dict(
    zip(["last", "all", "avg", "last-5-avg", "last-10-avg"], SCOPE_SERIES, strict=True)
)


def make_trial(root, trial_id, config, results, status=TrialStatus.TERMINATED, csv_file=True):
    """A trial that reported ``results`` (plus Ray's automatic keys), with its result.json
    and (unless ``csv_file`` is False) progress.csv written as the loggers write them."""
    trial = Trial(trial_id, dict(config), trial_id, PlacementGroupFactory([{"CPU": 1}]))
    trial.status = status
    trial.dirname = f"train_{trial_id}"
    trial.path = os.path.join(root, trial.dirname)
    os.makedirs(trial.path, exist_ok=True)
    rows = []
    for i, metrics in enumerate(results, 1):
        result = {**metrics, "training_iteration": i, "trial_id": trial_id, "done": False}
        trial.record(result)
        rows.append(result)
    with open(os.path.join(trial.path, "result.json"), "w") as f:
        for row in rows:
            f.write(json.dumps({**row, "config": trial.config}) + "\n")
    if csv_file and rows:
        with open(os.path.join(trial.path, "progress.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, list(flatten_dict(rows[0])), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(flatten_dict(row) for row in rows)
    return trial


def add_checkpoint(trial, metrics):
    path = os.path.join(trial.path, f"checkpoint_{len(trial.checkpoints):06d}")
    os.makedirs(path)
    with open(os.path.join(path, "model.txt"), "w") as f:
        f.write(str(metrics))
    trial.checkpoints.append({"path": path, "metrics": metrics})
    return path


def scope_trials(root, sign=1.0):
    return [
        make_trial(root, tid, {"id": tid}, [{"loss": sign * v} for v in series])
        for tid, series in SCOPE_SERIES.items()
    ]


@pytest.fixture
def experiment(tmp_path):
    """Three trials, one failed, with checkpoints; saved with metric=loss, mode=min."""
    root = str(tmp_path / "exp")
    a = make_trial(root, "a", {"lr": 0.1, "model": {"layers": 2}}, [{"loss": 3.0}, {"loss": 1.0}])
    add_checkpoint(a, {"loss": 3.0, "training_iteration": 1})
    add_checkpoint(a, {"loss": 1.0, "training_iteration": 2})
    b = make_trial(root, "b", {"lr": 0.01, "model": {"layers": 4}}, [{"loss": 0.5}, {"loss": 2.0}])
    c = make_trial(root, "c", {"lr": 1.0, "model": {"layers": 8}}, [{"loss": 9.0}])
    c.status = TrialStatus.ERROR
    c.error_file = os.path.join(c.path, "error.txt")
    with open(c.error_file, "w") as f:
        f.write('Traceback (most recent call last):\n  File "train.py", line 3\nValueError: boom\n')
    c.error_msg = "ValueError: boom"
    save_state(root, [a, b, c], metric="loss", mode="min")
    return root


# -- from_path ---------------------------------------------------------------------------------


def test_from_path_round_trips_trials_without_unpickling(experiment):
    with open(os.path.join(experiment, "tuner.pkl"), "wb") as f:
        f.write(b"not a pickle: reading results must not load it")
    grid = ResultGrid.from_path(experiment)
    assert len(grid) == 3 and grid.experiment_path == experiment
    a, b, c = grid
    assert a.metrics["loss"] == 1.0 and a.metrics["training_iteration"] == 2
    assert a.config == {"lr": 0.1, "model": {"layers": 2}}
    assert a.path == os.path.join(experiment, "train_a")
    assert a.checkpoint == Checkpoint(os.path.join(experiment, "train_a", "checkpoint_000001"))
    assert [(ck.path[-6:], m["loss"]) for ck, m in a.best_checkpoints] == [
        ("000000", 3.0),
        ("000001", 1.0),
    ]
    assert b.checkpoint is None and b.best_checkpoints == [] and b.error is None
    assert isinstance(c.error, TrialError)
    assert grid.get_best_result().config["lr"] == 0.1  # the experiment's metric and mode
    assert grid.get_best_result(scope="all").config["lr"] == 0.01


def test_from_path_accepts_the_state_file_and_rejects_what_is_not_an_experiment(
    experiment, tmp_path
):
    assert len(ResultGrid.from_path(os.path.join(experiment, STATE_FILE))) == 3
    with pytest.raises(FileNotFoundError, match=r"No experiment_state.json in .*nowhere"):
        ResultGrid.from_path(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / STATE_FILE).write_text("{not json")
    with pytest.raises(ValueError, match=r"not valid JSON"):
        ResultGrid.from_path(broken)


def test_a_moved_experiment_reads_its_files_at_the_new_place(experiment, tmp_path):
    moved = str(tmp_path / "elsewhere" / "exp2")
    shutil.copytree(experiment, moved)
    shutil.rmtree(experiment)
    grid = ResultGrid.from_path(moved)
    a = grid[0]
    assert a.path == os.path.join(moved, "train_a")
    assert os.path.isfile(os.path.join(a.checkpoint.path, "model.txt"))
    assert list(a.metrics_dataframe["loss"]) == [3.0, 1.0]
    assert "ValueError: boom" in str(grid[2].error)
    assert grid[2].error.error_file == os.path.join(moved, "train_c", "error.txt")


# -- get_best_result ---------------------------------------------------------------------------


@pytest.mark.parametrize("from_disk", [False, True], ids=["running-figures", "from-path"])
@pytest.mark.parametrize("mode,sign", [("min", 1.0), ("max", -1.0)])
@pytest.mark.parametrize("scope", list(SCOPE_WINNER))
def test_every_scope_picks_its_trial(tmp_path, scope, mode, sign, from_disk):
    trials = scope_trials(str(tmp_path), sign)
    grid = ResultGrid(trials, str(tmp_path), metric="loss", mode=mode)
    if from_disk:
        grid = ResultGrid.from_path(save_state(str(tmp_path), trials, "loss", mode))
    assert grid.get_best_result(scope=scope).config["id"] == SCOPE_WINNER[scope]


def test_explicit_metric_and_mode_override_the_experiments(tmp_path):
    trials = [
        make_trial(str(tmp_path), "x", {}, [{"loss": 1.0, "acc": 0.2}]),
        make_trial(str(tmp_path), "y", {}, [{"loss": 2.0, "acc": 0.9}]),
    ]
    grid = ResultGrid(trials, str(tmp_path), metric="loss", mode="min")
    assert grid.get_best_result().metrics["trial_id"] == "x"
    assert grid.get_best_result("loss", "max").metrics["trial_id"] == "y"
    assert grid.get_best_result(metric="acc", mode="max").metrics["trial_id"] == "y"


@pytest.mark.parametrize("mode", ["min", "max"])
def test_on_a_tie_the_first_trial_wins(tmp_path, mode):
    trials = [make_trial(str(tmp_path), t, {}, [{"loss": 1.0}]) for t in ("p", "q", "r")]
    assert select_best_trial(trials, "loss", mode) is trials[0]
    assert select_best_trial(trials[::-1], "loss", mode) is trials[2]


def test_nan_and_inf_are_skipped_unless_asked(tmp_path):
    trials = [
        make_trial(str(tmp_path), "inf", {}, [{"acc": math.inf}]),
        make_trial(str(tmp_path), "nan", {}, [{"acc": math.nan}]),
        make_trial(str(tmp_path), "ok", {}, [{"acc": 0.5}]),
    ]
    grid = ResultGrid(trials, str(tmp_path), metric="acc", mode="max")
    assert grid.get_best_result().metrics["trial_id"] == "ok"
    unfiltered = grid.get_best_result(filter_nan_and_inf=False)
    assert unfiltered.metrics["trial_id"] == "inf"
    only_nan = ResultGrid(trials[:2], str(tmp_path), metric="acc", mode="min")
    with pytest.raises(ValueError, match=r"NaN or infinite.*filter_nan_and_inf=False"):
        only_nan.get_best_result()


def test_a_single_trial_is_the_best_whatever_it_reported(tmp_path):
    trial = make_trial(str(tmp_path), "only", {"lr": 1}, [{"loss": math.nan}])
    grid = ResultGrid([trial], str(tmp_path))
    assert grid.get_best_result().config == {"lr": 1}
    with pytest.raises(ValueError, match=r"scope must be one of"):
        grid.get_best_result(scope="best")
    with pytest.raises(ValueError, match=r"has no trials"):
        ResultGrid([], str(tmp_path), metric="loss", mode="min").get_best_result()


@pytest.mark.parametrize(
    "grid_args,call_args,message",
    [
        ({}, {}, r"needs a metric: pass metric="),
        ({"metric": "loss"}, {}, r"needs a mode: pass mode='min'"),
        ({}, {"metric": "loss"}, r"needs a mode"),
        ({"metric": "loss", "mode": "minimum"}, {}, r"mode must be 'min' or 'max'.*'minimum'"),
        ({"metric": "loss", "mode": "min"}, {"mode": "lowest"}, r"mode must be .*'lowest'"),
        ({"metric": "loss", "mode": "min"}, {"scope": "first"}, r"scope must be one of .*'first'"),
        (
            {"metric": "loss", "mode": "min"},
            {"metric": "accuracy"},
            r"No trial reported the metric 'accuracy'\. The metrics the trials reported: .*'loss'",
        ),
    ],
)
def test_bad_get_best_result_calls_say_what_is_wrong(tmp_path, grid_args, call_args, message):
    trials = [make_trial(str(tmp_path), t, {}, [{"loss": 1.0}]) for t in ("p", "q")]
    with pytest.raises(ValueError, match=message):
        ResultGrid(trials, str(tmp_path), **grid_args).get_best_result(**call_args)


# -- get_dataframe -----------------------------------------------------------------------------


def test_dataframe_has_one_flat_row_per_trial(experiment):
    df = ResultGrid.from_path(experiment).get_dataframe()
    assert list(df["trial_id"]) == ["a", "b", "c"]
    assert list(df["loss"]) == [1.0, 2.0, 9.0]
    assert list(df["config/lr"]) == [0.1, 0.01, 1.0]
    assert list(df["config/model/layers"]) == [2, 4, 8]
    assert list(df["logdir"]) == [os.path.join(experiment, f"train_{t}") for t in "abc"]


def test_nested_results_become_slash_columns(tmp_path):
    trial = make_trial(str(tmp_path), "n", {}, [{"info": {"lr": 0.1, "grad": {"norm": 2.0}}}])
    df = ResultGrid([trial], str(tmp_path)).get_dataframe()
    assert df.loc[0, "info/lr"] == 0.1 and df.loc[0, "info/grad/norm"] == 2.0


def test_nested_values_and_automatic_fields_compare_by_their_last_value(tmp_path):
    trials = [
        make_trial(str(tmp_path), "x", {}, [{"info": {"acc": 0.9}}] * 2),
        make_trial(str(tmp_path), "y", {}, [{"info": {"acc": 0.2}}] * 3),
    ]
    grid = ResultGrid(trials, str(tmp_path))
    assert grid.get_best_result("info/acc", "max").metrics["trial_id"] == "x"
    assert grid.get_best_result("training_iteration", "max").metrics["trial_id"] == "y"
    with pytest.raises(ValueError, match=r"Only the last value of 'info/acc' is kept"):
        grid.get_best_result("info/acc", "max", scope="avg")


@pytest.mark.parametrize("csv_file", [True, False], ids=["progress.csv", "result.json"])
def test_filter_metric_takes_each_trials_best_row(tmp_path, csv_file):
    root = str(tmp_path)
    trials = [
        make_trial(
            root, "a", {"lr": 1}, [{"loss": 3.0}, {"loss": 1.0}, {"loss": 2.0}], csv_file=csv_file
        ),
        make_trial(root, "b", {"lr": 2}, [{"loss": 0.5}, {"loss": 4.0}], csv_file=csv_file),
    ]
    grid = ResultGrid(trials, root, metric="loss", mode="min")
    low = grid.get_dataframe(filter_metric="loss", filter_mode="min")
    assert list(low["loss"]) == [1.0, 0.5]
    assert list(low["training_iteration"]) == [2, 1]
    assert list(low["config/lr"]) == [1, 2] and list(low["trial_id"]) == ["a", "b"]
    high = grid.get_dataframe(filter_metric="loss", filter_mode="max")
    assert list(high["loss"]) == [3.0, 4.0]
    last = grid.get_dataframe(filter_metric="loss")  # as Ray: no mode keeps the last result
    assert list(last["loss"]) == [2.0, 4.0]


def test_filter_metric_first_reported_late_is_read_from_result_json(tmp_path):
    trial = make_trial(
        str(tmp_path), "late", {}, [{"a": 1}, {"a": 2, "acc": 0.9}, {"a": 3, "acc": 0.1}]
    )
    with open(os.path.join(trial.path, "progress.csv")) as f:
        assert "acc" not in f.readline()  # the CSV's columns come from the first result
    df = ResultGrid([trial], str(tmp_path)).get_dataframe("acc", "max")
    assert df.loc[0, "acc"] == 0.9 and df.loc[0, "a"] == 2


def test_filter_without_files_falls_back_to_the_last_result(tmp_path):
    trial = make_trial(str(tmp_path), "gone", {}, [{"loss": 1.0}, {"loss": 5.0}])
    os.remove(os.path.join(trial.path, "progress.csv"))
    os.remove(os.path.join(trial.path, "result.json"))
    df = ResultGrid([trial], str(tmp_path)).get_dataframe("loss", "min")
    assert df.loc[0, "loss"] == 5.0


def test_bad_dataframe_filters_name_the_argument(experiment):
    grid = ResultGrid.from_path(experiment)
    with pytest.raises(ValueError, match=r"filter_mode='min' needs filter_metric"):
        grid.get_dataframe(filter_mode="min")
    with pytest.raises(ValueError, match=r"filter_mode must be 'min' or 'max'.*'best'"):
        grid.get_dataframe(filter_metric="loss", filter_mode="best")


# -- errors and counts -------------------------------------------------------------------------


def test_errors_carry_the_traceback_text(experiment):
    grid = ResultGrid.from_path(experiment)
    assert grid.num_errors == 1 and grid.num_terminated == 2
    (error,) = grid.errors
    assert isinstance(error, TrialError) and isinstance(error, TuneError)
    assert error.trial_id == "c"
    assert str(error).startswith("Traceback (most recent call last):")
    assert "ValueError: boom" in str(error)
    assert error.error_file == os.path.join(experiment, "train_c", "error.txt")
    assert "ValueError: boom" in repr(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.trial_id, str(copy), copy.error_file) == ("c", str(error), error.error_file)


def test_error_text_falls_back_to_the_kept_message(experiment):
    os.remove(os.path.join(experiment, "train_c", "error.txt"))
    (error,) = ResultGrid.from_path(experiment).errors
    assert str(error) == "ValueError: boom"


def test_unfinished_trials_count_as_neither(tmp_path):
    trials = [
        make_trial(str(tmp_path), "r", {}, [{"loss": 1.0}], status=TrialStatus.RUNNING),
        make_trial(str(tmp_path), "p", {}, [], status=TrialStatus.PENDING),
    ]
    grid = ResultGrid(trials, str(tmp_path))
    assert (grid.num_errors, grid.num_terminated, grid.errors) == (0, 0, [])
    assert grid[1].metrics == {} and grid[1].metrics_dataframe.empty  # empty result.json
    assert list(grid.get_dataframe()["trial_id"]) == ["r", "p"]


# -- Result ------------------------------------------------------------------------------------


def test_result_metrics_dataframe_is_read_lazily_from_the_files(tmp_path):
    trial = make_trial(str(tmp_path), "a", {}, [{"loss": 2.0}, {"loss": 1.0}])
    result = Result.from_trial(trial)
    assert result._metrics_dataframe is not None  # not read yet
    os.remove(os.path.join(trial.path, "progress.csv"))  # so result.json is read
    df = result.metrics_dataframe
    assert list(df["loss"]) == [2.0, 1.0] and list(df["training_iteration"]) == [1, 2]
    assert result.metrics_dataframe is df  # read once
    os.remove(os.path.join(trial.path, "result.json"))
    assert Result.from_trial(trial).metrics_dataframe is None


def test_result_repr_hides_automatic_keys_and_shows_the_error(experiment):
    a, _, c = ResultGrid.from_path(experiment)
    text = repr(a)
    assert text.startswith("Result(\n  metrics={'loss': 1.0},\n  path=")
    assert "checkpoint=Checkpoint(path=" in text and "training_iteration" not in text
    assert repr(c).startswith("Result(\n  error='TrialError',\n  metrics={'loss': 9.0}")
    grid_text = repr(ResultGrid.from_path(experiment))
    assert grid_text.startswith("ResultGrid<[\n  Result(\n    metrics={'loss': 1.0}")
    assert grid_text.endswith("  )\n]>") and grid_text.count("Result(") == 3


def test_result_get_best_checkpoint(experiment):
    a = ResultGrid.from_path(experiment)[0]
    assert a.get_best_checkpoint("loss", "min").path.endswith("checkpoint_000001")
    assert a.get_best_checkpoint("loss", "max").path.endswith("checkpoint_000000")
    with pytest.raises(ValueError, match=r"'acc'.*loss, training_iteration"):
        a.get_best_checkpoint("acc", "max")
    with pytest.raises(ValueError, match=r"mode must be 'min' or 'max'"):
        a.get_best_checkpoint("loss", "up")


def test_indexing_and_equality(experiment):
    grid = ResultGrid.from_path(experiment)
    assert list(grid) == list(ResultGrid.from_path(experiment)) and grid[0] != grid[1]
    assert grid[-1] is grid[2] and grid[-1].metrics["trial_id"] == "c"
    with pytest.raises(IndexError):
        grid[3]
    with pytest.raises(TypeError, match=r"integers, got str"):
        grid["a"]
