"""The result files' formats: progress.csv rows, result.json lines and their tail, and
TensorBoard event files (framing and checksums), read back as their readers would."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import struct

import pytest

from caliper.tune.logger import (
    CSVLoggerCallback,
    JsonLoggerCallback,
    TBXLoggerCallback,
    flatten_dict,
)
from caliper.tune.logger.csv import fast_csv_line
from caliper.tune.logger.json import read_results, read_tail
from caliper.tune.storage import dumps_json
from caliper.tune.trainable_wrappers import PlacementGroupFactory
from caliper.tune.trial import Trial


def make_trial(path) -> Trial:
    return Trial(
        "abcde_00000",
        {"lr": 0.1, "nested": {"a": 1}},
        "0_lr=0.1",
        PlacementGroupFactory([{"CPU": 1}]),
        path=str(path),
        name="train_abcde_00000",
    )


def read_csv(line: str) -> list[str]:
    return next(csv.reader(io.StringIO(line)))


def test_fast_csv_rows_read_back_as_the_csv_modules_rows():
    values = [0.30000000000000004, 3, 1e-5, "2026-11-22_02-57-38", False, None, "0_b=1,lr=2"]
    line = fast_csv_line(values, set())
    assert line.endswith("\r\n")
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    ours, theirs = read_csv(line), read_csv(buffer.getvalue())
    assert len(ours) == len(theirs) == len(values)
    for mine, expected, value in zip(ours, theirs, values, strict=True):
        if isinstance(value, float):
            assert float(mine) == float(expected) == value
        else:
            assert mine == expected


@pytest.mark.parametrize("value", ['say "hi"', "back\\slash", "two\nlines", [1, 2], 2**70])
def test_fast_csv_leaves_what_needs_escaping_to_the_csv_module(value):
    assert fast_csv_line([1.0, value], set()) is None


def test_progress_csv_keeps_the_first_results_columns(tmp_path):
    trial = make_trial(tmp_path)
    logger = CSVLoggerCallback()
    logger.log_trial_start(trial)
    logger.log_trial_result(1, trial, {"loss": 0.5, "tag": 'with "quotes"', "config": {}})
    logger.log_trial_result(2, trial, {"loss": 0.25, "tag": "plain", "extra": 1})
    logger.log_trial_end(trial)
    with open(tmp_path / "progress.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["loss", "tag"], ["0.5", 'with "quotes"'], ["0.25", "plain"]]


def test_result_json_lines_carry_the_config_and_nan_as_null(tmp_path):
    trial = make_trial(tmp_path)
    logger = JsonLoggerCallback()
    logger.log_trial_start(trial)
    for i in range(1, 4):
        logger.log_trial_result(i, trial, {"loss": 1 / i, "training_iteration": i})
    logger.log_trial_result(4, trial, {"loss": math.nan, "training_iteration": 4})
    logger.log_trial_end(trial)
    results = read_results(str(tmp_path / "result.json"))
    assert [r["training_iteration"] for r in results] == [1, 2, 3, 4]
    assert all(r["config"] == trial.config for r in results)
    assert results[-1]["loss"] is None  # strict JSON: NaN is written as null


def test_read_tail_returns_the_results_after_an_iteration_and_skips_a_torn_line(tmp_path):
    path = tmp_path / "result.json"
    lines = [json.dumps({"training_iteration": i, "loss": i}) for i in range(1, 8)]
    path.write_text("\n".join(lines) + "\n" + '{"training_iteration": 8, "lo')
    assert [r["training_iteration"] for r in read_tail(str(path), 4)] == [5, 6, 7]
    assert read_tail(str(path), 7) == []
    assert read_tail(str(tmp_path / "missing.json"), 0) == []


def test_state_json_writes_numpy_values_and_reprs_what_json_cannot_hold():
    np = pytest.importorskip("numpy")
    text = dumps_json({"a": np.float32(2.5), "b": (1, 2), "c": object(), "d": 2**70})
    data = json.loads(text)
    assert data["a"] == 2.5 and data["b"] == [1, 2] and data["d"] == 2**70
    assert data["c"].startswith("<object object")


def test_tensorboard_event_file_frames_and_checksums(tmp_path):
    pytest.importorskip("tensorboardX")
    from tensorboardX.proto import event_pb2
    from tensorboardX.record_writer import masked_crc32c

    trial = make_trial(tmp_path)
    logger = TBXLoggerCallback()
    logger.log_trial_start(trial)
    for i in range(1, 4):
        result = {"loss": 1 / i, "training_iteration": i, "info": {"acc": i / 10}}
        logger.log_trial_result(i, trial, {**result, "date": "x", "config": trial.config})
    logger.log_trial_end(trial)
    [name] = [n for n in os.listdir(tmp_path) if n.startswith("events.out.tfevents.")]
    data = (tmp_path / name).read_bytes()
    events, pos = [], 0
    while pos < len(data):
        header = data[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[pos + 8 : pos + 12])[0] == masked_crc32c(header)
        body = data[pos + 12 : pos + 12 + length]
        assert struct.unpack("<I", data[pos + 12 + length : pos + 16 + length])[0] == (
            masked_crc32c(body)
        )
        event = event_pb2.Event()
        event.ParseFromString(body)
        events.append(event)
        pos += 16 + length
    assert events[0].file_version == "brain.Event:2"
    scalars = [
        (e.step, {v.tag: round(v.simple_value, 4) for v in e.summary.value}) for e in events[1:4]
    ]
    assert scalars == [
        (1, {"ray/tune/loss": 1.0, "ray/tune/info/acc": 0.1}),
        (2, {"ray/tune/loss": 0.5, "ray/tune/info/acc": 0.2}),
        (3, {"ray/tune/loss": 0.3333, "ray/tune/info/acc": 0.3}),
    ]
    # the HParams view: the trial's hyperparameters, then its final metrics as scalars
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData

    plugin = {}
    for event in events[4:]:
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name == "hparams":
                data = HParamsPluginData()
                data.ParseFromString(value.metadata.plugin_data.content)
                plugin[value.tag] = data
    start = plugin["_hparams_/session_start_info"].session_start_info
    assert set(start.hparams) == set(flatten_dict(trial.config))
    experiment = plugin["_hparams_/experiment"].experiment
    assert {m.name.tag for m in experiment.metric_infos} >= {"ray/tune/loss", "ray/tune/info/acc"}


def test_checkpoints_to_keep_ranks_by_score_and_always_keeps_the_newest():
    from caliper.tune.checkpoint import checkpoints_to_keep

    entries = [{"path": f"c{i}", "metrics": {"acc": acc}} for i, acc in enumerate([5, 9, 1, 7])]
    names = lambda kept: [e["path"] for e in kept]  # noqa: E731
    assert names(checkpoints_to_keep(entries, 2, None, "max")) == ["c2", "c3"]
    assert names(checkpoints_to_keep(entries, 1, "acc", "max")) == ["c1", "c3"]
    assert names(checkpoints_to_keep(entries, 2, "acc", "min")) == ["c0", "c2", "c3"]
    missing = [*entries, {"path": "c4", "metrics": {}}]
    assert names(checkpoints_to_keep(missing, 1, "acc", "max")) == ["c1", "c4"]
    assert checkpoints_to_keep([], 1, None, "max") == []


@pytest.mark.parametrize(
    "params",
    [
        {"lr": 0.01, "layers": 3, "act": "relu", "norm": True},
        {"b": False, "a": 2**40, "skip": None, "fn": len},
        {"only": "x"},
    ],
)
def test_hparams_events_hold_what_tensorboardx_builds(params):
    pytest.importorskip("tensorboardX")
    from tensorboardX.proto import api_pb2, event_pb2, plugin_hparams_pb2, summary_pb2
    from tensorboardX.summary import hparams

    from caliper.tune.logger.hparams import HParamsEvents

    builder = HParamsEvents((event_pb2, summary_pb2, api_pb2, plugin_hparams_pb2))
    tags = ["ray/tune/loss", "ray/tune/acc"]
    for _ in range(2):  # the second time from what was kept of the first
        events = []
        for data in builder.events(params, tags, wall_time=12.5):
            event = event_pb2.Event()
            event.ParseFromString(data)
            events.append(event)
        assert [e.wall_time for e in events] == [12.5] * 3
        expected = hparams(params, dict.fromkeys(tags, 0.0))
        assert [e.summary for e in events] == list(expected)


def test_result_files_left_in_a_directory_are_cut_back_unless_it_was_made_new_here(tmp_path):
    """A run's writer cuts back what a directory holds from earlier runs; it skips looking
    only where the driver made the directory new on this very machine (a process on another
    node of a cluster may find an earlier run's files under the same path)."""
    import socket

    from caliper.tune.result_writer import ResultWriter

    def run(fresh_on) -> list[dict]:
        (tmp_path / "result.json").write_text('{"training_iteration": 1}\n')
        spec = {"trial_id": "t", "trial_name": "t", "trial_dir": str(tmp_path), "config": {}}
        ResultWriter({**spec, "fresh_on": fresh_on, "iteration": 0}, ["json"]).close()
        return read_results(str(tmp_path / "result.json"))

    assert run(None) == [] and run("another-node") == []  # looked at: cut back
    assert len(run(socket.gethostname())) == 1  # made new here: not looked at


def test_params_files_are_written_by_the_driver_or_by_the_run_and_always_end_up_whole(tmp_path):
    """A trial's params files: the driver writes them after the trial started, or hands them
    to the trial's run (a reused runner on this machine), and writes them itself for a run
    that ended without writing them, wholly or at all."""
    import pickle

    from caliper.tune.params_files import NewTrialFiles, write_params_files

    def trial(i: int) -> Trial:
        made = Trial(f"t{i}", {"x": i, "s": "a"}, str(i), PlacementGroupFactory([{"CPU": 1}]))
        made.path = str(tmp_path / f"t{i}")
        os.mkdir(made.path)
        return made

    def params(t: Trial) -> tuple[dict, dict]:
        with open(os.path.join(t.path, "params.json"), encoding="utf-8") as f:
            text = json.load(f)
        with open(os.path.join(t.path, "params.pkl"), "rb") as f:
            return text, pickle.load(f)

    by_driver = NewTrialFiles(delegate=False)
    first = trial(0)
    by_driver.add(first, made=True)
    assert by_driver.run_fields(first)["params"] is None
    by_driver.write_pending()
    assert params(first) == (first.config, first.config)

    by_runs = NewTrialFiles(delegate=True)
    written, _, torn, failed = trials = [trial(i) for i in range(1, 5)]
    for t in trials:
        by_runs.add(t, made=True)
    handed = {t.trial_id: by_runs.run_fields(t)["params"] for t in trials}
    by_runs.write_pending()
    assert not os.listdir(written.path)  # the runs write them
    write_params_files(written.path, handed[written.trial_id])
    write_params_files(torn.path, handed[torn.trial_id])
    with open(os.path.join(torn.path, "params.json"), "r+b") as f:
        f.truncate(3)  # its process was killed while writing
    by_runs.settle(failed)  # its run failed: its process is gone
    assert params(failed) == (failed.config, failed.config)
    by_runs.settle_all()
    for t in trials:
        assert params(t) == (t.config, t.config)
