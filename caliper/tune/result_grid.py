"""``ResultGrid``: every trial's :class:`~caliper.tune.result.Result`, what ``Tuner.fit()``
returns (Ray Tune's names and behaviour).

``ResultGrid.from_path(path)`` reads a finished, interrupted or running experiment from its
``experiment_state.json`` alone: no trainable, no unpickling. The choice of the best trial
(:func:`select_best_trial`) and the per-trial table (:func:`trials_dataframe`) are plain
functions over trials, shared with the legacy ``ExperimentAnalysis``.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from caliper.tune.experiment_state import STATE_FILE, decode, trial_from_dict
from caliper.tune.logger.logger import flatten_dict
from caliper.tune.pareto import check_objectives, pareto_front
from caliper.tune.result import MODES, Result, check_mode, read_metrics_dataframe
from caliper.tune.storage import PREVIOUS, Storage, is_uri, read_with_fallback
from caliper.tune.trial import Trial, TrialStatus

if TYPE_CHECKING:
    import pandas as pd

    from caliper.tune.errors import TrialError

SCOPES = ("last", "avg", "last-5-avg", "last-10-avg", "all")


def check_scope(scope: str) -> None:
    """Raise ``ValueError`` unless ``scope`` is one of :data:`SCOPES`."""
    if scope not in SCOPES:
        raise ValueError(
            f"scope must be one of {', '.join(SCOPES)}, got {scope!r} (e.g. scope='last-5-avg' "
            "compares each trial's average over its last 5 results)"
        )


def trial_figure(trial: Trial, metric: str, figure: str) -> float | None:
    """One running figure of a trial's metric, or ``None`` if the trial has none.

    Args:
        trial: the trial.
        metric: the metric.
        figure: ``"last"``, ``"min"``, ``"max"``, ``"avg"``, ``"last-5-avg"`` or
            ``"last-10-avg"``.

    Running figures are kept for the numbers a trial reports at the top level of its results;
    for anything else in its last result (Ray's automatic fields such as
    ``training_iteration``, nested values named ``"a/b"``) only figure ``"last"`` is known.
    """
    stats = trial.metric_stats.get(metric)
    if stats is not None:
        return stats.as_dict().get(figure, math.nan)
    if figure != "last":
        return None
    value = trial.last_result.get(metric)
    if value is None and "/" in metric:
        value = flatten_dict(trial.last_result).get(metric)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def select_best_trial(
    trials: Sequence[Trial],
    metric: str,
    mode: str,
    scope: str = "last",
    filter_nan_and_inf: bool = True,
) -> Trial | None:
    """The trial with the best ``metric``, compared by its running figures.

    Args:
        trials: the trials to compare.
        metric: the metric (see :func:`trial_figure` for what is known of which metrics).
        mode: ``"min"`` or ``"max"``.
        scope: which figure of each trial to compare: ``"last"`` (its last value), ``"avg"``
            (mean of all), ``"last-5-avg"``, ``"last-10-avg"``, or ``"all"`` (its best value
            ever: the minimum for ``mode="min"``, the maximum for ``mode="max"``).
        filter_nan_and_inf: skip trials whose figure is NaN or infinite.

    Returns:
        The best trial (the first one on a tie), or ``None`` if no trial has a figure for
        ``metric`` (see :func:`no_best_trial_reason`).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'min' or 'max' (e.g. mode='min'), got {mode!r}")
    check_scope(scope)
    figure = mode if scope == "all" else scope
    best, best_score = None, math.nan
    for trial in trials:
        score = trial_figure(trial, metric, figure)
        if score is None or (filter_nan_and_inf and not math.isfinite(score)):
            continue
        if best is None or (score > best_score if mode == "max" else score < best_score):
            best, best_score = trial, score
    return best


def reported_metrics(trials: Sequence[Trial]) -> list[str]:
    """The metrics any of ``trials`` reported (those with running figures), sorted."""
    return sorted({key for trial in trials for key in trial.metric_stats})


