"""``TuneConfig``, ``RunConfig``, ``FailureConfig``, ``CheckpointConfig`` (Ray Tune's names).

Plain data checked at construction: an unknown field or a value breaking a rule raises at once
with the field named, before any trial starts.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from os import PathLike, fspath
from typing import Any

_MODES = ("min", "max")


def _check_mode(mode: object, where: str) -> None:
    if mode is not None and mode not in _MODES:
        raise ValueError(f"{where}.mode must be 'min' or 'max', got {mode!r}")


def _check_count(value: object, name: str, *, minimum: int, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _unknown_fields(cls: type, kwargs: Mapping[str, Any]) -> None:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(kwargs) - names)
    if unknown:
        raise TypeError(
            f"{cls.__name__} got unknown field{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))}; its fields are {', '.join(sorted(names))}"
        )


class _Strict:
    """Dataclass mixin: unknown keyword arguments name the field and list the valid ones."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        _unknown_fields(cls, kwargs)
        return super().__new__(cls)


@dataclass
class FailureConfig(_Strict):
    """What to do when a trial fails.

    Args:
        max_failures: retries per trial (0: none, -1: without limit).
        fail_fast: end the whole experiment at the first trial error.
    """

    max_failures: int = 0
    fail_fast: bool | str = False

    def __post_init__(self) -> None:
        _check_count(self.max_failures, "FailureConfig.max_failures", minimum=-1, allow_none=False)
        if self.fail_fast not in (True, False, "raise"):
            raise ValueError(
                f"FailureConfig.fail_fast must be True, False or 'raise', got {self.fail_fast!r}"
            )


@dataclass
class CheckpointConfig(_Strict):
    """Which checkpoints to keep.

    Args:
        num_to_keep: keep at most this many per trial (``None``: all).
        checkpoint_score_attribute: rank checkpoints by this metric (default: newest first).
        checkpoint_score_order: "max" or "min".
        checkpoint_frequency: class trainables save every this many iterations (0: never).
        checkpoint_at_end: class trainables save when they end.
    """

    num_to_keep: int | None = None
    checkpoint_score_attribute: str | None = None
    checkpoint_score_order: str = "max"
    checkpoint_frequency: int = 0
    checkpoint_at_end: bool | None = None

    def __post_init__(self) -> None:
        _check_count(self.num_to_keep, "CheckpointConfig.num_to_keep", minimum=1)
        if self.checkpoint_score_order not in _MODES:
            raise ValueError(
                "CheckpointConfig.checkpoint_score_order must be 'min' or 'max', got "
                f"{self.checkpoint_score_order!r}"
            )
        _check_count(
            self.checkpoint_frequency,
            "CheckpointConfig.checkpoint_frequency",
            minimum=0,
            allow_none=False,
        )


