"""End to end: ``tune.Tuner(...).fit()`` as a Ray Tune user runs it, checked through the
ResultGrid and through the files the experiment writes."""

from __future__ import annotations

import csv
import glob
import itertools
import json
import os
import pickle
import socket
import sys
import tempfile
import time
from datetime import datetime

import cloudpickle
import numpy as np
import pytest
from tuning import read_lines, read_state, tuner

from caliper import tune
from caliper.tune import ResultGrid

pytestmark = pytest.mark.timeout(60)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def quadratic(config):
    for i in range(1, 4):
        tune.report({"loss": (config["x"] - 2) ** 2 + 1.0 / i, "step": i})


def counting(config):
    for i in range(1, config.get("n", 3) + 1):
        time.sleep(0.002)
        tune.report({"score": i * 10, "my_pid": os.getpid()})


def forever(config):
    for i in range(1, 100_000):
        time.sleep(0.01)
        tune.report({"loss": float(i)})


def trial_dirs(experiment_path):
    return sorted(p for p in glob.glob(os.path.join(experiment_path, "*")) if os.path.isdir(p))


def test_fit_returns_one_result_per_config_and_the_best(rt, tmp_path):
    space = {"x": tune.grid_search([0, 1, 2, 3]), "y": tune.uniform(0, 1), "const": "c"}
    results = tuner(
        quadratic,
        tmp_path,
        param_space=space,
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=2),
    ).fit()

    assert len(results) == 8  # 4 grid points x 2 samples
    xs = sorted(r.config["x"] for r in results)
    assert xs == [0, 0, 1, 1, 2, 2, 3, 3]
    assert all(0 <= r.config["y"] <= 1 and r.config["const"] == "c" for r in results)
    assert all(r.error is None for r in results)
    assert results.num_errors == 0 and results.num_terminated == 8
    for r in results:
        assert r.metrics["loss"] == pytest.approx((r.config["x"] - 2) ** 2 + 1 / 3)
        assert r.metrics["training_iteration"] == 3

    best = results.get_best_result()
    assert best.config["x"] == 2
    assert best.metrics["loss"] == pytest.approx(1 / 3)
    assert results.get_best_result(metric="loss", mode="max").config["x"] == 0

    df = results.get_dataframe()
    assert len(df) == 8
    assert {"loss", "config/x", "config/y", "config/const", "trial_id"} <= set(df.columns)
    assert sorted(df["config/x"]) == xs
    row = df.loc[df["loss"].idxmin()]
    assert row["config/x"] == 2

    # the same from disk, with no trainable
    again = ResultGrid.from_path(results.experiment_path)
    assert len(again) == 8
    fitted = {r.metrics["trial_id"]: r for r in results}
    for r in again:
        original = fitted[r.metrics["trial_id"]]
        assert r.config == original.config
        assert r.metrics["loss"] == pytest.approx(original.metrics["loss"])
        assert r.path == original.path
    assert again.get_best_result("loss", "min").config == best.config
    assert again.get_best_result().config == best.config  # metric/mode were saved


def test_a_trial_directory_named_again_holds_the_last_trials_results_only(rt, tmp_path):
    """A trial_dirname_creator that names two trials alike: the second trial's run finds
    the first one's result files and starts them afresh (a new directory is not looked at)."""
    results = tuner(
        counting,
        tmp_path,
        name="same",
        param_space={"n": tune.grid_search([3, 2])},
        tune_config=tune.TuneConfig(
            trial_dirname_creator=lambda trial: "one_dir", max_concurrent_trials=1
        ),
    ).fit()
    folder = os.path.join(str(tmp_path), "same", "one_dir")
    assert [r.path for r in results] == [folder, folder]
    assert [line["config"]["n"] for line in read_lines(folder)] == [2, 2]
    with open(os.path.join(folder, "progress.csv"), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["training_iteration"]) for row in rows] == [1, 2]


def fails_on_odd(config):
    tune.report({"score": config["n"]})
    if config["n"] % 2:
        raise ValueError("odd")


