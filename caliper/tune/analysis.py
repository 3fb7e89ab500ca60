"""``ExperimentAnalysis``: what the legacy ``tune.run`` returns (Ray Tune's names and behaviour),
also built from an experiment directory: ``ExperimentAnalysis("~/caliper_results/exp")``.

The best trial is chosen by the same function as ``ResultGrid.get_best_result``
(:func:`~caliper.tune.result_grid.select_best_trial`); the tables come from
:func:`~caliper.tune.result_grid.trials_dataframe`. pandas is imported only when a DataFrame is
asked for.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from caliper.tune.checkpoint import Checkpoint
from caliper.tune.logger.logger import flatten_dict
from caliper.tune.result import check_mode, pick_best_checkpoint, read_metrics_dataframe
from caliper.tune.result_grid import (
    check_scope,
    load_experiment,
    no_best_trial_reason,
    select_best_trial,
    trials_dataframe,
)
from caliper.tune.trial import Trial

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


def _key(trial: Trial) -> str:
    """A trial's key in the dicts keyed by trial directory (its id while it has none)."""
    return trial.path or trial.trial_id


def _results_frame(results: list[dict]) -> pd.DataFrame:
    import pandas as pd

    if not results:
        return pd.DataFrame(index=pd.Index([], name="trial_id"))
    return pd.DataFrame.from_records(results, index="trial_id")