def no_best_trial_reason(
    trials: Sequence[Trial], metric: str, mode: str, scope: str, filter_nan_and_inf: bool
) -> str:
    """Why :func:`select_best_trial` found no trial, in words for an error message."""
    if not trials:
        return "The experiment has no trials."
    figure = mode if scope == "all" else scope
    if all(trial_figure(trial, metric, figure) is None for trial in trials):
        if any(trial_figure(trial, metric, "last") is not None for trial in trials):
            return (
                f"Only the last value of {metric!r} is kept (running figures are kept for the "
                "numbers trials report at the top level of their results), so compare it with "
                "scope='last'."
            )
        known = ", ".join(repr(m) for m in reported_metrics(trials)) or "none yet"
        return f"No trial reported the metric {metric!r}. The metrics the trials reported: {known}."
    reason = f"No trial has a {scope!r} value of {metric!r} to compare"
    if filter_nan_and_inf:
        reason += (
            ": every one is NaN or infinite. Pass filter_nan_and_inf=False to compare them anyway"
        )
    return reason + "."


def _best_row(trial: Trial, metric: str, mode: str) -> dict | None:
    """The reported result (a row of the trial's files) with the best ``metric``."""
    import pandas as pd

    frame = read_metrics_dataframe(trial.path, column=metric)
    if frame is None or metric not in frame.columns:
        return None
    values = pd.to_numeric(frame[metric], errors="coerce").reset_index(drop=True)
    if not values.notna().any():
        return None
    position = values.idxmax() if mode == "max" else values.idxmin()
    return frame.iloc[int(position)].to_dict()


def trials_dataframe(
    trials: Sequence[Trial],
    metric: str | None = None,
    mode: str | None = None,
    names: tuple[str, str] = ("metric", "mode"),
) -> pd.DataFrame:
    """One row per trial: its result flattened to ``"a/b"`` columns, ``config/<key>``
    columns, ``trial_id`` and ``logdir`` (the trial directory).

    The result is the trial's last one; with ``metric`` and ``mode``, it is the reported result
    with the lowest/highest ``metric``, read from the trial's ``progress.csv``/``result.json``
    (the last result when the files do not have the metric). As in Ray, ``metric`` without
    ``mode`` keeps the last result.

    Args:
        trials: the trials.
        metric: the metric whose best result is each trial's row.
        mode: ``"min"`` or ``"max"``.
        names: the caller's names of ``metric`` and ``mode``, for error messages.
    """
    check_mode(mode, names[1])
    if mode is not None and metric is None:
        raise ValueError(f"{names[1]}={mode!r} needs {names[0]} too (e.g. {names[0]}='loss')")
    import pandas as pd

    rows = []
    for trial in trials:
        row = _best_row(trial, metric, mode) if metric is not None and mode is not None else None
        if row is None:
            row = flatten_dict(trial.last_result)
        row["trial_id"] = trial.trial_id
        row.update(flatten_dict(trial.config, prefix="config/"))
        row["logdir"] = trial.path
        rows.append(row)
    return pd.DataFrame(rows)


def _moved(path: str | None, old: str, new: str) -> str | None:
    if path and (path == old or path.startswith(old + os.sep)):
        return new + path[len(old) :]
    return path


def load_experiment(
    path: str | os.PathLike, storage_filesystem: object = None
) -> tuple[list[Trial], str, str | None, str | None]:
    """The trials of the experiment in ``path``, read from its ``experiment_state.json``.

    Args:
        path: the experiment directory (``<storage_path>/<name>``) or its
            ``experiment_state.json``; or a URI (``s3://bucket/prefix/name``) or a path
            inside ``storage_filesystem``, whose files (not its checkpoints) are downloaded
            into a local copy (see :func:`open_remote_experiment`).
        storage_filesystem: a ``pyarrow.fs.FileSystem`` that holds ``path``.

    Returns:
        ``(trials, experiment_path, metric, mode)``. When the directory was moved or copied
        since it was written, the trials' paths (directories, checkpoints, error files) point
        into ``path``.

    Raises:
        FileNotFoundError: ``path`` holds no ``experiment_state.json``.
        ValueError: the file is not valid experiment state.
    """
    path = os.fspath(path)
    if storage_filesystem is not None or is_uri(path):
        local = open_remote_experiment(path, storage_filesystem).experiment_path
        loaded = load_experiment(local)
        if is_uri(path):  # checkpoints by URI: Checkpoint(entry["path"]) downloads them
            _checkpoints_at(loaded[0], local, path.removesuffix("/" + STATE_FILE))
        return loaded
    path = os.path.abspath(os.path.expanduser(path))
    if os.path.basename(path) == STATE_FILE or (path.endswith(".json") and os.path.isfile(path)):
        path, name = os.path.split(path)
    else:
        name = STATE_FILE
    storage = Storage(os.path.dirname(path), os.path.basename(path))
    if not storage.exists(name) and not storage.exists(name + PREVIOUS):
        raise FileNotFoundError(
            f"No {name} in {path!r}: pass an experiment directory, <storage_path>/<name> "
            "(e.g. '~/caliper_results/exp')"
        )
    state, _ = read_with_fallback(storage.path(name), decode)  # ValueError names the file
    trials = [trial_from_dict(entry) for entry in state.get("trials", [])]
    old = os.path.normpath(state.get("experiment_path") or path)
    if old != path:
        for trial in trials:
            trial.path = _moved(trial.path, old, path) or ""
            trial.error_file = _moved(trial.error_file, old, path)
            trial.restore_path = _moved(trial.restore_path, old, path)
            trial.checkpoints = [
                {**entry, "path": _moved(entry["path"], old, path)} for entry in trial.checkpoints
            ]
    return trials, path, state.get("metric"), state.get("mode")