def test_every_trial_has_its_params_files_also_when_its_run_failed(rt, tmp_path):
    """Reused runners write their trials' params files after each run; a run that failed
    (its process discarded) has them too, written by the driver."""
    results = tuner(
        fails_on_odd, tmp_path, name="p", param_space={"n": tune.grid_search([1, 2, 3, 4])}
    ).fit()
    assert results.num_errors == 2 and len(results) == 4
    for r in results:
        with open(os.path.join(r.path, "params.json"), encoding="utf-8") as f:
            assert json.load(f) == r.config
        with open(os.path.join(r.path, "params.pkl"), "rb") as f:
            assert pickle.load(f) == r.config


def test_experiment_directory_holds_the_files_of_every_trial(rt, tmp_path):
    results = tuner(
        counting, tmp_path, name="files", param_space={"n": tune.grid_search([2, 3])}
    ).fit()
    experiment = os.path.join(str(tmp_path), "files")
    assert results.experiment_path == experiment
    assert os.path.isfile(os.path.join(experiment, "experiment_state.json"))
    dirs = trial_dirs(experiment)
    assert len(dirs) == 2
    assert sorted(r.path for r in results) == dirs

    for r in results:
        n = r.config["n"]
        with open(os.path.join(r.path, "params.json"), encoding="utf-8") as f:
            assert json.load(f) == {"n": n}
        with open(os.path.join(r.path, "params.pkl"), "rb") as f:
            assert pickle.load(f) == {"n": n}

        lines = read_lines(r.path)
        assert len(lines) == n  # one JSON line per report
        assert [line["score"] for line in lines] == [10 * i for i in range(1, n + 1)]
        assert all(line["config"] == {"n": n} for line in lines)
        assert all(line["trial_id"] == r.metrics["trial_id"] for line in lines)

        with open(os.path.join(r.path, "progress.csv"), encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == n
        assert [int(row["training_iteration"]) for row in rows] == list(range(1, n + 1))
        assert [float(row["score"]) for row in rows] == [10 * i for i in range(1, n + 1)]

        frame = r.metrics_dataframe
        assert list(frame["score"]) == [10 * i for i in range(1, n + 1)]

    state = read_state(experiment)
    assert len(state["trials"]) == 2
    assert {t["status"] for t in state["trials"]} == {"TERMINATED"}
    assert sorted(t["config"]["n"] for t in state["trials"]) == [2, 3]
    assert state["status"] == "FINISHED"


def test_tensorboard_event_file_per_trial(rt, tmp_path):
    pytest.importorskip("tensorboardX")
    results = tuner(counting, tmp_path, param_space={"n": tune.grid_search([2, 3])}).fit()
    for r in results:
        events = glob.glob(os.path.join(r.path, "events.out.tfevents.*"))
        assert len(events) == 1, os.listdir(r.path)
        assert os.path.getsize(events[0]) > 0


def test_every_result_carries_the_automatic_fields(rt, tmp_path):
    before = time.time()
    results = tuner(counting, tmp_path, param_space={"n": 4}).fit()
    after = time.time()
    (result,) = results
    lines = read_lines(result.path)
    assert len(lines) == 4
    assert [line["training_iteration"] for line in lines] == [1, 2, 3, 4]
    assert [line["iterations_since_restore"] for line in lines] == [1, 2, 3, 4]
    totals = [line["time_total_s"] for line in lines]
    assert totals == sorted(totals) and totals[-1] > totals[0] >= 0
    for line in lines:
        assert int(before) <= line["timestamp"] <= after + 1
        datetime.strptime(line["date"], "%Y-%m-%d_%H-%M-%S")
        assert line["trial_id"] == result.metrics["trial_id"]
        assert line["experiment_tag"] == result.metrics["experiment_tag"]
        assert line["pid"] == line["my_pid"] != os.getpid()  # the trial's process
        assert line["hostname"] == socket.gethostname()
        assert line["config"] == {"n": 4}
        assert line["time_this_iter_s"] >= 0
    assert [line["done"] for line in lines[:-1]] == [False] * 3
    assert result.metrics["done"] is True
    assert result.metrics["training_iteration"] == 4
    assert result.metrics["config"] == {"n": 4}


def returns_dict(config):
    tune.report({"acc": 0.1})
    return {"acc": 0.9, "final": True}


def returns_only(config):
    return {"acc": config["a"] * 2}


def test_a_returned_dict_is_the_final_result(rt, tmp_path):
    (result,) = tuner(returns_dict, tmp_path, name="a").fit()
    assert result.metrics["acc"] == 0.9 and result.metrics["final"] is True
    assert result.metrics["training_iteration"] == 2
    assert [line["acc"] for line in read_lines(result.path)] == [0.1, 0.9]

    results = tuner(
        returns_only,
        tmp_path,
        name="b",
        param_space={"a": tune.grid_search([1, 2])},
        tune_config=tune.TuneConfig(metric="acc", mode="max"),
    ).fit()
    assert sorted(r.metrics["acc"] for r in results) == [2, 4]
    assert all(r.metrics["training_iteration"] == 1 for r in results)
    assert results.get_best_result().config == {"a": 2}


def reports_context(config):
    ctx = tune.get_context()
    tune.report(
        {
            "ctx_trial_id": ctx.get_trial_id(),
            "ctx_trial_name": ctx.get_trial_name(),
            "ctx_trial_dir": ctx.get_trial_dir(),
            "ctx_dir_exists": os.path.isdir(ctx.get_trial_dir()),
            "ctx_experiment": ctx.get_experiment_name(),
            "ctx_cpus": ctx.get_trial_resources().required_resources.get("CPU"),
        }
    )


def test_get_context_inside_a_trial(rt, tmp_path):
    (result,) = tuner(reports_context, tmp_path, name="ctx_exp").fit()
    m = result.metrics
    assert m["ctx_trial_id"] == m["trial_id"]
    assert m["ctx_trial_id"] in m["ctx_trial_name"]
    assert m["ctx_trial_dir"] == result.path
    assert m["ctx_dir_exists"] is True
    assert m["ctx_experiment"] == "ctx_exp"
    assert m["ctx_cpus"] == 1

    (result,) = tuner(tune.with_resources(reports_context, {"cpu": 2}), tmp_path, name="ctx2").fit()
    assert result.metrics["ctx_cpus"] == 2
    assert result.metrics["ctx_experiment"] == "ctx2"


def test_get_context_and_report_outside_a_trial_say_so():
    with pytest.raises(RuntimeError, match="outside a trial"):
        tune.report({"loss": 1})
    with pytest.raises(RuntimeError, match="outside a trial"):
        tune.get_context()


# -- stopping ----------------------------------------------------------------------------------


def test_stop_at_a_training_iteration(rt, tmp_path):
    results = tuner(
        forever,
        tmp_path,
        param_space={"x": tune.grid_search([1, 2])},
        stop={"training_iteration": 3},
    ).fit()
    assert len(results) == 2
    for r in results:
        assert r.error is None
        assert r.metrics["training_iteration"] == 3
        lines = read_lines(r.path)
        assert [line["training_iteration"] for line in lines] == [1, 2, 3]
        assert r.metrics["done"] is True
        # as in Ray, the result that stopped the trial is logged with done=True
        assert lines[-1]["done"] is True


def test_stop_at_a_metric_threshold(rt, tmp_path):
    (result,) = tuner(forever, tmp_path, stop={"loss": 4}).fit()
    assert result.metrics["loss"] == 4.0
    assert result.metrics["training_iteration"] == 4


def test_stop_with_a_function(rt, tmp_path):
    def stop(trial_id, result):
        return result["training_iteration"] >= result["config"]["at"]

    results = tuner(
        forever, tmp_path, param_space={"at": tune.grid_search([2, 5])}, stop=stop
    ).fit()
    assert sorted((r.config["at"], r.metrics["training_iteration"]) for r in results) == [
        (2, 2),
        (5, 5),
    ]


class EndAllAt(tune.Stopper):
    def __init__(self, iteration):
        self.iteration = iteration
        self.asked = 0
        self.reached = False

    def __call__(self, trial_id, result):
        self.asked += 1
        if result["training_iteration"] >= self.iteration:
            self.reached = True
        return False

    def stop_all(self):
        return self.reached


def test_a_stopper_stop_all_ends_the_experiment(rt, tmp_path):
    stopper = EndAllAt(3)
    started = time.monotonic()
    results = tuner(
        forever, tmp_path, name="all", tune_config=tune.TuneConfig(num_samples=4), stop=stopper
    ).fit()
    assert time.monotonic() - started < 15
    assert stopper.reached and stopper.asked >= 3
    reported = [r for r in results if r.metrics]
    assert reported and all(r.metrics["training_iteration"] < 20 for r in reported)
    assert results.num_errors == 0
    state = read_state(results.experiment_path)
    assert "RUNNING" not in {t["status"] for t in state["trials"]}
    assert all(t["status"] == "TERMINATED" for t in state["trials"] if t["last_result"]), state[
        "trials"
    ]


def test_maximum_iteration_stopper(rt, tmp_path):
    results = tuner(
        forever,
        tmp_path,
        param_space={"x": tune.grid_search([1, 2, 3])},
        stop=tune.MaximumIterationStopper(2),
    ).fit()
    assert [r.metrics["training_iteration"] for r in results] == [2, 2, 2]


def test_time_budget_ends_a_long_experiment_cleanly(rt, tmp_path):
    started = time.monotonic()
    results = tuner(
        forever, tmp_path, tune_config=tune.TuneConfig(num_samples=2, time_budget_s=1.0)
    ).fit()
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 10
    assert len(results) == 2
    assert results.num_errors == 0
    for r in results:
        assert r.error is None
        assert 1 <= r.metrics["training_iteration"] < 1000
        assert len(read_lines(r.path)) == r.metrics["training_iteration"]
    state = read_state(results.experiment_path)
    assert {t["status"] for t in state["trials"]} == {"TERMINATED"}


# -- parameters, concurrency, actor reuse, output ------------------------------------------------


def uses_data(config, data=None):
    tune.report({"total": float(data.sum()) * config["k"], "shape": list(data.shape)})


def test_with_parameters_passes_a_large_array_once(rt, tmp_path):
    data = np.ones(500_000)  # 4 MB
    results = tuner(
        tune.with_parameters(uses_data, data=data),
        tmp_path,
        param_space={"k": tune.grid_search([1, 2])},
    ).fit()
    assert sorted(r.metrics["total"] for r in results) == [500_000.0, 1_000_000.0]
    for r in results:
        assert r.metrics["shape"] == [500_000]
        assert "data" not in r.config
        params = os.path.join(r.path, "params.json")
        with open(params, encoding="utf-8") as f:
            assert json.load(f) == {"k": r.config["k"]}
        assert os.path.getsize(params) < 1000
        assert os.path.getsize(os.path.join(r.path, "params.pkl")) < 1000


def timed(config):
    start = time.time()
    time.sleep(0.2)
    tune.report({"start": start, "end": time.time(), "my_pid": os.getpid()})


def test_max_concurrent_trials_one_runs_trials_one_at_a_time(rt, tmp_path):
    results = tuner(
        timed,
        tmp_path,
        param_space={"i": tune.grid_search([0, 1, 2])},
        tune_config=tune.TuneConfig(max_concurrent_trials=1),
    ).fit()
    spans = sorted((r.metrics["start"], r.metrics["end"]) for r in results)
    assert len(spans) == 3
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end


def timed_long(config):
    start = time.time()
    time.sleep(0.5)
    tune.report({"start": start, "end": time.time()})


def test_without_a_limit_two_cpus_run_two_trials_at_once(rt, tmp_path):
    results = tuner(timed_long, tmp_path, param_space={"i": tune.grid_search([0, 1])}).fit()
    (_, first_end), (second_start, _) = sorted(
        (r.metrics["start"], r.metrics["end"]) for r in results
    )
    assert second_start < first_end  # they overlapped


def test_function_trials_reuse_the_same_process_by_default(rt, tmp_path):
    results = tuner(
        timed,
        tmp_path,
        name="reuse",
        param_space={"i": tune.grid_search([0, 1, 2])},
        tune_config=tune.TuneConfig(max_concurrent_trials=1),
    ).fit()
    assert len({r.metrics["my_pid"] for r in results}) == 1

    results = tuner(
        timed,
        tmp_path,
        name="no_reuse",
        param_space={"i": tune.grid_search([0, 1, 2])},
        tune_config=tune.TuneConfig(max_concurrent_trials=1, reuse_actors=False),
    ).fit()
    assert len({r.metrics["my_pid"] for r in results}) == 3


def chatty(config):
    print(f"hello from trial {config['i']}")
    print("on stderr", file=sys.stderr)
    tune.report({"ok": 1})


def test_log_to_file_writes_the_trials_output_in_its_directory(rt, tmp_path):
    results = tuner(
        chatty, tmp_path, param_space={"i": tune.grid_search([0, 1])}, log_to_file=True
    ).fit()
    for r in results:
        with open(os.path.join(r.path, "stdout"), encoding="utf-8") as f:
            assert f"hello from trial {r.config['i']}" in f.read()
        with open(os.path.join(r.path, "stderr"), encoding="utf-8") as f:
            assert "on stderr" in f.read()


def test_verbose_1_prints_a_table_and_a_summary_naming_the_results(rt, tmp_path, capfd):
    results = tuner(
        counting,
        tmp_path,
        name="loud",
        param_space={"n": tune.grid_search([1, 2])},
        tune_config=tune.TuneConfig(metric="score", mode="max"),
        verbose=1,
    ).fit()
    out, err = capfd.readouterr()
    text = out + err
    assert results.experiment_path in text
    assert "TERMINATED" in text  # the status table
    assert "counting" in text  # trial names
    assert "score" in text


def test_verbose_0_prints_nothing(rt, tmp_path, capfd):
    tuner(counting, tmp_path, name="quiet", param_space={"n": tune.grid_search([1, 2])}).fit()
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# -- checkpoints reported by function trainables -----------------------------------------------


def checkpointing(config):
    start = 0
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with open(os.path.join(ckpt.path, "state.txt")) as f:
            start = int(f.read())
    for step in range(start + 1, start + 4):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "state.txt"), "w") as f:
                f.write(str(step))
            tune.report(
                {"step": step, "loss": 10 - step}, checkpoint=tune.Checkpoint.from_directory(tmp)
            )


