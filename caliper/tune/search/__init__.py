"""Ray Tune's import paths for the search algorithms: ``from caliper.tune.search import
ConcurrencyLimiter`` and ``from caliper.tune.search.optuna import OptunaSearch`` give the
classes of :mod:`caliper.searchers`."""

import importlib

from caliper.searchers import (
    FINISHED,
    BasicVariantGenerator,
    BayesOptSearch,
    ConcurrencyLimiter,
    HyperOptSearch,
    OptunaSearch,
    Repeater,
    Searcher,
)

_LIBRARIES = ("basic_variant", "bayesopt", "hyperopt", "optuna")


def __getattr__(name: str) -> object:
    if name in _LIBRARIES:  # ``tune.search.optuna.OptunaSearch`` as in Ray
        return importlib.import_module(f"caliper.tune.search.{name}")
    raise AttributeError(f"module 'caliper.tune.search' has no attribute {name!r}")


__all__ = [
    "FINISHED",
    "BasicVariantGenerator",
    "BayesOptSearch",
    "ConcurrencyLimiter",
    "HyperOptSearch",
    "OptunaSearch",
    "Repeater",
    "Searcher",
]
