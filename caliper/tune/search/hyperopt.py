"""Ray Tune's ``ray.tune.search.hyperopt`` path for :class:`caliper.searchers.HyperOptSearch`."""

from caliper.searchers.hyperopt_search import HyperOptSearch

__all__ = ["HyperOptSearch"]