@dataclass
class TuneConfig(_Strict):
    """How to search: the metric, the search algorithm, the scheduler, how many trials.

    Args:
        metric: the result key to optimise; ``mode`` says whether to minimise or maximise.
        mode: "min" or "max".
        search_alg: a ``Searcher`` (default: ``BasicVariantGenerator``).
        scheduler: a ``TrialScheduler`` (default: ``FIFOScheduler``).
        num_samples: samples of the search space (each repeats every grid point); -1 means
            without limit (until ``time_budget_s`` or the searcher ends).
        max_concurrent_trials: at most this many trials running at once (``None``: as many
            as resources allow).
        time_budget_s: end the experiment after this many seconds.
        reuse_actors: hand a finished trial's process to the next trial with the same
            resources (``None``: on for function trainables).
        trial_name_creator: ``trial -> str``, the name shown for a trial.
        trial_dirname_creator: ``trial -> str``, the trial's directory name.
        search_seed: seed of the default search algorithm's random draws.
    """

    metric: str | None = None
    mode: str | None = None
    search_alg: Any = None
    scheduler: Any = None
    num_samples: int = 1
    max_concurrent_trials: int | None = None
    time_budget_s: float | None = None
    reuse_actors: bool | None = None
    trial_name_creator: Callable | None = None
    trial_dirname_creator: Callable | None = None
    search_seed: int | None = None

    def __post_init__(self) -> None:
        _check_mode(self.mode, "TuneConfig")
        if self.metric is not None and not isinstance(self.metric, str):
            raise TypeError(f"TuneConfig.metric must be a str, got {self.metric!r}")
        if isinstance(self.num_samples, bool) or not isinstance(self.num_samples, numbers.Integral):
            raise ValueError(f"TuneConfig.num_samples must be an integer, got {self.num_samples!r}")
        if self.num_samples == 0 or self.num_samples < -1:
            raise ValueError(
                f"TuneConfig.num_samples must be >= 1 (or -1 for no limit), got {self.num_samples}"
            )
        _check_count(self.max_concurrent_trials, "TuneConfig.max_concurrent_trials", minimum=1)
        if self.time_budget_s is not None and (
            isinstance(self.time_budget_s, bool)
            or not isinstance(self.time_budget_s, numbers.Real)
            or not self.time_budget_s > 0
            or math.isnan(self.time_budget_s)
        ):
            raise ValueError(
                f"TuneConfig.time_budget_s must be a number of seconds > 0, got "
                f"{self.time_budget_s!r}"
            )
        for name in ("trial_name_creator", "trial_dirname_creator"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(f"TuneConfig.{name} must be a function of the trial, got {value!r}")


@dataclass
class RunConfig(_Strict):
    """Where and how the experiment runs.

    Args:
        name: the experiment's directory name (default: trainable name + date).
        storage_path: parent directory of experiments (default ``~/caliper_results``), or a
            URI that ``pyarrow.fs`` opens: ``"s3://bucket/prefix"``, ``"gs://bucket/prefix"``
            (needs ``caliper[storage]``).
        stop: a dict ``{"metric": threshold}`` (a trial stops when a value reaches it), a
            function ``(trial_id, result) -> bool`` or a ``tune.Stopper``.
        callbacks: ``tune.Callback`` instances.
        failure_config: retries of failed trials.
        checkpoint_config: which checkpoints to keep.
        verbose: 0 silent, 1 status table, 2 also trial ends, 3 also every result.
        progress_reporter: a ``CLIReporter``/``JupyterNotebookReporter`` (default: chosen for
            the environment).
        log_to_file: also write each trial's stdout/stderr to files in its directory (``True``
            or a ``(stdout_name, stderr_name)`` pair, or one name for both).
        sync_config: accepted for Ray Tune scripts; uploads to remote storage follow each
            snapshot of the experiment state.
        storage_filesystem: a ``pyarrow.fs.FileSystem`` that holds ``storage_path`` (then a
            path inside it, or a URI of the same kind).
    """

    name: str | None = None
    storage_path: str | None = None
    stop: Any = None
    callbacks: list | None = None
    failure_config: FailureConfig | None = None
    checkpoint_config: CheckpointConfig | None = None
    verbose: int | None = None
    progress_reporter: Any = None
    log_to_file: bool | str | tuple = False
    sync_config: Any = None
    storage_filesystem: Any = None

    def __post_init__(self) -> None:
        if self.name is not None and (
            not isinstance(self.name, str) or not self.name or "/" in self.name
        ):
            raise ValueError(
                f"RunConfig.name must be a non-empty name without '/', got {self.name!r}"
            )
        if self.verbose is not None and (
            isinstance(self.verbose, bool) or self.verbose not in (0, 1, 2, 3)
        ):
            raise ValueError(f"RunConfig.verbose must be 0, 1, 2 or 3, got {self.verbose!r}")
        if self.stop is not None:
            from caliper.tune.stoppers import as_stopper

            try:
                as_stopper(self.stop)
            except TypeError as exc:
                raise TypeError(f"RunConfig.stop: {exc}") from None
        if self.callbacks is not None and not isinstance(self.callbacks, list | tuple):
            raise TypeError(f"RunConfig.callbacks must be a list, got {self.callbacks!r}")
        if self.failure_config is None:
            self.failure_config = FailureConfig()
        elif not isinstance(self.failure_config, FailureConfig):
            raise TypeError("RunConfig.failure_config must be a tune.FailureConfig")
        if self.checkpoint_config is None:
            self.checkpoint_config = CheckpointConfig()
        elif not isinstance(self.checkpoint_config, CheckpointConfig):
            raise TypeError("RunConfig.checkpoint_config must be a tune.CheckpointConfig")
        if self.storage_path is not None and not isinstance(self.storage_path, str | PathLike):
            raise TypeError(
                "RunConfig.storage_path must be a path or a URI such as 's3://bucket/prefix', "
                f"got {self.storage_path!r}"
            )
        if self.storage_filesystem is not None:  # pyarrow is imported already: it made it
            from caliper.tune.remote_files import check_filesystem

            storage_path = None if self.storage_path is None else fspath(self.storage_path)
            check_filesystem(self.storage_filesystem, storage_path)
