"""Search algorithms with Ray Tune's names.

``Searcher`` is the contract every one follows; ``BasicVariantGenerator`` is grid and random
search (the default); ``OptunaSearch``, ``HyperOptSearch`` and ``BayesOptSearch`` wrap those
libraries through their ask/tell interfaces (each an optional extra:
``pip install "caliper[optuna]"``, ``"caliper[hyperopt]"``, ``"caliper[bayesopt]"``, imported
only when a search starts); ``ConcurrencyLimiter`` and ``Repeater`` wrap any searcher.
"""

from caliper.searchers.basic_variant import BasicVariantGenerator
from caliper.searchers.bayesopt_search import BayesOptSearch
from caliper.searchers.concurrency_limiter import ConcurrencyLimiter
from caliper.searchers.hyperopt_search import HyperOptSearch
from caliper.searchers.optuna_search import OptunaSearch
from caliper.searchers.repeater import Repeater
from caliper.searchers.searcher import FINISHED, Searcher

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
