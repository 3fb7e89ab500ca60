"""``Result``: what one trial ended with, as Ray Tune's ``Result`` (``ResultGrid[i]``,
``ResultGrid.get_best_result()``).

Everything comes from the trial's plain data (``experiment_state.json`` holds it) and its files;
nothing is unpickled. pandas is imported only when a DataFrame is asked for.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from caliper.tune.checkpoint import Checkpoint
from caliper.tune.errors import TrialError
from caliper.tune.logger.csv import PROGRESS_FILE
from caliper.tune.logger.json import RESULT_FILE, read_results
from caliper.tune.logger.logger import flatten_dict
from caliper.tune.trial import Trial, TrialStatus

if TYPE_CHECKING:
    import pandas as pd

MODES = ("min", "max")

# Keys every result carries that Ray's ``Result.__repr__`` leaves out of ``metrics``.
_HIDDEN_IN_REPR = frozenset(
    {
        "config",
        "date",
        "done",
        "experiment_id",
        "experiment_tag",
        "hostname",
        "iterations_since_restore",
        "node_ip",
        "pid",
        "should_checkpoint",
        "time_since_restore",
        "time_this_iter_s",
        "time_total_s",
        "timestamp",
        "timesteps_since_restore",
        "training_iteration",
        "trial_id",
        "warmup_time",
    }
)

_UNREAD: Any = object()  # metrics_dataframe not read yet


def check_mode(mode: str | None, argument: str = "mode") -> None:
    """Raise ``ValueError`` unless ``mode`` is ``None``, ``"min"`` or ``"max"``."""
    if mode is not None and mode not in MODES:
        raise ValueError(f"{argument} must be 'min' or 'max' (e.g. {argument}='min'), got {mode!r}")


def read_metrics_dataframe(
    trial_path: str | None, column: str | None = None
) -> pd.DataFrame | None:
    """Every result of the trial in ``trial_path``, one row each, as a pandas DataFrame.

    Reads ``progress.csv``, or ``result.json`` (one JSON object per line, nested values
    flattened to ``"a/b"`` columns) when there is no CSV.

    Args:
        trial_path: the trial's directory.
        column: a column the caller needs; the CSV's columns are fixed by the trial's first
            result, so when the CSV lacks ``column``, ``result.json`` is read instead.

    Returns:
        The DataFrame (empty if the trial has reported nothing yet), or ``None`` if the
        directory holds neither file.
    """
    if not trial_path:
        return None
    import pandas as pd

    csv_path = os.path.join(trial_path, PROGRESS_FILE)
    json_path = os.path.join(trial_path, RESULT_FILE)
    frame = None
    if os.path.isfile(csv_path):
        try:
            frame = pd.read_csv(csv_path, dtype={"trial_id": str})
        except pd.errors.EmptyDataError:  # created at trial start, no result yet
            frame = pd.DataFrame()
        if column is None or column in frame.columns or not os.path.isfile(json_path):
            return frame
    if os.path.isfile(json_path):
        rows = read_results(json_path)
        return pd.json_normalize(rows, sep="/") if rows else pd.DataFrame()
    return frame


def trial_error(trial: Trial) -> TrialError | None:
    """The error of a trial that ended in ``ERROR`` (``None`` for any other status).

    The message is the trial's ``error_file`` (the traceback) if it can be read, else the
    ``error_msg`` kept in the experiment state.
    """
    if trial.status is not TrialStatus.ERROR:
        return None
    text = None
    if trial.error_file:
        try:
            with open(trial.error_file, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            text = None
    message = text or trial.error_msg or f"Trial {trial.trial_id} failed (no error text was kept)"
    return TrialError(trial.trial_id, message, trial.error_file)


def pick_best_checkpoint(
    checkpoints: Iterable[tuple[Checkpoint, Mapping]], metric: str, mode: str
) -> Checkpoint | None:
    """The checkpoint whose metrics have the lowest (``mode="min"``) or highest ``metric``.

    ``metric`` may name a nested value as ``"a/b"``. Checkpoints without a numeric, non-NaN
    value of ``metric`` are skipped; on a tie the earlier checkpoint wins.

    Returns:
        The best checkpoint, or ``None`` if none has a value of ``metric``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'min' or 'max' (e.g. mode='min'), got {mode!r}")
    best, best_value = None, None
    for checkpoint, metrics in checkpoints:
        value = metrics.get(metric)
        if value is None and "/" in metric:
            value = flatten_dict(metrics).get(metric)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
            continue
        if best is None or (value > best_value if mode == "max" else value < best_value):
            best, best_value = checkpoint, value
    return best


