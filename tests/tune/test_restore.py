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
from tuning import iterations, read_state

from caliper import tune
from caliper.schedulers import FIFOScheduler

pytestmark = pytest.mark.timeout(60)
cloudpickle.register_pickle_by_value(sys.modules[__name__])

STEPS = 8


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
    assert read_state(path)["status"] == "INTERRUPTED"
    assert tune.Tuner.can_restore(path)
    assert not tune.Tuner.can_restore(tmp_path)
    unfinished = [r for r in first if r.metrics.get("step", 0) < STEPS]
    assert unfinished  # the interrupt came before the end

    results = tune.Tuner.restore(path, trainable=resumable).fit()
    assert read_state(path)["status"] == "FINISHED"
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
    assert read_state(path)["trials"][0]["status"] == "ERROR"

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


def every_other_step(config):
    """Counts to STEPS, with a checkpoint every second step only."""
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        start = checkpoint.to_dict()["step"]
    for step in range(start + 1, STEPS + 1):
        keep = tune.Checkpoint.from_dict({"step": step}) if step % 2 == 0 else None
        tune.report({"loss": float(STEPS - step), "step": step}, checkpoint=keep)


def test_after_a_resume_the_files_hold_each_iteration_once(rt, tmp_path):
    path = (
        tune.Tuner(
            every_other_step,
            param_space={"x": tune.grid_search([1, 2])},
            run_config=tune.RunConfig(
                name="exp",
                storage_path=str(tmp_path),
                verbose=0,
                callbacks=[InterruptAfter(7, str(tmp_path / "fired"))],
            ),
        )
        .fit()
        .experiment_path
    )
    results = tune.Tuner.restore(path, trainable=every_other_step).fit()
    for r in results:
        assert r.metrics["training_iteration"] == STEPS
        from_json, from_csv = iterations(r.path)
        assert from_json == list(range(1, STEPS + 1))
        assert from_csv == list(range(1, STEPS + 1))


def fails_once_at_5(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        start = checkpoint.to_dict()["step"]
    for step in range(start + 1, STEPS + 1):
        if step == 5 and not os.path.exists(config["flag"]):
            open(config["flag"], "w").close()
            raise RuntimeError("once")
        keep = tune.Checkpoint.from_dict({"step": step}) if step % 3 == 0 else None
        tune.report({"step": step}, checkpoint=keep)


def test_a_retried_trial_reports_each_iteration_once(rt, tmp_path):
    [result] = tune.Tuner(
        fails_once_at_5,
        param_space={"flag": str(tmp_path / "flag")},
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=1),
        ),
    ).fit()
    assert result.error is None
    assert iterations(result.path) == (list(range(1, STEPS + 1)),) * 2


def test_a_corrupt_state_file_falls_back_to_the_previous_snapshot(rt, tmp_path):
    path = (
        tune.Tuner(
            resumable,
            param_space={"x": tune.grid_search([0.0, 1.0])},
            run_config=tune.RunConfig(name="exp", storage_path=str(tmp_path), verbose=0),
        )
        .fit()
        .experiment_path
    )
    state = os.path.join(path, "experiment_state.json")
    assert os.path.exists(state + ".prev")
    with open(state, "r+b") as f:
        f.truncate(os.path.getsize(state) // 2)  # as a crash in the middle of a write would
    with open(state + ".prev", encoding="utf-8") as f:
        previous = json.load(f)  # the snapshot before the last one (how many trials it
        # holds depends on timing)
    grid = tune.ResultGrid.from_path(path)
    assert len(grid) == len(previous["trials"])
    with open(state + ".prev", "wb") as f:
        f.write(b"garbage")
    with pytest.raises(ValueError, match=r"experiment_state\.json: not valid JSON"):
        tune.Tuner.restore(path, trainable=resumable)


def test_a_checkpoint_score_the_trial_never_reports_errors_the_trial(rt, tmp_path):
    [result] = tune.Tuner(
        every_other_step,
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            verbose=0,
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=1, checkpoint_score_attribute="accuracy"
            ),
        ),
    ).fit()
    assert result.error is not None
    assert "checkpoint_score_attribute 'accuracy'" in str(result.error)
    assert "'loss'" in str(result.error)