def read_state_file(checkpoint):
    with open(os.path.join(checkpoint.path, "state.txt")) as f:
        return int(f.read())


def test_report_with_a_checkpoint_copies_it_into_the_trial(rt, tmp_path):
    (result,) = tuner(checkpointing, tmp_path, name="ck").fit()
    names = sorted(n for n in os.listdir(result.path) if n.startswith("checkpoint_"))
    assert names == ["checkpoint_000000", "checkpoint_000001", "checkpoint_000002"]
    assert result.checkpoint is not None
    assert os.path.dirname(result.checkpoint.path) == result.path
    assert os.path.basename(result.checkpoint.path) == "checkpoint_000002"
    assert read_state_file(result.checkpoint) == 3
    assert [read_state_file(c) for c, _ in result.best_checkpoints] == [1, 2, 3]
    assert [m["step"] for _, m in result.best_checkpoints] == [1, 2, 3]
    assert read_state_file(result.get_best_checkpoint("loss", "max")) == 1
    with result.checkpoint.as_directory() as d:
        assert os.path.isfile(os.path.join(d, "state.txt"))
    # and from disk
    (again,) = ResultGrid.from_path(result.path.rsplit(os.sep, 1)[0])
    assert again.checkpoint == result.checkpoint
    assert len(again.best_checkpoints) == 3