class ExperimentAnalysis:
    """The trials of an experiment, their results and the best of them.

    Args:
        experiment_checkpoint_path: the experiment directory (``<storage_path>/<name>``) or its
            ``experiment_state.json``. Without ``trials``, the trials are read from there.
        trials: the experiment's trials (what ``tune.run`` passes).
        default_metric: the metric the ``best_*`` properties and the ``get_best_*`` methods
            compare (``tune.run(metric=...)``); read from the experiment when not given.
        default_mode: ``"min"`` or ``"max"`` (``tune.run(mode=...)``); read from the
            experiment when not given.
    """

    def __init__(
        self,
        experiment_checkpoint_path: str | os.PathLike,
        trials: Sequence[Trial] | None = None,
        default_metric: str | None = None,
        default_mode: str | None = None,
    ) -> None:
        check_mode(default_mode, "default_mode")
        if trials is None:
            trials, experiment_path, metric, mode = load_experiment(experiment_checkpoint_path)
            default_metric = default_metric or metric
            default_mode = default_mode or mode
        else:
            experiment_path = os.path.abspath(os.fspath(experiment_checkpoint_path))
        self.trials: list[Trial] = list(trials)
        self.default_metric = default_metric
        self.default_mode = default_mode
        self._experiment_path = experiment_path
        self._trial_dataframes: dict[str, pd.DataFrame] | None = None

    @property
    def experiment_path(self) -> str:
        """The experiment directory."""
        return self._experiment_path

    # -- the best trial ------------------------------------------------------------------------

    def _resolve(self, metric: str | None, mode: str | None) -> tuple[str, str]:
        check_mode(mode)
        metric = metric or self.default_metric
        if not metric:
            raise ValueError(
                "No `metric` was passed and no `default_metric` is set: pass metric=... "
                "(e.g. metric='loss', mode='min') or tune.run(..., metric=..., mode=...)"
            )
        mode = mode or self.default_mode
        if not mode:
            raise ValueError(
                "No `mode` was passed and no `default_mode` is set: pass mode='min' or "
                "mode='max', or tune.run(..., mode=...)"
            )
        return metric, mode

    def _best(
        self, metric: str | None, mode: str | None, scope: str, filter_nan_and_inf: bool
    ) -> tuple[Trial | None, str]:
        """The best trial (``None`` if none) and, when there is none, why."""
        check_mode(mode)
        check_scope(scope)
        if len(self.trials) == 1:  # as Ray: the only trial, whatever it reported
            return self.trials[0], ""
        metric, mode = self._resolve(metric, mode)
        best = select_best_trial(self.trials, metric, mode, scope, filter_nan_and_inf)
        if best is None:
            return None, no_best_trial_reason(self.trials, metric, mode, scope, filter_nan_and_inf)
        return best, ""

    def get_best_trial(
        self,
        metric: str | None = None,
        mode: str | None = None,
        scope: str = "last",
        filter_nan_and_inf: bool = True,
    ) -> Trial | None:
        """The trial with the best ``metric``.

        Args:
            metric: the metric to compare; defaults to ``default_metric``.
            mode: ``"min"`` or ``"max"``; defaults to ``default_mode``.
            scope: ``"last"``, ``"avg"``, ``"last-5-avg"``, ``"last-10-avg"`` or ``"all"``
                (see :func:`~caliper.tune.result_grid.select_best_trial`).
            filter_nan_and_inf: never choose a trial whose value is NaN or infinite.

        Returns:
            The best trial, or ``None`` (with a warning saying why) when no trial has a value
            of ``metric`` to compare, as in Ray.
        """
        best, reason = self._best(metric, mode, scope, filter_nan_and_inf)
        if best is None:
            logger.warning("Could not find the best trial. %s", reason)
        return best

    def get_best_config(
        self, metric: str | None = None, mode: str | None = None, scope: str = "last"
    ) -> dict | None:
        """The config of :meth:`get_best_trial` (``None`` if there is no best trial)."""
        best = self.get_best_trial(metric, mode, scope)
        return best.config if best is not None else None

    def get_best_logdir(
        self, metric: str | None = None, mode: str | None = None, scope: str = "last"
    ) -> str | None:
        """The directory of :meth:`get_best_trial` (``None`` if there is no best trial)."""
        best = self.get_best_trial(metric, mode, scope)
        return best.path if best is not None else None

    def get_best_checkpoint(
        self, trial: Trial | str, metric: str | None = None, mode: str | None = None
    ) -> Checkpoint | None:
        """The checkpoint of ``trial`` whose metrics have the best ``metric``.

        Args:
            trial: a trial of this experiment, or its directory or id.
            metric: defaults to ``default_metric``, else ``"training_iteration"``.
            mode: ``"min"`` or ``"max"``; defaults to ``default_mode``.

        Returns:
            The checkpoint, or ``None`` (with a warning) if no checkpoint of the trial has a
            value of ``metric``.
        """
        trial = self._find_trial(trial)
        metric = metric or self.default_metric or "training_iteration"
        _, mode = self._resolve(metric, mode)
        pairs = [(Checkpoint(e["path"]), e.get("metrics") or {}) for e in trial.checkpoints]
        best = pick_best_checkpoint(pairs, metric, mode)
        if best is None:
            logger.warning("No checkpoint of trial %s has a value of %r", trial.trial_id, metric)
        return best

    def get_last_checkpoint(
        self,
        trial: Trial | str | None = None,
        metric: str = "training_iteration",
        mode: str = "max",
    ) -> Checkpoint | None:
        """The checkpoint of ``trial`` (by default the best trial by ``metric`` and ``mode``)
        with the highest ``training_iteration``."""
        trial = trial if trial is not None else self.get_best_trial(metric, mode)
        if trial is None:
            return None
        return self.get_best_checkpoint(trial, "training_iteration", "max")

    def _find_trial(self, trial: Trial | str) -> Trial:
        if isinstance(trial, Trial):
            return trial
        if isinstance(trial, str | os.PathLike):
            wanted = os.fspath(trial)
            for candidate in self.trials:
                if wanted in (candidate.trial_id, candidate.path) or (
                    candidate.path and os.path.abspath(wanted) == candidate.path
                ):
                    return candidate
            raise ValueError(f"No trial of this experiment has the id or directory {wanted!r}")
        raise TypeError(f"trial must be a Trial or its directory, got {type(trial).__name__}")

    # -- the best_* properties (they need default_metric and default_mode) ---------------------

    def _defaults_required(self, name: str, alternative: str) -> None:
        missing = [
            arg
            for arg, value in (("metric", self.default_metric), ("mode", self.default_mode))
            if not value
        ]
        if missing:
            raise ValueError(
                f"To fetch `{name}`, pass `metric` and `mode` to `tune.run()` (not set: "
                f"{' and '.join(missing)}), or use `{alternative}` to pass them explicitly."
            )

    def _best_or_raise(self, name: str, alternative: str) -> Trial:
        self._defaults_required(name, alternative)
        best, reason = self._best(self.default_metric, self.default_mode, "last", True)
        if best is None:
            raise ValueError(f"`{name}`: there is no best trial. {reason}")
        return best

    @property
    def best_trial(self) -> Trial | None:
        """The best trial by the last value of ``default_metric`` (``None`` if none)."""
        self._defaults_required("best_trial", "get_best_trial(metric, mode)")
        return self.get_best_trial(self.default_metric, self.default_mode)

    @property
    def best_config(self) -> dict | None:
        """The config of :attr:`best_trial` (``None`` if there is no best trial)."""
        self._defaults_required("best_config", "get_best_config(metric, mode)")
        return self.get_best_config(self.default_metric, self.default_mode)

    @property
    def best_result(self) -> dict:
        """The last result of :attr:`best_trial`."""
        best = self._best_or_raise("best_result", "get_best_trial(metric, mode).last_result")
        return best.last_result

    @property
    def best_logdir(self) -> str:
        """The directory of :attr:`best_trial`."""
        return self._best_or_raise("best_logdir", "get_best_logdir(metric, mode)").path

    @property
    def best_checkpoint(self) -> Checkpoint | None:
        """The checkpoint of :attr:`best_trial` with the best ``default_metric``."""
        best = self._best_or_raise("best_checkpoint", "get_best_checkpoint(trial, metric, mode)")
        return self.get_best_checkpoint(best, self.default_metric, self.default_mode)

    @property
    def best_dataframe(self) -> pd.DataFrame:
        """Every result of :attr:`best_trial`, one row each."""
        best = self._best_or_raise("best_dataframe", "get_best_trial(metric, mode)")
        return self.trial_dataframes[_key(best)]

    @property
    def best_result_df(self) -> pd.DataFrame:
        """The last result of :attr:`best_trial` as a one-row DataFrame indexed by trial id."""
        best = self._best_or_raise("best_result_df", "get_best_trial(metric, mode).last_result")
        return _results_frame([{**flatten_dict(best.last_result), "trial_id": best.trial_id}])

    # -- every trial ---------------------------------------------------------------------------

    @property
    def results(self) -> dict[str, dict]:
        """The last result of every trial, by trial id."""
        return {trial.trial_id: trial.last_result for trial in self.trials}

    @property
    def results_df(self) -> pd.DataFrame:
        """The last result of every trial (``"a/b"`` columns for nested values), indexed by
        trial id."""
        return _results_frame(
            [{**flatten_dict(t.last_result), "trial_id": t.trial_id} for t in self.trials]
        )

    @property
    def trial_dataframes(self) -> dict[str, pd.DataFrame]:
        """Every result of every trial, one DataFrame per trial (empty if it has no result
        file), keyed by trial directory. Read on first use."""
        if self._trial_dataframes is None:
            import pandas as pd

            frames = {}
            for trial in self.trials:
                frame = read_metrics_dataframe(trial.path)
                frames[_key(trial)] = frame if frame is not None else pd.DataFrame()
            self._trial_dataframes = frames
        return self._trial_dataframes

    def dataframe(self, metric: str | None = None, mode: str | None = None) -> pd.DataFrame:
        """One row per trial: its last result, ``config/<key>`` columns, ``trial_id`` and
        ``logdir``.

        Args:
            metric: with ``mode``, each trial's row is the result, of all it reported, with the
                lowest/highest ``metric`` (not the defaults: Ray does not apply them here).
            mode: ``"min"`` or ``"max"``.
        """
        return trials_dataframe(self.trials, metric, mode)

    def get_all_configs(self, prefix: bool = False) -> dict[str, dict[str, Any]]:
        """Every trial's config, keyed by trial directory.

        Args:
            prefix: flatten each config to ``"config/<key>"`` entries (``"config/a/b"`` for
                nested values), as the DataFrame columns are named.
        """
        return {
            _key(trial): flatten_dict(trial.config, prefix="config/") if prefix else trial.config
            for trial in self.trials
        }

    def __repr__(self) -> str:
        return (
            f"ExperimentAnalysis({self._experiment_path!r}, trials={len(self.trials)}, "
            f"default_metric={self.default_metric!r}, default_mode={self.default_mode!r})"
        )
