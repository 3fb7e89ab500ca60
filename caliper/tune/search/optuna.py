"""Ray Tune's ``ray.tune.search.optuna`` path for :class:`caliper.searchers.OptunaSearch`."""

from caliper.searchers.optuna_search import OptunaSearch

__all__ = ["OptunaSearch"]