class Result:
    """One trial's outcome: its last metrics, config, checkpoints and error.

    The constructor is for caliper itself; users get Results from a ``ResultGrid``.

    Args:
        metrics: the last result the trial reported.
        checkpoint: the trial's newest checkpoint, or ``None``.
        error: a :class:`~caliper.tune.errors.TrialError` if the trial failed, else ``None``.
        path: the trial's directory.
        metrics_dataframe: every reported result as a DataFrame; when not given it is read
            from ``path`` (``progress.csv`` or ``result.json``) the first time it is used.
        best_checkpoints: ``(Checkpoint, metrics)`` for each checkpoint the trial kept,
            oldest first.
        config: the trial's config (defaults to ``metrics["config"]`` when the result holds
            one, as Ray's results do).
    """

    def __init__(
        self,
        metrics: dict[str, Any] | None,
        checkpoint: Checkpoint | None,
        error: Exception | None,
        path: str | None,
        metrics_dataframe: pd.DataFrame | None = None,
        best_checkpoints: list[tuple[Checkpoint, dict[str, Any]]] | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.metrics: dict[str, Any] = dict(metrics or {})
        self.checkpoint = checkpoint
        self.error = error
        self.path = path
        self.best_checkpoints: list[tuple[Checkpoint, dict[str, Any]]] = list(
            best_checkpoints or []
        )
        if config is None:
            nested = self.metrics.get("config")
            config = dict(nested) if isinstance(nested, Mapping) else {}
        self.config: dict[str, Any] = config
        self._metrics_dataframe = _UNREAD if metrics_dataframe is None else metrics_dataframe

    @classmethod
    def from_trial(cls, trial: Trial) -> Result:
        """The Result of ``trial`` (its files are read only when a DataFrame is asked for)."""
        return cls(
            metrics=dict(trial.last_result),
            checkpoint=Checkpoint(trial.checkpoints[-1]["path"]) if trial.checkpoints else None,
            error=trial_error(trial),
            path=trial.path or None,
            best_checkpoints=[
                (Checkpoint(entry["path"]), dict(entry.get("metrics") or {}))
                for entry in trial.checkpoints
            ],
            config=dict(trial.config),
        )

    @property
    def metrics_dataframe(self) -> pd.DataFrame | None:
        """Every result the trial reported, one row each (``None`` if no file holds them)."""
        if self._metrics_dataframe is _UNREAD:
            self._metrics_dataframe = read_metrics_dataframe(self.path)
        return self._metrics_dataframe

    def get_best_checkpoint(self, metric: str, mode: str) -> Checkpoint | None:
        """The checkpoint among :attr:`best_checkpoints` with the best ``metric``.

        Args:
            metric: a key of the metrics reported with the checkpoints (``"a/b"`` for nested).
            mode: ``"min"`` or ``"max"``.

        Raises:
            ValueError: ``mode`` is not min/max, or no checkpoint has a value of ``metric``
                (the message lists the metrics the checkpoints have).
        """
        best = pick_best_checkpoint(self.best_checkpoints, metric, mode)
        if best is None:
            known = sorted({k for _, m in self.best_checkpoints for k in flatten_dict(m)})
            raise ValueError(
                f"No checkpoint of this result has a numeric value of {metric!r}; "
                f"the checkpoints' metrics are: {', '.join(known) or 'none (no checkpoints)'}"
            )
        return best

    def _repr(self, indent: int = 0) -> str:
        shown: dict[str, Any] = {}
        if self.error is not None:
            shown["error"] = type(self.error).__name__
        shown["metrics"] = {k: v for k, v in self.metrics.items() if k not in _HIDDEN_IN_REPR}
        shown["path"] = self.path
        shown["checkpoint"] = self.checkpoint
        outer, inner = " " * indent, " " * (indent + 2)
        fields = ",\n".join(f"{inner}{key}={value!r}" for key, value in shown.items())
        return f"{outer}{type(self).__name__}(\n{fields}\n{outer})"

    def __repr__(self) -> str:
        return self._repr()

    def _key(self) -> tuple:
        error = None if self.error is None else (type(self.error), str(self.error))
        return (self.metrics, self.config, self.path, self.checkpoint, self.best_checkpoints, error)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Result):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # mutable, as a dataclass with eq
