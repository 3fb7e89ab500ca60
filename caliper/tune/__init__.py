"""The tuning API (``from caliper import tune``), with Ray Tune's names.

``tune.Tuner(trainable, param_space=..., tune_config=tune.TuneConfig(...),
run_config=tune.RunConfig(...)).fit()`` runs an experiment and returns a ``ResultGrid``; inside
a trial, ``tune.report(metrics, checkpoint=...)``, ``tune.get_checkpoint()`` and
``tune.get_context()``. Search space primitives (``tune.uniform``, ``tune.loguniform``,
``tune.choice``, ``tune.grid_search``, ...), stoppers, callbacks, ``tune.with_resources`` /
``tune.with_parameters`` and the legacy ``tune.run`` are here too. Heavy parts import lazily.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_LAZY = {
    "choice": "caliper.tune.search_space",
    "grid_search": "caliper.tune.search_space",
    "lograndint": "caliper.tune.search_space",
    "loguniform": "caliper.tune.search_space",
    "qlograndint": "caliper.tune.search_space",
    "qloguniform": "caliper.tune.search_space",
    "qrandint": "caliper.tune.search_space",
    "qrandn": "caliper.tune.search_space",
    "quniform": "caliper.tune.search_space",
    "randint": "caliper.tune.search_space",
    "randn": "caliper.tune.search_space",
    "sample_from": "caliper.tune.search_space",
    "uniform": "caliper.tune.search_space",
    "Callback": "caliper.tune.callback",
    "Checkpoint": "caliper.tune.checkpoint",
    "CheckpointConfig": "caliper.tune.config",
    "CLIReporter": "caliper.tune.progress",
    "CombinedStopper": "caliper.tune.stoppers",
    "ExperimentAnalysis": "caliper.tune.analysis",
    "ExperimentPlateauStopper": "caliper.tune.stoppers",
    "FailureConfig": "caliper.tune.config",
    "FunctionStopper": "caliper.tune.stoppers",
    "JupyterNotebookReporter": "caliper.tune.progress",
    "MaximumIterationStopper": "caliper.tune.stoppers",
    "NoopStopper": "caliper.tune.stoppers",
    "PlacementGroupFactory": "caliper.tune.trainable_wrappers",
    "ProgressReporter": "caliper.tune.progress",
    "Result": "caliper.tune.result",
    "ResultGrid": "caliper.tune.result_grid",
    "RunConfig": "caliper.tune.config",
    "Stopper": "caliper.tune.stoppers",
    "TimeoutStopper": "caliper.tune.stoppers",
    "Trainable": "caliper.tune.trainable",
    "TrialPlateauStopper": "caliper.tune.stoppers",
    "TuneConfig": "caliper.tune.config",
    "TuneError": "caliper.tune.errors",
    "TuneContext": "caliper.tune.session",
    "Tuner": "caliper.tune.tuner",
    "get_checkpoint": "caliper.tune.session",
    "get_context": "caliper.tune.session",
    "report": "caliper.tune.session",
    "run": "caliper.tune.run_api",
    "with_parameters": "caliper.tune.trainable_wrappers",
    "with_resources": "caliper.tune.trainable_wrappers",
}

if TYPE_CHECKING:
    from caliper.tune.analysis import ExperimentAnalysis
    from caliper.tune.callback import Callback
    from caliper.tune.checkpoint import Checkpoint
    from caliper.tune.config import CheckpointConfig, FailureConfig, RunConfig, TuneConfig
    from caliper.tune.errors import TuneError
    from caliper.tune.progress import CLIReporter, JupyterNotebookReporter, ProgressReporter
    from caliper.tune.result import Result
    from caliper.tune.result_grid import ResultGrid
    from caliper.tune.run_api import run
    from caliper.tune.search_space import (
        choice,
        grid_search,
        lograndint,
        loguniform,
        qlograndint,
        qloguniform,
        qrandint,
        qrandn,
        quniform,
        randint,
        randn,
        sample_from,
        uniform,
    )
    from caliper.tune.session import TuneContext, get_checkpoint, get_context, report
    from caliper.tune.stoppers import (
        CombinedStopper,
        ExperimentPlateauStopper,
        FunctionStopper,
        MaximumIterationStopper,
        NoopStopper,
        Stopper,
        TimeoutStopper,
        TrialPlateauStopper,
    )
    from caliper.tune.trainable import Trainable
    from caliper.tune.trainable_wrappers import (
        PlacementGroupFactory,
        with_parameters,
        with_resources,
    )
    from caliper.tune.tuner import Tuner


_SUBMODULES = {
    "logger": "caliper.tune.logger",
    "schedulers": "caliper.tune.schedulers",  # Ray's paths for caliper.schedulers
    "search": "caliper.tune.search",  # and caliper.searchers
}


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:  # ``tune.logger.LoggerCallback`` as in Ray
        return importlib.import_module(_SUBMODULES[name])
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'caliper.tune' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "CLIReporter",
    "Callback",
    "Checkpoint",
    "CheckpointConfig",
    "CombinedStopper",
    "ExperimentAnalysis",
    "ExperimentPlateauStopper",
    "FailureConfig",
    "FunctionStopper",
    "JupyterNotebookReporter",
    "MaximumIterationStopper",
    "NoopStopper",
    "PlacementGroupFactory",
    "ProgressReporter",
    "Result",
    "ResultGrid",
    "RunConfig",
    "Stopper",
    "TimeoutStopper",
    "Trainable",
    "TrialPlateauStopper",
    "TuneConfig",
    "TuneContext",
    "TuneError",
    "Tuner",
    "choice",
    "get_checkpoint",
    "get_context",
    "grid_search",
    "lograndint",
    "loguniform",
    "qlograndint",
    "qloguniform",
    "qrandint",
    "qrandn",
    "quniform",
    "randint",
    "randn",
    "report",
    "run",
    "sample_from",
    "uniform",
    "with_parameters",
    "with_resources",
]