def dict_checkpoints(config):
    for step in range(2):
        checkpoint = tune.Checkpoint.from_dict({"step": step})
        made = checkpoint.path
        tune.report({"step": step}, checkpoint=checkpoint)
        tune.report(
            {
                "left_behind": os.path.exists(made),
                "now_at": checkpoint.path,
                "still_reads": checkpoint.to_dict()["step"],
            }
        )


def test_a_reported_dict_checkpoint_leaves_no_temporary_directory(rt, tmp_path):
    """Checkpoint.from_dict makes a temporary directory; reporting it moves it into the
    trial, so thousands of reports do not fill the temp dir, and the object stays usable."""
    (result,) = tuner(dict_checkpoints, tmp_path).fit()
    rows = [r for r in read_lines(result.path) if "left_behind" in r]
    assert [r["left_behind"] for r in rows] == [False, False]
    assert [os.path.basename(r["now_at"]) for r in rows] == [
        "checkpoint_000000",
        "checkpoint_000001",
    ]
    assert [r["still_reads"] for r in rows] == [0, 1]
    assert result.checkpoint.to_dict() == {"step": 1}


def test_num_to_keep_one_keeps_one_checkpoint(rt, tmp_path):
    (result,) = tuner(
        checkpointing,
        tmp_path,
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
    ).fit()
    names = [n for n in os.listdir(result.path) if n.startswith("checkpoint_")]
    assert names == ["checkpoint_000002"]
    assert len(result.best_checkpoints) == 1
    assert read_state_file(result.checkpoint) == 3


