"""The conversion tables of the model-based searchers, as pure functions: each caliper domain's
Optuna distribution, HyperOpt expression and BayesOpt bounds, and values back and forth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hyperopt.pyll import stochastic
from optuna import distributions as d

from caliper import tune
from caliper.searchers import bayesopt_search, hyperopt_space, optuna_space
from caliper.searchers.space import build_config, check_points, flatten_point, parameters


class Opaque:
    """A category Optuna cannot store (chosen by index)."""


OPAQUE = Opaque()

OPTUNA_TABLE = [
    (tune.uniform(0, 2), d.FloatDistribution(0, 2)),
    (tune.loguniform(1e-4, 1e-1), d.FloatDistribution(1e-4, 1e-1, log=True)),
    (tune.quniform(0.05, 1, 0.1), d.IntDistribution(1, 10)),
    (tune.qloguniform(1e-3, 1, 1e-3), d.FloatDistribution(1e-3, 1, log=True)),
    (tune.randint(1, 10), d.IntDistribution(1, 9)),
    (tune.qrandint(1, 20, 5), d.IntDistribution(5, 20, step=5)),
    (tune.lograndint(1, 100), d.IntDistribution(1, 99, log=True)),
    (tune.qlograndint(2, 64, 2), d.IntDistribution(2, 64, log=True)),
    (tune.choice(["a", 1, None, 2.5, True]), d.CategoricalDistribution(["a", 1, None, 2.5, True])),
    (tune.choice([[1, 2], OPAQUE]), d.CategoricalDistribution([0, 1])),
]


@pytest.mark.parametrize(("domain", "expected"), OPTUNA_TABLE, ids=lambda x: repr(x)[:40])
def test_optuna_distribution_of_each_domain(domain, expected):
    assert optuna_space.distribution(domain, "p") == expected


@pytest.mark.parametrize(("domain", "expected"), OPTUNA_TABLE, ids=lambda x: repr(x)[:40])
def test_optuna_values_map_back_into_the_domain(domain, expected):
    rng = np.random.default_rng(0)
    for _ in range(20):
        value = domain.sample(rng)
        raw = optuna_space.to_optuna(domain, value)
        assert expected._contains(expected.to_internal_repr(raw))
        back = optuna_space.from_optuna(domain, raw)
        assert back == value or math.isclose(back, value)


def test_optuna_refuses_unbounded_and_conditional_domains():
    with pytest.raises(ValueError, match=r"'p'.*tune.randn.*tune.uniform"):
        optuna_space.distribution(tune.randn(), "p")
    with pytest.raises(ValueError, match=r"conditional.*define-by-run"):
        optuna_space.distribution(tune.choice([{"a": tune.uniform(0, 1)}]), "p")


HYPEROPT_SPACE = {
    "u": tune.uniform(-1, 1),
    "qu": tune.quniform(0, 1, 0.25),
    "lu": tune.loguniform(1e-4, 1e-1),
    "n": tune.randn(2, 0.1),
    "i": tune.randint(3, 7),
    "qi": tune.qrandint(0, 20, 5),
    "li": tune.lograndint(1, 50),
    "c": tune.choice(["x", [1, 2], OPAQUE]),
    "nested": {"v": tune.uniform(5, 6), "k": "const"},
    "model": tune.choice(
        [
            {"type": "mlp", "lr": tune.loguniform(1e-3, 1)},
            {"type": "tree", "depth": tune.randint(1, 4)},
        ]
    ),
    "epochs": 8,
}


def test_hyperopt_expression_samples_stay_in_each_domain():
    expr = hyperopt_space.to_hyperopt(HYPEROPT_SPACE)
    rng = np.random.default_rng(0)
    models = set()
    for _ in range(50):
        config = stochastic.sample(expr, rng=rng)
        assert -1 <= config["u"] <= 1 and config["qu"] in (0, 0.25, 0.5, 0.75, 1.0)
        assert 1e-4 <= config["lu"] <= 1e-1 and isinstance(config["n"], float)
        assert config["i"] in range(3, 7) and config["qi"] in (0, 5, 10, 15, 20)
        assert 1 <= config["li"] <= 49 and isinstance(config["li"], int)
        assert config["c"] == "x" or config["c"] == [1, 2] or config["c"] is OPAQUE
        assert config["nested"] == {"v": config["nested"]["v"], "k": "const"}
        assert config["epochs"] == 8
        model = config["model"]
        models.add(model["type"])
        if model["type"] == "mlp":
            assert set(model) == {"type", "lr"} and 1e-3 <= model["lr"] <= 1
        else:
            assert set(model) == {"type", "depth"} and model["depth"] in (1, 2, 3)
    assert models == {"mlp", "tree"}


def test_hyperopt_labels_are_paths_and_a_choice_among_dicts_nests_them():
    from hyperopt import Domain

    labels = set(Domain(lambda c: c, hyperopt_space.to_hyperopt(HYPEROPT_SPACE)).params)
    assert {"nested/v", "model", "model/0/lr", "model/1/depth", "c"} <= labels


def test_hyperopt_vals_of_a_point_name_choice_indices_and_draw_what_is_left_out():
    point = {"c": [1, 2], "model": {"type": "tree", "depth": 2}, "u": 0.5}
    vals = hyperopt_space.to_vals(HYPEROPT_SPACE, point, np.random.default_rng(0))
    assert vals["c"] == 1 and vals["model"] == 1 and vals["model/1/depth"] == 2
    assert vals["u"] == 0.5 and "model/0/lr" not in vals
    assert 5 <= vals["nested/v"] <= 6  # left out: drawn


def test_hyperopt_refuses_sample_from_and_grid_search_by_name():
    with pytest.raises(ValueError, match=r"sample_from at 'a/b'"):
        hyperopt_space.to_hyperopt({"a": {"b": tune.sample_from(lambda spec: 1)}})
    with pytest.raises(ValueError, match=r"grid_search at 'g'.*tune.choice"):
        hyperopt_space.to_hyperopt({"g": tune.grid_search([1, 2])})


def test_bayesopt_bounds_are_float_ranges_in_log_space_for_log_domains():
    domains = parameters({"a": tune.uniform(0, 2), "b": {"c": tune.loguniform(1e-3, 1)}}, "t")
    assert bayesopt_search.bounds(domains) == {"a": (0.0, 2.0), "b/c": (math.log(1e-3), 0.0)}
    log = tune.loguniform(1e-3, 1)
    assert bayesopt_search.from_optimizer(log, bayesopt_search.to_optimizer(log, 0.01)) == (
        pytest.approx(0.01)
    )
    assert bayesopt_search.from_optimizer(tune.quniform(0, 1, 0.25), 0.3) == 0.25


@pytest.mark.parametrize("domain", [tune.randint(0, 3), tune.choice([1, 2]), tune.randn()])
def test_bayesopt_refuses_what_is_not_a_float_range_by_name(domain):
    with pytest.raises(ValueError, match=r"float ranges only: 'p'"):
        bayesopt_search.bounds(parameters({"p": domain}, "t"))


def test_points_are_checked_and_flattened_against_the_space():
    domains = parameters(HYPEROPT_SPACE, "t")
    [flat] = check_points(
        "t", [{"nested": {"v": 5.5}, "model": {"type": "mlp", "lr": 0.1}}], domains
    )
    assert flat == {("nested", "v"): 5.5, ("model",): {"type": "mlp", "lr": 0.1}}
    with pytest.raises(ValueError, match=r"points_to_evaluate\[0\] sets 'nested/w'"):
        check_points("t", [{"nested": {"w": 1}}], domains)
    with pytest.raises(ValueError, match=r"sets 'i' to 7, which is outside \[3, 7\)"):
        check_points("t", [{"i": 7}], domains)
    with pytest.raises(ValueError, match=r"sets 'c' to 'y', which is not one of"):
        check_points("t", [{"c": "y"}], domains)
    assert build_config({"k": 1}, flatten_point({"a": {"b": 2}})) == {"k": 1, "a": {"b": 2}}
