"""Search-space primitives: ranges, quantization, log scales, seeded sampling, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from caliper import tune
from caliper.tune.search_space import Categorical, Float, Function, Integer, is_grid

N = 2000


def draws(domain, seed=0, n=N):
    rng = np.random.default_rng(seed)
    return [domain.sample(rng) for _ in range(n)]


def test_uniform_stays_in_the_half_open_range_and_covers_it():
    values = draws(tune.uniform(-2.0, 3.0))
    assert all(-2.0 <= v < 3.0 for v in values)
    assert min(values) < -1.9 and max(values) > 2.9
    assert abs(np.mean(values) - 0.5) < 0.15


def test_loguniform_is_uniform_in_log_space():
    values = draws(tune.loguniform(1e-4, 1e-1))
    assert all(1e-4 <= v < 1e-1 for v in values)
    logs = np.log10(values)
    assert abs(np.mean(logs) - (-2.5)) < 0.1  # the middle decade in log space
    assert np.mean(np.array(values) < 1e-3) == pytest.approx(1 / 3, abs=0.05)


def test_quantized_floats_are_multiples_of_q_and_reach_the_upper_bound():
    values = draws(tune.quniform(0.0, 1.0, 0.25))
    assert set(values) <= {0.0, 0.25, 0.5, 0.75, 1.0}
    assert 1.0 in values and 0.0 in values
    logs = draws(tune.qloguniform(1.0, 100.0, 5.0))
    assert all(5.0 <= v <= 100.0 and math.isclose(v % 5.0, 0.0, abs_tol=1e-9) for v in logs)


def test_randint_excludes_upper_qrandint_includes_it():
    assert set(draws(tune.randint(0, 3))) == {0, 1, 2}
    assert set(draws(tune.qrandint(0, 10, 5))) == {0, 5, 10}
    assert all(isinstance(v, int) for v in draws(tune.qrandint(0, 10, 5), n=20))


def test_lograndint_favours_small_values():
    values = draws(tune.lograndint(1, 1000))
    assert all(1 <= v < 1000 and isinstance(v, int) for v in values)
    assert np.mean(np.array(values) < 32) == pytest.approx(0.5, abs=0.06)
    q = draws(tune.qlograndint(10, 100, 10))
    assert set(q) <= set(range(10, 101, 10)) and 100 in q


def test_randn_and_qrandn():
    values = draws(tune.randn(5.0, 2.0))
    assert abs(np.mean(values) - 5.0) < 0.2 and abs(np.std(values) - 2.0) < 0.2
    assert all(
        math.isclose(v % 0.5, 0, abs_tol=1e-9) or math.isclose(v % 0.5, 0.5)
        for v in draws(tune.qrandn(0.0, 1.0, 0.5), n=50)
    )


def test_choice_covers_every_category_including_non_primitive_ones():
    options = [1, "two", {"three": 3}, None]
    values = draws(tune.choice(options))
    assert {repr(v) for v in values} == {repr(o) for o in options}


def test_same_seed_same_values_other_seed_other_values():
    domain = tune.uniform(0, 1)
    assert draws(domain, seed=7, n=10) == draws(domain, seed=7, n=10)
    assert draws(domain, seed=7, n=10) != draws(domain, seed=8, n=10)


def test_grid_search_is_rays_marker_and_sample_from_wraps_a_callable():
    assert tune.grid_search([1, 2]) == {"grid_search": [1, 2]}
    assert is_grid(tune.grid_search(["a"])) and not is_grid({"grid_search": [1], "x": 2})
    assert isinstance(tune.sample_from(lambda spec: 1), Function)
    assert tune.sample_from(lambda: 3).sample(np.random.default_rng()) == 3


def test_domain_types():
    assert isinstance(tune.uniform(0, 1), Float)
    assert isinstance(tune.randint(0, 3), Integer)
    assert isinstance(tune.choice([1]), Categorical)


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: tune.uniform(1, 1), ValueError, "uniform: needs lower < upper"),
        (lambda: tune.uniform(2, 1), ValueError, "lower=2, upper=1"),
        (lambda: tune.loguniform(0, 1), ValueError, "loguniform: a log scale needs lower > 0"),
        (lambda: tune.loguniform(-1, 1), ValueError, "lower > 0"),
        (lambda: tune.qloguniform(0, 1, 0.1), ValueError, "lower > 0"),
        (lambda: tune.lograndint(0, 10), ValueError, "lograndint: a log scale"),
        (lambda: tune.quniform(0, 1, 0), ValueError, "quniform: q must be > 0"),
        (lambda: tune.qrandint(0, 10, -1), ValueError, "q must be > 0"),
        (lambda: tune.randint(0.5, 3), TypeError, "randint: lower must be an int"),
        (lambda: tune.randint(5, 5), ValueError, "lower < upper"),
        (lambda: tune.uniform("0", 1), TypeError, "uniform: lower must be a number"),
        (lambda: tune.uniform(0, float("inf")), ValueError, "upper must be finite"),
        (lambda: tune.randn(0, 0), ValueError, "randn: sd must be > 0"),
        (lambda: tune.choice([]), ValueError, "choice: categories must not be empty"),
        (lambda: tune.choice("abc"), TypeError, "choice: categories must be a list"),
        (lambda: tune.grid_search([]), ValueError, "grid_search: values must not be empty"),
        (lambda: tune.grid_search(3), TypeError, "grid_search: values must be a list"),
        (lambda: tune.sample_from(3), TypeError, "sample_from: needs a callable"),
    ],
)
def test_bad_bounds_name_the_primitive_and_the_rule(make, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        make()