def test_num_to_keep_by_score_keeps_the_best_checkpoint(rt, tmp_path):
    (result,) = tuner(
        checkpointing,
        tmp_path,
        checkpoint_config=tune.CheckpointConfig(
            num_to_keep=1, checkpoint_score_attribute="loss", checkpoint_score_order="max"
        ),
    ).fit()
    # the best by loss is step 1; Ray keeps it (and may keep the newest too, to resume from)
    best = result.get_best_checkpoint("loss", "max")
    assert read_state_file(best) == 1
    assert os.path.isdir(best.path)
    assert os.path.isdir(os.path.join(result.path, "checkpoint_000000"))


# -- names, nested values -------------------------------------------------------------------


def nested(config):
    tune.report(
        {
            "loss": np.float32(config["model"]["lr"]),
            "n": np.int64(3),
            "info": {"acc": 1 - config["model"]["lr"]},
        }
    )


def test_nested_configs_and_metrics_are_flattened_to_slash_columns(rt, tmp_path):
    results = tuner(
        nested,
        tmp_path,
        param_space={"model": {"lr": tune.grid_search([0.25, 0.5]), "layers": 2}},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
    ).fit()
    assert results.get_best_result().config == {"model": {"lr": 0.25, "layers": 2}}
    assert results.get_best_result(metric="info/acc", mode="max").config["model"]["lr"] == 0.25
    df = results.get_dataframe()
    assert {"config/model/lr", "config/model/layers", "info/acc", "loss", "n"} <= set(df.columns)
    assert sorted(df["config/model/lr"]) == [0.25, 0.5]
    for r in results:
        (line,) = read_lines(r.path)
        assert line["loss"] == r.config["model"]["lr"] and line["n"] == 3
        assert line["info"] == {"acc": 1 - r.config["model"]["lr"]}
        with open(os.path.join(r.path, "progress.csv"), encoding="utf-8", newline="") as f:
            (row,) = list(csv.DictReader(f))
        assert float(row["info/acc"]) == 1 - r.config["model"]["lr"]
        assert float(row["loss"]) == r.config["model"]["lr"]


