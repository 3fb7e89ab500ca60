"""``experiment_state.json``: every trial of an experiment as plain JSON, readable without the
trainable and without unpickling (``ResultGrid`` from a path, restore).

Layout (``FORMAT`` 1)::

    {"format": 1, "name": str, "experiment_path": str, "status": "RUNNING" | "FINISHED" |
     "INTERRUPTED" | "ERROR", "start_time": float, "timestamp": float, "metric": str | None,
     "mode": "min" | "max" | None, "trials": [trial_to_dict(trial), ...],
     "parts": {"searcher_state.pkl": version | None, "scheduler_state.pkl": version | None}}
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Callable, Mapping

from caliper.tune.storage import dumps_json_bytes
from caliper.tune.trainable_wrappers import PlacementGroupFactory
from caliper.tune.trial import MetricStats, Trial, TrialStatus

FORMAT = 1
STATE_FILE = "experiment_state.json"


class ExperimentStatus(str, enum.Enum):
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    INTERRUPTED = "INTERRUPTED"
    ERROR = "ERROR"


def trial_to_dict(trial: Trial) -> dict:
    return {
        "trial_id": trial.trial_id,
        "dirname": trial.dirname,
        "name": trial.name,
        "path": trial.path,
        "experiment_tag": trial.experiment_tag,
        "config": trial.config,  # orjson writes it; what JSON cannot hold becomes its repr
        "status": trial.status.value,
        "last_result": trial.last_result,
        "metric_stats": trial.stats_dict(),
        "num_results": trial.num_results,
        "num_failures": trial.num_failures,
        "error_msg": trial.error_msg,
        "error_file": trial.error_file,
        "checkpoints": trial.checkpoints,
        "resources": {"bundles": trial.resources.bundles, "strategy": trial.resources.strategy},
    }


def trial_from_dict(data: Mapping) -> Trial:
    resources = data.get("resources") or {"bundles": [{"CPU": 1}], "strategy": "PACK"}
    trial = Trial(
        trial_id=data["trial_id"],
        config=dict(data.get("config") or {}),
        experiment_tag=data.get("experiment_tag", ""),
        resources=PlacementGroupFactory(resources["bundles"], resources["strategy"]),
        path=data.get("path", ""),
        dirname=data.get("dirname", ""),
        name=data.get("name", ""),
        status=TrialStatus(data.get("status", "PENDING")),
        last_result=dict(data.get("last_result") or {}),
        num_results=data.get("num_results", 0),
        num_failures=data.get("num_failures", 0),
        error_msg=data.get("error_msg"),
        error_file=data.get("error_file"),
        checkpoints=list(data.get("checkpoints") or []),
    )
    for key, figures in (data.get("metric_stats") or {}).items():
        trial.metric_stats[key] = MetricStats.from_figures(figures)
    return trial


def state_dict(
    *,
    name: str,
    experiment_path: str,
    status: ExperimentStatus,
    start_time: float,
    timestamp: float,
    metric: str | None,
    mode: str | None,
    trials: list[Trial],
    to_dict: Callable[[Trial], dict] = trial_to_dict,
) -> dict:
    """The state file's content; ``to_dict`` gives each trial's entry (e.g. from a cache of
    :func:`trial_to_dict` for trials that cannot change any more)."""
    return {
        "format": FORMAT,
        "name": name,
        "experiment_path": experiment_path,
        "status": status.value,
        "start_time": start_time,
        "timestamp": timestamp,
        "metric": metric,
        "mode": mode,
        "trials": [to_dict(t) for t in trials],
    }


def encode(state: dict) -> bytes:
    return dumps_json_bytes(state, indent=True)


def decode(text: str | bytes) -> dict:
    state = json.loads(text)
    if not isinstance(state, dict) or not isinstance(state.get("trials"), list):
        raise ValueError(f"{STATE_FILE} does not hold an experiment state")
    found = state.get("format")
    if found != FORMAT:
        newer = isinstance(found, int) and found > FORMAT
        hint = "; upgrade caliper to read it" if newer else ""
        raise ValueError(
            f"{STATE_FILE} has format {found!r}; this caliper reads format {FORMAT}{hint}"
        )
    return state


def read_status(experiment_path: str) -> ExperimentStatus | None:
    """The status an experiment directory's state file records (``None`` if unreadable)."""
    try:
        with open(os.path.join(experiment_path, STATE_FILE), encoding="utf-8") as f:
            return ExperimentStatus(json.load(f).get("status"))
    except (OSError, ValueError):
        return None
