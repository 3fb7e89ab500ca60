"""with_resources, with_parameters and PlacementGroupFactory, as Ray Tune's."""

from __future__ import annotations

import sys

import cloudpickle
import numpy as np
import pytest

import caliper
from caliper import tune
from caliper.tune.trainable_wrappers import trial_resources

pytestmark = pytest.mark.timeout(30)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def train(config, data=None, scale=1):
    return {"score": config["x"] * scale + (0 if data is None else float(data.sum()))}


class Trainable:
    def setup(self, config, data=None):
        self.total = float(data.sum())


def test_placement_group_factory_bundles_and_totals():
    pgf = tune.PlacementGroupFactory([{"CPU": 1}, {"CPU": 2, "GPU": 0.5}], strategy="SPREAD")
    assert pgf.head_bundle == {"CPU": 1.0}
    assert pgf.required_resources == {"CPU": 3.0, "GPU": 0.5}
    assert pgf.strategy == "SPREAD"
    assert pgf == tune.PlacementGroupFactory([{"CPU": 1}, {"CPU": 2, "GPU": 0.5}], "SPREAD")


@pytest.mark.parametrize(
    ("bundles", "error", "words"),
    [
        ([], TypeError, "non-empty list"),
        ([{"CPU": -1}], ValueError, r"bundles\[0\]"),
        ([{"CPU": 0}], ValueError, "ask for nothing"),
        (["CPU"], TypeError, r"bundles\[0\] must be a dict"),
    ],
)
def test_placement_group_factory_bad_bundles(bundles, error, words):
    with pytest.raises(error, match=words):
        tune.PlacementGroupFactory(bundles)


def test_with_resources_in_every_form():
    assert trial_resources(train, {}).bundles == [{"CPU": 1.0}]
    marked = tune.with_resources(train, {"cpu": 2, "gpu": 0.5, "memory": 1e9, "accel": 1})
    assert trial_resources(marked, {}).bundles == [
        {"CPU": 2.0, "GPU": 0.5, "memory": 1e9, "accel": 1.0}
    ]
    pgf = tune.PlacementGroupFactory([{"CPU": 1}, {"CPU": 1}])
    assert trial_resources(tune.with_resources(train, pgf), {}) == pgf
    by_config = tune.with_resources(train, lambda config: {"cpu": config["n"]})
    assert trial_resources(by_config, {"n": 3}).bundles == [{"CPU": 3.0}]
    assert marked({"x": 2}) == {"score": 2}  # still the same function
    cls = tune.with_resources(Trainable, {"cpu": 1})
    assert issubclass(cls, Trainable) and trial_resources(cls, {}).bundles == [{"CPU": 1.0}]


def test_with_resources_bad_input_fails_at_once():
    with pytest.raises(TypeError, match="resources must be a dict"):
        tune.with_resources(train, 3)
    with pytest.raises(ValueError, match="num_gpus above 1"):
        tune.with_resources(train, {"gpu": 1.5})


def test_with_parameters_stores_each_object_once(runtime_factory):
    runtime_factory(num_cpus=2)
    data = np.ones(1000)
    wrapped = tune.with_parameters(train, data=data, scale=3)
    assert wrapped({"x": 2}) == {"score": 1006.0}
    # in trials (worker processes) the objects arrive through the runtime, not the config
    run = caliper.remote(lambda fn, config: fn(config))
    assert caliper.get(run.remote(wrapped, {"x": 1})) == {"score": 1003.0}
    assert len(cloudpickle.dumps(wrapped)) < data.nbytes  # the array is not inside
    cls = tune.with_parameters(Trainable, data=data)
    instance = cls()
    instance.setup({})
    assert instance.total == 1000.0


def test_with_parameters_keeps_resources_and_needs_arguments(runtime_factory):
    runtime_factory(num_cpus=1)
    marked = tune.with_resources(train, {"cpu": 1, "gpu": 0})
    assert trial_resources(tune.with_parameters(marked, scale=2), {}).bundles == [{"CPU": 1.0}]
    with pytest.raises(ValueError, match="at least one keyword"):
        tune.with_parameters(train)


@pytest.mark.timeout(60)
def test_an_empty_head_bundle_reserves_the_other_bundles_for_the_trial(runtime_factory, tmp_path):
    """Ray's ``PlacementGroupFactory([{}, {"CPU": 1}, {"CPU": 1}])``: the trial's process takes
    nothing, the trial reserves 2 CPUs, so on 2 CPUs its trials run one at a time."""
    import time

    runtime_factory(num_cpus=2)

    def spans(config):
        started = time.time()
        time.sleep(0.3)
        return {"start": started, "end": time.time()}

    trainable = tune.with_resources(spans, tune.PlacementGroupFactory([{}, {"CPU": 1}, {"CPU": 1}]))
    results = tune.Tuner(
        trainable,
        param_space={"x": tune.grid_search([1, 2])},
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert results.num_errors == 0
    first, second = sorted((r.metrics["start"], r.metrics["end"]) for r in results)
    assert first[1] <= second[0]  # never both at once
