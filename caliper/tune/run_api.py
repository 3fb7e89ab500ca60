"""``tune.run``: the legacy entry point that books and blog posts use, on top of ``Tuner``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from caliper.tune.analysis import ExperimentAnalysis
from caliper.tune.config import RunConfig, TuneConfig
from caliper.tune.trainable_wrappers import with_resources
from caliper.tune.tuner import Tuner


def run(
    run_or_experiment: Any,
    *,
    name: str | None = None,
    metric: str | None = None,
    mode: str | None = None,
    stop: Any = None,
    time_budget_s: float | None = None,
    config: Mapping | None = None,
    resources_per_trial: Any = None,
    num_samples: int = 1,
    storage_path: str | None = None,
    search_alg: Any = None,
    scheduler: Any = None,
    checkpoint_config: Any = None,
    verbose: int | None = None,
    progress_reporter: Any = None,
    log_to_file: bool | str | tuple = False,
    trial_name_creator: Any = None,
    trial_dirname_creator: Any = None,
    max_failures: int = 0,
    fail_fast: bool | str = False,
    callbacks: list | None = None,
    max_concurrent_trials: int | None = None,
    reuse_actors: bool | None = None,
    raise_on_failed_trial: bool = True,
) -> ExperimentAnalysis:
    """Run an experiment the Ray Tune 1.x way; returns an :class:`ExperimentAnalysis`
    (``best_config``, ``best_result``, ``best_trial``, ``results_df``, ``dataframe()``).

    With ``raise_on_failed_trial`` (the default, as in Ray) a ``TuneError`` is raised after the
    experiment when some trial errored; the results are on disk either way.
    """
    from caliper.tune.config import CheckpointConfig, FailureConfig
    from caliper.tune.errors import TuneError

    trainable = run_or_experiment
    if resources_per_trial is not None:
        trainable = with_resources(trainable, resources_per_trial)
    tuner = Tuner(
        trainable,
        param_space=config,
        tune_config=TuneConfig(
            metric=metric,
            mode=mode,
            search_alg=search_alg,
            scheduler=scheduler,
            num_samples=num_samples,
            max_concurrent_trials=max_concurrent_trials,
            time_budget_s=time_budget_s,
            reuse_actors=reuse_actors,
            trial_name_creator=trial_name_creator,
            trial_dirname_creator=trial_dirname_creator,
        ),
        run_config=RunConfig(
            name=name,
            storage_path=storage_path,
            stop=stop,
            callbacks=callbacks,
            failure_config=FailureConfig(max_failures=max_failures, fail_fast=fail_fast),
            checkpoint_config=checkpoint_config or CheckpointConfig(),
            verbose=verbose,
            progress_reporter=progress_reporter,
            log_to_file=log_to_file,
        ),
    )
    grid = tuner.fit()
    analysis = ExperimentAnalysis(
        grid.experiment_path,
        trials=_trials_with_stored_checkpoints(grid, tuner.storage),
        default_metric=metric,
        default_mode=mode,
    )
    errored = [r for r in grid if r.error is not None]
    if errored and raise_on_failed_trial:
        raise TuneError(
            f"{len(errored)} trial(s) did not complete: "
            f"{', '.join(str(r.path) for r in errored[:5])}"
        )
    return analysis


def _trials_with_stored_checkpoints(grid, storage) -> list:
    """The grid's trials; for an experiment stored at a URI, copies whose checkpoints point
    there (the driver's local copy holds no checkpoints)."""
    from caliper.tune.storage import is_uri

    trials = list(grid._trials)
    if not (storage.remote and is_uri(storage.location)):
        return trials
    import copy

    from caliper.tune.result_grid import _checkpoints_at

    copies = [copy.copy(t) for t in trials]
    _checkpoints_at(copies, grid.experiment_path, storage.location)
    return copies
