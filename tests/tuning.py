"""What the tuning tests share: a Tuner with test defaults, and readers of the files an
experiment writes."""

from __future__ import annotations

import csv
import json
import os

from caliper import tune
from caliper.tune.experiment_state import STATE_FILE, ExperimentStatus, encode, state_dict


def tuner(trainable, tmp_path, *, name="exp", param_space=None, tune_config=None, **run):
    """A Tuner writing under ``tmp_path``, silent unless ``verbose`` is given."""
    run.setdefault("verbose", 0)
    return tune.Tuner(
        trainable,
        param_space=param_space or {},
        tune_config=tune_config,
        run_config=tune.RunConfig(name=name, storage_path=str(tmp_path), **run),
    )


def read_lines(trial_dir) -> list[dict]:
    """The results in a trial's ``result.json``."""
    with open(os.path.join(trial_dir, "result.json"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_state(experiment_path) -> dict:
    """An experiment's ``experiment_state.json``."""
    with open(os.path.join(experiment_path, STATE_FILE), encoding="utf-8") as f:
        return json.load(f)


def iterations(trial_dir) -> tuple[list[int], list[int]]:
    """The ``training_iteration`` of each line of ``result.json`` and row of
    ``progress.csv``."""
    from_json = [line["training_iteration"] for line in read_lines(trial_dir)]
    with open(os.path.join(trial_dir, "progress.csv"), encoding="utf-8") as f:
        from_csv = [int(row["training_iteration"]) for row in csv.DictReader(f)]
    return from_json, from_csv


def save_state(root, trials, metric=None, mode=None) -> str:
    """Write ``experiment_state.json`` for ``trials`` in directory ``root``; returns it."""
    state = state_dict(
        name=os.path.basename(str(root)),
        experiment_path=str(root),
        status=ExperimentStatus.FINISHED,
        start_time=0.0,
        timestamp=0.0,
        metric=metric,
        mode=mode,
        trials=trials,
    )
    with open(os.path.join(root, STATE_FILE), "wb") as f:
        f.write(encode(state))
    return str(root)