def _checkpoints_at(trials: list[Trial], local: str, uri: str) -> None:
    """Point the trials' checkpoint paths (in the local copy ``local``) at experiment ``uri``."""
    from caliper.tune.remote_files import uri_join

    def moved(entry_path: str | None) -> str | None:
        if not entry_path or not entry_path.startswith(local + os.sep):
            return entry_path
        return uri_join(uri, *os.path.relpath(entry_path, local).split(os.sep))

    for trial in trials:
        trial.restore_path = moved(trial.restore_path)
        trial.checkpoints = [{**e, "path": moved(e["path"])} for e in trial.checkpoints]


def open_remote_experiment(path: str, storage_filesystem: object = None) -> Storage:
    """The remote experiment ``path`` with its files (not its checkpoints) downloaded into a
    local copy kept per location (a ``RemoteStorage``, which knows where its checkpoints are)."""
    from caliper.tune.remote_storage import open_experiment

    path = path.removesuffix("/" + STATE_FILE)
    return open_experiment(path, storage_filesystem, driver=False)


class ResultGrid:
    """The :class:`~caliper.tune.result.Result` of every trial of an experiment.

    ``Tuner.fit()`` returns one; ``ResultGrid.from_path`` reads one from disk. Index it,
    iterate over it, or ask for the best result::

        best = results.get_best_result(metric="loss", mode="min")
        best.config, best.metrics["loss"], best.checkpoint
        results.get_dataframe()[["loss", "config/lr"]]

    Trials of every status are included; a trial that is not finished shows its latest result
    and checkpoint.

    Args:
        trials: the experiment's trials.
        experiment_path: the experiment directory.
        metric: the experiment's metric (``TuneConfig(metric=...)``), the default of
            :meth:`get_best_result`.
        mode: the experiment's mode, ``"min"``, ``"max"`` or ``None``.
        storage: the experiment's ``Storage`` when it is remote: the results' checkpoints are
            then on it (``Checkpoint.filesystem``), downloaded by ``as_directory()``.
    """

    def __init__(
        self,
        trials: Sequence[Trial],
        experiment_path: str | os.PathLike,
        metric: str | None = None,
        mode: str | None = None,
        storage: Storage | None = None,
    ) -> None:
        check_mode(mode)
        if metric is not None and not isinstance(metric, str):
            raise TypeError(f"metric must be a str or None, got {type(metric).__name__}")
        self._trials = list(trials)
        self._experiment_path = os.fspath(experiment_path)
        self._metric = metric
        self._mode = mode
        self._storage = storage if storage is not None and storage.remote else None
        self._results: list[Result | None] = [None] * len(self._trials)

    @classmethod
    def from_path(cls, path: str | os.PathLike, storage_filesystem: object = None) -> ResultGrid:
        """The results of the experiment in directory ``path`` (or its
        ``experiment_state.json``), read without unpickling anything. ``path`` may be a URI
        (``"s3://bucket/prefix/name"``) or a path inside ``storage_filesystem`` (a
        ``pyarrow.fs.FileSystem``): its files are downloaded, its checkpoints stay there."""
        path = os.fspath(path)
        if storage_filesystem is not None or is_uri(path):
            storage = open_remote_experiment(path, storage_filesystem)
            trials, experiment_path, metric, mode = load_experiment(storage.experiment_path)
            return cls(trials, experiment_path, metric, mode, storage=storage)
        trials, experiment_path, metric, mode = load_experiment(path)
        return cls(trials, experiment_path, metric, mode)

    @property
    def experiment_path(self) -> str:
        """The experiment directory."""
        return self._experiment_path

    def get_best_result(
        self,
        metric: str | None = None,
        mode: str | None = None,
        scope: str = "last",
        filter_nan_and_inf: bool = True,
    ) -> Result:
        """The result of the best trial.

        With a single trial, that trial's result (whatever it reported, as in Ray).

        Args:
            metric: the metric to compare; defaults to the experiment's.
            mode: ``"min"`` or ``"max"``; defaults to the experiment's.
            scope: ``"last"``, ``"avg"``, ``"last-5-avg"``, ``"last-10-avg"`` or ``"all"``
                (see :func:`select_best_trial`).
            filter_nan_and_inf: never choose a trial whose value is NaN or infinite.

        Raises:
            ValueError: no metric or mode is given or set for the experiment, a bad mode or
                scope, or no trial has a value of ``metric`` to compare.
        """
        check_mode(mode)
        check_scope(scope)
        if len(self._trials) == 1:
            return self[0]
        metric = metric or self._metric
        if not metric:
            raise ValueError(
                "get_best_result needs a metric: pass metric=... (e.g. metric='loss', "
                "mode='min') or set TuneConfig(metric=..., mode=...) for the experiment"
            )
        mode = mode or self._mode
        if not mode:
            raise ValueError(
                "get_best_result needs a mode: pass mode='min' or mode='max', or set "
                "TuneConfig(mode=...) for the experiment"
            )
        best = select_best_trial(self._trials, metric, mode, scope, filter_nan_and_inf)
        if best is None:
            raise ValueError(
                no_best_trial_reason(self._trials, metric, mode, scope, filter_nan_and_inf)
            )
        return self[next(i for i, trial in enumerate(self._trials) if trial is best)]

    def get_pareto_front(self, metric: list[str], mode: list[str]) -> list[Result]:
        """The results no other result beats in every metric (several objectives, e.g. an
        ``OptunaSearch(metric=[...], mode=[...])``), compared by each trial's last values.

        Args:
            metric: the metrics, e.g. ``["loss", "latency"]``.
            mode: ``"min"`` or ``"max"`` for each metric.

        Trials without a finite last value of every metric are left out.
        """
        metrics, modes = check_objectives(metric, mode)
        indices, points = [], []
        for i, trial in enumerate(self._trials):
            values = [trial_figure(trial, m, "last") for m in metrics]
            if all(v is not None and math.isfinite(v) for v in values):
                indices.append(i)
                points.append(values)
        return [self[indices[k]] for k in pareto_front(points, modes)]

    def get_dataframe(
        self, filter_metric: str | None = None, filter_mode: str | None = None
    ) -> pd.DataFrame:
        """A DataFrame with one row per trial: its last result (``"a/b"`` columns for nested
        values), ``config/<key>`` columns, ``trial_id`` and ``logdir``.

        Args:
            filter_metric: with ``filter_mode``, each trial's row is the result, of all it
                reported, with the lowest/highest ``filter_metric``.
            filter_mode: ``"min"`` or ``"max"``.
        """
        return trials_dataframe(
            self._trials, filter_metric, filter_mode, names=("filter_metric", "filter_mode")
        )

    @property
    def errors(self) -> list[TrialError]:
        """The errors of the trials that failed (status ``ERROR``)."""
        return [result.error for result in self if result.error is not None]

    @property
    def num_errors(self) -> int:
        """How many trials ended in ``ERROR``."""
        return sum(trial.status is TrialStatus.ERROR for trial in self._trials)

    @property
    def num_terminated(self) -> int:
        """How many trials ended without an error (``TERMINATED``)."""
        return sum(trial.status is TrialStatus.TERMINATED for trial in self._trials)

    def __len__(self) -> int:
        return len(self._trials)

    def __getitem__(self, index: int) -> Result:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"ResultGrid indices must be integers, got {type(index).__name__}")
        result = self._results[index]
        if result is None:
            result = self._results[index] = Result.from_trial(self._trials[index])
            if self._storage is not None:  # the checkpoints are on the remote storage
                on = self._storage.checkpoint
                if result.checkpoint is not None:
                    result.checkpoint = on(result.checkpoint.path)
                result.best_checkpoints = [(on(c.path), m) for c, m in result.best_checkpoints]
        return result

    def __iter__(self) -> Iterator[Result]:
        for index in range(len(self._trials)):
            yield self[index]

    def __repr__(self) -> str:
        inner = ",\n".join(result._repr(indent=2) for result in self)
        return f"ResultGrid<[\n{inner}\n]>"
