"""BasicVariantGenerator: the Searcher contract, Ray's crossing of grids, points_to_evaluate,
max_concurrent, seeds and a state round trip that continues the same search."""

from __future__ import annotations

import numpy as np
import pytest

from caliper import tune
from caliper.searchers import FINISHED, BasicVariantGenerator, Searcher

SPACE = {"lr": tune.loguniform(1e-4, 1e-1), "layers": tune.grid_search([1, 2, 3]), "bs": 32}


def run(searcher, n_max=1000):
    configs = []
    for i in range(n_max):
        config = searcher.suggest(f"t{i}")
        if config == FINISHED:
            return configs
        assert config is not None
        configs.append(config)
        searcher.on_trial_complete(f"t{i}", {"loss": 1.0})
    raise AssertionError("never finished")


def make(num_samples=2, **kwargs):
    searcher = BasicVariantGenerator(random_state=kwargs.pop("random_state", 0), **kwargs)
    searcher.set_search_properties("loss", "min", SPACE, num_samples=num_samples)
    return searcher


def test_it_is_a_searcher_and_counts_like_ray():
    searcher = make(num_samples=2)
    assert isinstance(searcher, Searcher)
    assert searcher.total == 6
    configs = run(searcher)
    assert len(configs) == 6
    assert [c["layers"] for c in configs] == [1, 2, 3, 1, 2, 3]
    assert all(1e-4 <= c["lr"] < 1e-1 and c["bs"] == 32 for c in configs)


def test_same_seed_same_configs_and_other_seeds_differ():
    assert run(make(random_state=3)) == run(make(random_state=3))
    assert run(make(random_state=3)) != run(make(random_state=4))
    generator_seeded = make(random_state=np.random.default_rng(5))
    assert len(run(generator_seeded)) == 6


def test_points_to_evaluate_come_first_and_take_one_sample_each():
    points = [{"lr": 0.05, "layers": 2}, {"lr": 0.01}]  # the second leaves the grid open
    searcher = make(num_samples=3, points_to_evaluate=points)
    configs = run(searcher)
    assert configs[0] == {"lr": 0.05, "layers": 2, "bs": 32}
    assert [(c["lr"], c["layers"]) for c in configs[1:4]] == [(0.01, 1), (0.01, 2), (0.01, 3)]
    assert len(configs) == searcher.total == 1 + 3 + 3  # one sample left: the whole grid


def test_points_with_unknown_keys_are_refused_before_any_trial():
    searcher = BasicVariantGenerator(points_to_evaluate=[{"learning_rate": 0.1}])
    with pytest.raises(ValueError, match="'learning_rate', which is not in the search space"):
        searcher.set_search_properties("loss", "min", SPACE, num_samples=1)


def test_max_concurrent_holds_suggestions_until_trials_complete():
    searcher = make(num_samples=1, max_concurrent=2)
    assert searcher.suggest("a") is not None and searcher.suggest("b") is not None
    assert searcher.suggest("c") is None  # not now
    searcher.on_trial_complete("a", None, error=True)
    assert isinstance(searcher.suggest("c"), dict)
    searcher.on_trial_complete("b")
    searcher.on_trial_complete("c")
    assert searcher.suggest("d") == FINISHED


def test_state_round_trip_continues_the_same_sequence(tmp_path):
    full = run(make(num_samples=3, random_state=11))
    first = make(num_samples=3, random_state=11)
    head = [first.suggest(f"t{i}") for i in range(4)]
    path = tmp_path / "searcher.pkl"
    first.save(str(path))
    second = BasicVariantGenerator()
    second.restore(str(path))
    for i in range(4):
        second.on_trial_complete(f"t{i}")
    assert head + run(second) == full


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_concurrent must be >= 0"):
        BasicVariantGenerator(max_concurrent=-1)
    with pytest.raises(TypeError, match="random_state"):
        BasicVariantGenerator(random_state="seed")
    with pytest.raises(ValueError, match="num_samples"):
        BasicVariantGenerator().set_search_properties(None, None, SPACE, num_samples=0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        BasicVariantGenerator().set_search_properties("loss", "minimize", SPACE)
    with pytest.raises(RuntimeError, match="set_search_properties"):
        BasicVariantGenerator().suggest("t0")
