"""Every searcher through the Searcher contract: suggest, complete, error, points to evaluate
first, the same configs for the same seed, and a state round trip (through pickle) that
continues the same search."""

from __future__ import annotations

import pickle

import cloudpickle
import pytest

from caliper import tune
from caliper.searchers import (
    FINISHED,
    BasicVariantGenerator,
    BayesOptSearch,
    ConcurrencyLimiter,
    HyperOptSearch,
    OptunaSearch,
    Repeater,
    Searcher,
)

SPACE = {"x": tune.uniform(-5.0, 5.0), "y": tune.loguniform(1e-3, 1.0), "epochs": 3}
POINT = {"x": 1.5, "y": 0.01}

FACTORIES = {
    "basic": lambda seed: BasicVariantGenerator(points_to_evaluate=[POINT], random_state=seed),
    "optuna": lambda seed: OptunaSearch(points_to_evaluate=[POINT], seed=seed),
    "hyperopt": lambda seed: HyperOptSearch(
        points_to_evaluate=[POINT], n_initial_points=3, random_state_seed=seed
    ),
    "bayesopt": lambda seed: BayesOptSearch(
        points_to_evaluate=[POINT], random_state=seed, random_search_steps=6
    ),
    "limiter": lambda seed: ConcurrencyLimiter(
        OptunaSearch(points_to_evaluate=[POINT], seed=seed), max_concurrent=2
    ),
    "limiter-batch": lambda seed: ConcurrencyLimiter(
        HyperOptSearch(points_to_evaluate=[POINT], n_initial_points=2, random_state_seed=seed),
        max_concurrent=2,
        batch=True,
    ),
    "repeater": lambda seed: Repeater(OptunaSearch(points_to_evaluate=[POINT], seed=seed), 2),
}
N = 8


def make(name, seed=0):
    searcher = FACTORIES[name](seed)
    searcher.set_search_properties("loss", "min", SPACE, num_samples=N)
    return searcher


def loss(config):
    return (config["x"] - 1.0) ** 2 + config["y"]


def in_space(config):
    return -5 <= config["x"] <= 5 and 1e-3 <= config["y"] <= 1 and config["epochs"] == 3


def step(searcher, i, outcomes):
    """Suggest trial i and finish it (its result, an error, or no result at all)."""
    config = searcher.suggest(f"t{i}")
    if config is None or config == FINISHED:
        return config
    searcher.on_trial_result(f"t{i}", {"loss": loss(config), "training_iteration": 1})
    outcome = outcomes(i)
    if outcome == "error":
        searcher.on_trial_complete(f"t{i}", None, error=True)
    elif outcome == "none":
        searcher.on_trial_complete(f"t{i}", None)
    else:
        searcher.on_trial_complete(f"t{i}", {"loss": loss(config)})
    return config


def run(searcher, start=0, stop=N, outcomes=lambda i: "ok"):
    return [step(searcher, i, outcomes) for i in range(start, stop)]


@pytest.fixture(params=sorted(FACTORIES))
def name(request):
    return request.param


def test_suggest_complete_and_errors_follow_the_contract(name):
    searcher = make(name)
    assert isinstance(searcher, Searcher)
    configs = run(searcher, outcomes=lambda i: {3: "error", 4: "none"}.get(i, "ok"))
    configs = [c for c in configs if c != FINISHED]
    assert configs and all(isinstance(c, dict) and in_space(c) for c in configs)


def test_points_to_evaluate_come_first(name):
    first = run(make(name), stop=1)[0]
    assert (first["x"], first["y"]) == (POINT["x"], POINT["y"])
    assert first["epochs"] == 3


def test_the_same_seed_gives_the_same_configs_and_another_seed_others(name):
    assert run(make(name, seed=3)) == run(make(name, seed=3))
    assert run(make(name, seed=3))[1:] != run(make(name, seed=4))[1:]


def started(name):
    """A searcher 3 trials in, a fourth still running."""
    searcher = make(name)
    run(searcher, stop=3)
    return searcher, searcher.suggest("t3")


@pytest.mark.parametrize("codec", [pickle, cloudpickle], ids=["pickle", "cloudpickle"])
def test_state_round_trip_continues_the_same_search(name, codec):
    original, unfinished = started(name)
    assert unfinished is not None
    state = codec.loads(codec.dumps(original.state_dict()))
    restored = codec.loads(codec.dumps(FACTORIES[name](0)))  # as tuner.pkl holds it
    restored.set_search_properties("loss", "min", SPACE, num_samples=N)
    restored.load_state_dict(state)
    for searcher in (original, restored):
        searcher.on_trial_complete("t3", {"loss": loss(unfinished)})
    assert run(restored, start=4) == run(original, start=4)
