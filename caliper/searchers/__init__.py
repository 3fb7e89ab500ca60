"""Search algorithms with Ray Tune's names. This version has the ``Searcher`` contract and
``BasicVariantGenerator`` (grid and random search); OptunaSearch, HyperOptSearch,
ConcurrencyLimiter and Repeater come next."""

from caliper.searchers.basic_variant import BasicVariantGenerator
from caliper.searchers.searcher import FINISHED, Searcher

__all__ = ["FINISHED", "BasicVariantGenerator", "Searcher"]
