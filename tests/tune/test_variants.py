"""Configs from a search space, as Ray's variant generator makes them: grids crossed with each
other and with ``num_samples``, ``sample_from`` seeing resolved values, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from caliper import tune
from caliper.tune.variants import count_variants, find_variables, generate_variants


def configs(space, num_samples=1, seed=0):
    return list(generate_variants(space, num_samples, np.random.default_rng(seed)))


def test_grid_axes_are_crossed_and_repeated_num_samples_times():
    space = {"a": tune.grid_search([1, 2, 3]), "b": tune.grid_search(["x", "y"]), "c": 0}
    result = configs(space, num_samples=2)
    assert len(result) == count_variants(space, 2) == 12
    first = [(c["a"], c["b"]) for c in result[:6]]
    # the axis whose path sorts first ("a") changes fastest, as in Ray
    assert first == [(1, "x"), (2, "x"), (3, "x"), (1, "y"), (2, "y"), (3, "y")]
    assert [(c["a"], c["b"]) for c in result[6:]] == first
    assert all(c["c"] == 0 for c in result)


def test_random_domains_are_sampled_per_config_and_the_seed_fixes_them():
    space = {"lr": tune.loguniform(1e-4, 1e-1), "layers": tune.grid_search([1, 2])}
    a, b = configs(space, 5, seed=1), configs(space, 5, seed=1)
    assert a == b
    assert len({c["lr"] for c in a}) == 10
    assert configs(space, 5, seed=2) != a


def test_nested_dicts_and_lists_and_constants():
    space = {
        "model": {"width": tune.choice([32, 64]), "act": "relu"},
        "layers": [tune.randint(1, 4), {"dropout": tune.uniform(0, 0.5)}, 7],
        "opt": ("adam", tune.grid_search([0.9, 0.99])),
    }
    result = configs(space, 3)
    assert len(result) == 6
    for c in result:
        assert c["model"]["width"] in (32, 64) and c["model"]["act"] == "relu"
        assert 1 <= c["layers"][0] < 4 and 0 <= c["layers"][1]["dropout"] < 0.5
        assert c["layers"][2] == 7
        assert c["opt"][0] == "adam" and c["opt"][1] in (0.9, 0.99)
    assert space["model"]["width"].categories == [32, 64]  # the space is left untouched


def test_sample_from_sees_the_resolved_config_by_attribute_and_by_key():
    space = {
        "x": tune.randint(0, 100),
        "nested": {"y": tune.grid_search([10, 20])},
        "sum": tune.sample_from(lambda spec: spec.config.x + spec["config"]["nested"]["y"]),
        "twice_sum": tune.sample_from(lambda spec: 2 * spec.config.sum),
    }
    for c in configs(space, 4):
        assert c["sum"] == c["x"] + c["nested"]["y"]
        assert c["twice_sum"] == 2 * c["sum"]  # depends on another sample_from


def test_sample_from_cycle_is_a_clear_error():
    space = {
        "a": tune.sample_from(lambda spec: spec.config.b),
        "b": tune.sample_from(lambda spec: spec.config.a),
    }
    with pytest.raises(ValueError, match="never get resolved"):
        configs(space)


def test_find_variables_reports_paths():
    space = {"b": tune.grid_search([1]), "a": {"c": tune.uniform(0, 1)}, "l": [tune.choice([1])]}
    grid, domains = find_variables(space)
    assert [path for path, _ in grid] == [("b",)]
    assert [path for path, _ in domains] == [("a", "c"), ("l", 0)]


def test_no_variables_gives_num_samples_copies():
    assert configs({"a": 1}, 3) == [{"a": 1}] * 3


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_num_samples_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match="num_samples"):
        configs({"a": 1}, bad)