def test_dict_checkpoints_round_trip(tmp_path):
    checkpoint = tune.Checkpoint.from_dict({"step": 3, "weights": [1.0, 2.0]})
    assert checkpoint.to_dict() == {"step": 3, "weights": [1.0, 2.0]}
    with pytest.raises(ValueError, match="from_dict"):
        tune.Checkpoint.from_directory(str(tmp_path)).to_dict()


def test_a_crash_in_the_middle_of_a_snapshot_leaves_a_readable_state(tmp_path, monkeypatch):
    """The state file is replaced by rename: a crash before the rename leaves the old one, a
    crash between keeping the previous copy and the rename leaves the previous copy."""
    from caliper.tune import storage as storage_module
    from caliper.tune.storage import Storage, read_with_fallback

    store = Storage(str(tmp_path), "exp")
    store.write_atomic("state.json", b'{"n": 1}', keep_previous=True)
    store.write_atomic("state.json", b'{"n": 2}', keep_previous=True)
    real_replace = os.replace
    calls = []

    def crash_on(nth):
        def replace(src, dst):
            calls.append(dst)
            if len(calls) == nth:
                raise KeyboardInterrupt  # as if the process died right here
            return real_replace(src, dst)

        return replace

    for nth in (1, 2):  # before keeping the previous copy; between that and the rename
        calls.clear()
        monkeypatch.setattr(storage_module.os, "replace", crash_on(nth))
        with pytest.raises(KeyboardInterrupt):
            store.write_atomic("state.json", b'{"n": 3}', keep_previous=True)
        monkeypatch.setattr(storage_module.os, "replace", real_replace)
        value, _ = read_with_fallback(store.path("state.json"), json.loads)
        assert value["n"] == 2  # the last complete snapshot, from the file or its copy
        store.write_atomic("state.json", b'{"n": 2}', keep_previous=True)
    leftovers = [n for n in os.listdir(store.path()) if n.startswith(".tmp-")]
    assert leftovers == []  # the temporary file of a failed write is removed


def test_restore_pairs_the_state_file_with_the_searcher_state_written_with_it(tmp_path):
    """A crash after a new searcher state was written but before the state file: restore
    reads the searcher version the state file names (kept as the previous copy)."""
    from caliper.searchers import BasicVariantGenerator
    from caliper.tune.experiment_state import ExperimentStatus, decode
    from caliper.tune.restore import SEARCHER_FILE, read_part
    from caliper.tune.snapshots import Snapshots
    from caliper.tune.storage import Storage

    store = Storage(str(tmp_path), "exp")
    snapshots = Snapshots(store, note=print)
    searcher = BasicVariantGenerator(random_state=1)
    searcher.set_search_properties(None, None, {"x": tune.uniform(0, 1)}, num_samples=5)
    searcher.suggest("t0")
    snapshots.write(
        status=ExperimentStatus.RUNNING, start_time=0.0, metric=None, mode=None, trials=[],
        searcher=searcher, scheduler=FIFOScheduler(),
    )  # fmt: skip
    searcher.suggest("t1")
    snapshots._save_part(SEARCHER_FILE, searcher)  # ...and the process dies here
    with open(store.path("experiment_state.json"), "rb") as f:
        state = decode(f.read())
    restored = read_part(store.path(), SEARCHER_FILE, state)
    assert restored["handed_out"] == 1  # not 2: the version that goes with the state file


def test_an_experiment_of_a_newer_format_is_a_one_line_error(rt, tmp_path):
    path = (
        tune.Tuner(
            resumable,
            param_space={"x": 1.0},
            run_config=tune.RunConfig(name="exp", storage_path=str(tmp_path), verbose=0),
        )
        .fit()
        .experiment_path
    )
    state = os.path.join(path, "experiment_state.json")
    for name in (state, state + ".prev"):
        with open(name, encoding="utf-8") as f:
            saved = json.load(f)
        saved["format"] = 99
        with open(name, "w", encoding="utf-8") as f:
            json.dump(saved, f)
    with pytest.raises(ValueError) as raised:
        tune.Tuner.restore(path, trainable=resumable)
    message = str(raised.value)
    assert "experiment_state.json has format 99" in message
    assert "upgrade caliper" in message and "\n" not in message
    with pytest.raises(ValueError, match="format 99"):
        tune.ResultGrid.from_path(path)


