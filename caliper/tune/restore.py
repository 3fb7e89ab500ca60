"""Continuing an experiment from its directory: what ``Tuner.restore`` reads and ``fit``
writes for it.

``tuner.pkl`` holds the parts of the Tuner that pickle (the search space, ``TuneConfig`` and
``RunConfig``; never the trainable, which the user passes again); ``searcher_state.pkl`` and
``scheduler_state.pkl`` hold their ``state_dict()``, written with each snapshot of
``experiment_state.json``, from which the trials come back.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

from caliper.tune.experiment_state import STATE_FILE, decode, trial_from_dict
from caliper.tune.storage import PREVIOUS, Storage, read_with_fallback
from caliper.tune.trial import Trial, TrialStatus

TUNER_FILE = "tuner.pkl"
SEARCHER_FILE = "searcher_state.pkl"
SCHEDULER_FILE = "scheduler_state.pkl"


def _pickled(value: Any) -> bytes | None:
    import cloudpickle

    try:
        return cloudpickle.dumps(value)
    except Exception:
        return None


def save_tuner_state(tuner: Any) -> None:
    """Write ``tuner.pkl`` (each part that cannot be pickled is left out, and must be given
    again to restore). Where the experiment is stored is left out too (a restore gets it from
    where it restores; a URI or a filesystem may hold credentials)."""
    import dataclasses

    run_config = tuner.run_config
    if run_config.storage_path is not None or run_config.storage_filesystem is not None:
        run_config = dataclasses.replace(run_config, storage_path=None, storage_filesystem=None)
    parts = {
        "param_space": _pickled(tuner.param_space),
        "tune_config": _pickled(tuner.tune_config),
        "run_config": _pickled(run_config),
    }
    if parts["run_config"] is None:  # callbacks or a reporter that do not pickle: drop them
        parts["run_config"] = _pickled(
            dataclasses.replace(run_config, callbacks=None, progress_reporter=None)
        )
    tuner.storage.write_atomic(TUNER_FILE, pickle.dumps(parts))


def _load(data: bytes | None) -> Any:
    return None if data is None else pickle.loads(data)


def _read_pickle(path: str) -> Any:
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return pickle.load(f)


def read_part(path: str, filename: str, state: dict) -> Any:
    """The searcher's or scheduler's saved state that goes with ``state`` (the file or its
    previous version, whichever has the version the state file names); ``None`` if neither."""
    import cloudpickle  # noqa: F401 (states may need it to unpickle)

    wanted = (state.get("parts") or {}).get(filename)
    if wanted is None:
        return None
    for candidate in (os.path.join(path, filename), os.path.join(path, filename + PREVIOUS)):
        try:
            with open(candidate, "rb") as f:
                version, data = pickle.load(f)
            if version == wanted:
                return pickle.loads(data)
        except (OSError, ValueError, TypeError, EOFError, pickle.UnpicklingError):
            continue
    return None


def restore_tuner(
    cls: type,
    storage: Storage,
    trainable: Any,
    *,
    resume_unfinished: bool,
    resume_errored: bool,
    restart_errored: bool,
    param_space: Any,
) -> Any:
    """The Tuner that continues the experiment in ``storage`` (for remote storage, its files
    are downloaded into the staging copy already)."""
    path = storage.experiment_path
    state_path = os.path.join(path, STATE_FILE)
    if not os.path.isfile(state_path) and not os.path.isfile(state_path + PREVIOUS):
        raise FileNotFoundError(
            f"Tuner.restore: {storage.location!r} holds no {STATE_FILE}; pass the experiment "
            "directory (<storage_path>/<name>) of an experiment that was started with Tuner.fit()"
        )
    try:
        state, source = read_with_fallback(state_path, decode)
    except ValueError as exc:
        raise ValueError(f"Tuner.restore: {exc}") from None
    if source != state_path:
        print(f"caliper: {state_path} could not be read; restoring from {source}")
    tuner_file = os.path.join(path, TUNER_FILE)
    parts = _read_pickle(tuner_file) or {}
    saved_space = _load(parts.get("param_space"))
    tune_config = _load(parts.get("tune_config"))
    run_config = _load(parts.get("run_config"))
    if param_space is None and saved_space is None:
        raise ValueError(
            f"Tuner.restore: the search space of {storage.location!r} could not be saved; pass "
            "it again with param_space="
        )
    storage_path, filesystem = storage.parent_location
    where = {"storage_path": storage_path, "name": storage.name, "storage_filesystem": filesystem}
    if run_config is not None:
        import dataclasses

        run_config = dataclasses.replace(run_config, **where)
    else:
        from caliper.tune.config import RunConfig

        run_config = RunConfig(**where)
    tuner = cls(
        trainable,
        param_space=param_space if param_space is not None else saved_space,
        tune_config=tune_config,
        run_config=run_config,
        _storage=storage,
    )
    trials = [trial_from_dict(t) for t in state["trials"]]
    storage.drop_unnamed(
        {f"{t.dirname}/{os.path.basename(c['path'])}" for t in trials for c in t.checkpoints}
    )
    ended, revived = [], []
    for trial in trials:
        finished, errored = trial.is_finished, trial.status is TrialStatus.ERROR
        _reset(trial, resume_unfinished, resume_errored, restart_errored)
        if trial.is_finished and not finished:
            ended.append(trial.trial_id)  # the searcher and the scheduler hear of it
        if errored and not trial.is_finished:
            revived.append(trial.trial_id)  # the scheduler takes it again
    tuner._restored = {
        "trials": trials,
        "searcher_state": read_part(path, SEARCHER_FILE, state),
        "scheduler_state": read_part(path, SCHEDULER_FILE, state),
        "start_time": state.get("start_time"),
        "ended": ended,
        "revived": revived,
    }
    return tuner


def relocate(trial: Trial, storage: Storage) -> None:
    """Point a restored trial's paths into ``storage``: the directory may have been moved or
    copied since, and only this experiment's own checkpoint copies may be used."""
    if trial.dirname:
        trial.path = storage.path(trial.dirname)
    for entry in trial.checkpoints:
        entry["path"] = os.path.join(trial.path, os.path.basename(entry["path"]))
    trial.checkpoints = [e for e in trial.checkpoints if storage.checkpoint_exists(e["path"])]
    if trial.restore_path is not None:
        trial.restore_path = trial.checkpoint_path
    if trial.error_file:
        trial.error_file = os.path.join(trial.path, os.path.basename(trial.error_file))


def _reset(trial: Trial, resume_unfinished: bool, resume_errored: bool, restart: bool) -> None:
    """The status a trial of a restored experiment starts with."""
    status = trial.status
    if status is TrialStatus.ERROR:
        if restart:
            trial.status, trial.restore_path = TrialStatus.PENDING, None
            trial.checkpoints, trial.last_result, trial.num_failures = [], {}, 0
            trial.metric_stats, trial.num_results = {}, 0
            trial.error_msg = trial.error_file = None
        elif resume_errored:
            trial.status, trial.restore_path = TrialStatus.PENDING, trial.checkpoint_path
            trial.error_msg = trial.error_file = None
    elif status is not TrialStatus.TERMINATED:
        if resume_unfinished:  # a trial a scheduler paused stays paused until it is chosen
            paused = status is TrialStatus.PAUSED
            trial.status = TrialStatus.PAUSED if paused else TrialStatus.PENDING
            trial.restore_path = trial.checkpoint_path
        else:
            trial.status = TrialStatus.TERMINATED
    if trial.restore_path is None and trial.status is TrialStatus.PENDING:
        trial.last_result, trial.metric_stats, trial.num_results = {}, {}, 0  # from scratch