def test_default_names_and_name_creators(rt, tmp_path):
    t = tune.Tuner(
        counting,
        param_space={"n": 1},
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    (result,) = t.fit()
    experiment = os.path.basename(t.get_results().experiment_path)
    assert experiment.startswith("counting_")
    assert os.path.dirname(result.path) == os.path.join(str(tmp_path), experiment)
    assert os.path.basename(result.path).startswith("counting_")
    assert t.get_results()[0].metrics["trial_id"] == result.metrics["trial_id"]

    results = tuner(
        reports_context,
        tmp_path,
        name="named",
        param_space={"x": tune.grid_search([1, 2])},
        tune_config=tune.TuneConfig(
            trial_dirname_creator=lambda trial: f"dir_{trial.config['x']}",
            trial_name_creator=lambda trial: f"name_{trial.config['x']}",
        ),
    ).fit()
    for r in results:
        assert os.path.basename(r.path) == f"dir_{r.config['x']}"
        assert r.metrics["ctx_trial_name"] == f"name_{r.config['x']}"


# -- results nothing can stop at travel in batches ------------------------------------------------


def reports_300(config):
    for i in range(300):
        tune.report({"loss": 300 - i, "i": i})


class CountResults(tune.Callback):
    def __init__(self):
        self.iterations: dict[str, list[int]] = {}

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.iterations.setdefault(trial.trial_id, []).append(result["training_iteration"])


def test_every_result_reaches_callbacks_files_and_stats_in_order(rt, tmp_path):
    counter = CountResults()
    results = tuner(
        reports_300,
        tmp_path,
        param_space={"x": tune.grid_search([1, 2])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        callbacks=[counter],
    ).fit()
    assert len(results) == 2
    for r in results:
        assert counter.iterations[r.metrics["trial_id"]] == list(range(1, 301))
        assert [line["i"] for line in read_lines(r.path)] == list(range(300))
        assert r.metrics["training_iteration"] == 300 and r.metrics["loss"] == 1
        assert len(r.metrics_dataframe) == 300
    best = results.get_best_result(scope="avg")  # running figures saw every result
    assert best.metrics["loss"] == 1