def test_a_wrapped_grid_search_runs_every_variant_once(rt, tmp_path):
    from caliper.searchers import BasicVariantGenerator, ConcurrencyLimiter

    results = tune.Tuner(
        resumable,
        param_space={"x": tune.grid_search([0.0, 1.0, 2.0])},
        tune_config=tune.TuneConfig(
            num_samples=2,
            search_alg=ConcurrencyLimiter(BasicVariantGenerator(random_state=0), 1),
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert sorted(r.config["x"] for r in results) == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]


def test_trials_ended_by_a_restore_free_their_place_in_a_concurrency_limiter(rt, tmp_path):
    from caliper.searchers import ConcurrencyLimiter, OptunaSearch

    pytest.importorskip("optuna")
    searcher = ConcurrencyLimiter(OptunaSearch(seed=0), max_concurrent=2)
    first = tune.Tuner(
        resumable,
        param_space={"x": tune.uniform(0.0, 1.0)},
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=6, search_alg=searcher),
        run_config=tune.RunConfig(
            name="exp",
            storage_path=str(tmp_path),
            verbose=0,
            callbacks=[InterruptAfter(3, str(tmp_path / "fired"))],
        ),
    )
    first.fit()
    restored = tune.Tuner.restore(first.experiment_path, resumable, resume_unfinished=False)
    results = restored.fit()
    assert len(results) == 6  # the trials ended by the restore left room for the rest
    assert len({r.config["x"] for r in results}) == 6


def test_states_are_pickled_by_value_only_when_another_process_needs_it():
    import pickle

    from caliper.tune.snapshots import dumps_state

    plain = {"trials": [1, 2.5, "a"], "rng": tempfile.gettempdir}
    assert dumps_state(plain) == pickle.dumps(plain, pickle.HIGHEST_PROTOCOL)
    local = {"fn": lambda x: x + 1}  # only cloudpickle carries it
    assert pickle.loads(dumps_state(local))["fn"](1) == 2
    main_module = sys.modules["__main__"]
    defined = type("DefinedInMain", (), {"__module__": "__main__"})
    main_module.DefinedInMain = defined
    try:
        data = dumps_state({"obj": defined()})
        assert data != pickle.dumps({"obj": defined()}, pickle.HIGHEST_PROTOCOL)  # by value
    finally:
        del main_module.DefinedInMain


def test_snapshots_write_each_trial_as_it_is_now_also_once_it_ended(tmp_path):
    """An ended trial's entry is kept between snapshots; it is made again when the trial
    changes (a retry, a result taken after its end), so the state file is always current."""
    from caliper.tune.experiment_state import ExperimentStatus, decode, trial_to_dict
    from caliper.tune.snapshots import Snapshots
    from caliper.tune.storage import Storage
    from caliper.tune.trainable_wrappers import PlacementGroupFactory
    from caliper.tune.trial import Trial, TrialStatus

    store = Storage(str(tmp_path), "exp")
    snapshots = Snapshots(store, note=print)
    trials = [
        Trial(f"t{i}", {"x": i}, str(i), resources=PlacementGroupFactory([{"CPU": 1}]))
        for i in range(2)
    ]

    def written() -> list[dict]:
        snapshots.write(
            status=ExperimentStatus.RUNNING, start_time=0.0, metric="loss", mode="min",
            trials=trials, searcher=None, scheduler=FIFOScheduler(),
        )  # fmt: skip
        with open(store.path("experiment_state.json"), "rb") as f:
            return decode(f.read())["trials"]

    def expected() -> list[dict]:
        return json.loads(json.dumps([trial_to_dict(t) for t in trials]))

    ended = trials[0]
    ended.record({"loss": 1.0, "training_iteration": 1})
    ended.status = TrialStatus.TERMINATED
    assert written() == expected()
    ended.record({"loss": 0.5, "training_iteration": 2})  # a result read after its end
    trials[1].record({"loss": 2.0, "training_iteration": 1})
    assert written() == expected()
    ended.status = TrialStatus.PENDING  # tried again
    ended.num_failures += 1
    assert written() == expected()
    assert written()[0]["status"] == "PENDING" and written()[0]["last_result"]["loss"] == 0.5
