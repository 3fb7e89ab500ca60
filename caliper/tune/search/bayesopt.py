"""Ray Tune's ``ray.tune.search.bayesopt`` path for :class:`caliper.searchers.BayesOptSearch`."""

from caliper.searchers.bayesopt_search import BayesOptSearch

__all__ = ["BayesOptSearch"]
