"""Ray Tune code imports schedulers and searchers from ``ray.tune.schedulers`` and
``ray.tune.search[.<library>]``: with ``ray`` replaced by ``caliper`` those paths give the
classes of caliper.schedulers and caliper.searchers."""

from __future__ import annotations

import caliper.schedulers
import caliper.searchers
import caliper.tune.schedulers
import caliper.tune.search
from caliper import tune


def test_the_paths_name_the_same_classes():
    from caliper.tune.schedulers import ASHAScheduler, PopulationBasedTraining
    from caliper.tune.schedulers.pb2 import PB2
    from caliper.tune.search import ConcurrencyLimiter, Repeater, Searcher
    from caliper.tune.search.basic_variant import BasicVariantGenerator
    from caliper.tune.search.bayesopt import BayesOptSearch
    from caliper.tune.search.hyperopt import HyperOptSearch
    from caliper.tune.search.optuna import OptunaSearch

    assert ASHAScheduler is caliper.schedulers.ASHAScheduler
    assert PopulationBasedTraining is caliper.schedulers.PopulationBasedTraining
    assert PB2 is caliper.schedulers.PB2
    assert ConcurrencyLimiter is caliper.searchers.ConcurrencyLimiter
    assert Repeater is caliper.searchers.Repeater and Searcher is caliper.searchers.Searcher
    assert BasicVariantGenerator is caliper.searchers.BasicVariantGenerator
    assert BayesOptSearch is caliper.searchers.BayesOptSearch
    assert HyperOptSearch is caliper.searchers.HyperOptSearch
    assert OptunaSearch is caliper.searchers.OptunaSearch


def test_attribute_access_as_in_ray():
    assert tune.schedulers.HyperBandScheduler is caliper.schedulers.HyperBandScheduler
    assert tune.search.ConcurrencyLimiter is caliper.searchers.ConcurrencyLimiter
    assert tune.search.optuna.OptunaSearch is caliper.searchers.OptunaSearch


def test_the_paths_export_every_name():
    assert sorted(caliper.tune.search.__all__) == sorted(caliper.searchers.__all__)
    assert sorted(caliper.tune.schedulers.__all__) == sorted(caliper.schedulers.__all__)
