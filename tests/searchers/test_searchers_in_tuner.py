"""Each searcher inside a real ``Tuner.fit()`` with ASHA, the Pareto front of several
objectives, and ``Tuner.restore`` of an interrupted search continuing the same study."""

from __future__ import annotations

import os
import pickle
import sys

import cloudpickle
import pytest
from tuning import tuner

from caliper import tune
from caliper.schedulers import ASHAScheduler, FIFOScheduler
from caliper.searchers import (
    BayesOptSearch,
    ConcurrencyLimiter,
    HyperOptSearch,
    OptunaSearch,
    Repeater,
)
from caliper.tune.restore import SEARCHER_FILE, read_part

pytestmark = pytest.mark.timeout(90)
cloudpickle.register_pickle_by_value(sys.modules[__name__])

STEPS = 4
SPACE = {"x": tune.uniform(-3.0, 3.0), "y": tune.loguniform(1e-2, 1.0), "steps": STEPS}
POINT = {"x": 1.0, "y": 0.1}


def train(config):
    for step in range(1, config["steps"] + 1):
        loss = (config["x"] - 1.0) ** 2 + config["y"] + 1.0 / step
        tune.report({"loss": loss, "size": abs(config["x"]), "seed": config.get("__trial_index__")})


SEARCHERS = {
    "optuna": lambda: OptunaSearch(points_to_evaluate=[POINT], seed=0),
    "hyperopt": lambda: HyperOptSearch(
        points_to_evaluate=[POINT], n_initial_points=2, random_state_seed=0
    ),
    "bayesopt": lambda: BayesOptSearch(
        points_to_evaluate=[POINT], random_state=0, random_search_steps=2
    ),
    "limiter": lambda: ConcurrencyLimiter(OptunaSearch(points_to_evaluate=[POINT], seed=0), 1),
    "repeater": lambda: Repeater(OptunaSearch(points_to_evaluate=[POINT], seed=0), 2),
}


@pytest.mark.parametrize("name", sorted(SEARCHERS))
def test_each_searcher_runs_an_experiment_with_asha(rt, tmp_path, name):
    scheduler = ASHAScheduler(max_t=STEPS, grace_period=1, reduction_factor=2)
    results = tuner(
        train,
        tmp_path,
        param_space=SPACE,
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=6,
            search_alg=SEARCHERS[name](),
            scheduler=scheduler,
        ),
    ).fit()
    assert len(results) == 6 and results.num_errors == 0
    configs = [r.config for r in results]
    assert (configs[0]["x"], configs[0]["y"]) == (1.0, 0.1)  # the point to evaluate first
    assert all(-3 <= c["x"] <= 3 and 1e-2 <= c["y"] <= 1 and c["steps"] == STEPS for c in configs)
    assert results.get_best_result().metrics["loss"] < 2.0
    if name == "repeater":
        assert [c["__trial_index__"] for c in configs] == [0, 1] * 3
        assert configs[0]["x"] == configs[1]["x"]


def test_several_objectives_and_the_pareto_front(rt, tmp_path):
    searcher = OptunaSearch(metric=["loss", "size"], mode=["min", "min"], seed=0)
    results = tuner(
        train,
        tmp_path,
        param_space=SPACE,
        tune_config=tune.TuneConfig(num_samples=6, search_alg=searcher),
    ).fit()
    front = results.get_pareto_front(metric=["loss", "size"], mode=["min", "min"])
    assert front
    points = [(r.metrics["loss"], r.metrics["size"]) for r in results]
    for r in front:  # no result beats a front member in both
        mine = (r.metrics["loss"], r.metrics["size"])
        assert not any(p[0] <= mine[0] and p[1] <= mine[1] and p != mine for p in points)
    with pytest.raises(ValueError, match=r"metric and mode as lists"):
        results.get_pareto_front(metric="loss", mode="min")


class InterruptAfter(tune.Callback):
    """Ctrl-C in the driver after some results, once (a marker file says it fired)."""

    def __init__(self, results: int, marker: str):
        self.left = results
        self.marker = marker

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.left -= 1
        if self.left == 0 and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            raise KeyboardInterrupt


@pytest.mark.parametrize("name", ["optuna", "hyperopt"])
def test_an_interrupted_search_resumes_the_same_study(rt, tmp_path, name):
    searcher = SEARCHERS[name]()
    config = tune.TuneConfig(
        metric="loss", mode="min", num_samples=6, search_alg=searcher, max_concurrent_trials=2
    )
    first = tuner(
        train,
        tmp_path,
        param_space=SPACE,
        tune_config=config,
        callbacks=[InterruptAfter(9, str(tmp_path / "fired"))],
    ).fit()
    before = {r.metrics.get("trial_id"): r.config for r in first if r.metrics}
    assert 0 < len(first) < 6
    path = first.experiment_path
    results = tune.Tuner.restore(path, trainable=train).fit()
    assert len(results) == 6 and results.num_errors == 0
    ids = [r.metrics["trial_id"] for r in results]
    assert len(set(ids)) == 6
    for r in results:  # trials made before the interrupt kept their configs
        if r.metrics["trial_id"] in before:
            assert r.config == before[r.metrics["trial_id"]]
    with open(os.path.join(path, "experiment_state.json"), "rb") as f:
        import json

        state = json.load(f)
    saved = read_part(path, SEARCHER_FILE, state)
    pickle.dumps(saved)  # the state pickles without cloudpickle too
    if name == "optuna":
        told = [t for t in saved["study"].trials if t.state.is_finished()]
        assert len(told) == 6 == len(saved["study"].trials)  # none lost, none twice
        assert sorted(t.params["x"] for t in told) == sorted(r.config["x"] for r in results)
    else:
        docs = saved["trials"].trials
        assert len(docs) == 6 and all(d["result"]["status"] == "ok" for d in docs)


def test_fifo_with_a_model_based_searcher_and_max_concurrent(rt, tmp_path):
    results = tuner(
        train,
        tmp_path,
        param_space=SPACE,
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=4,
            search_alg=ConcurrencyLimiter(HyperOptSearch(random_state_seed=1), 2, batch=True),
            scheduler=FIFOScheduler(),
        ),
    ).fit()
    assert len(results) == 4 and all(r.metrics["training_iteration"] == STEPS for r in results)


def test_optuna_search_writes_to_a_named_study_in_a_storage(tmp_path, rt):
    optuna = pytest.importorskip("optuna")
    from caliper.searchers import OptunaSearch

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    searcher = OptunaSearch(study_name="mine", storage=url, seed=0)
    results = tune.Tuner(
        lambda config: {"loss": (config["x"] - 1) ** 2},
        param_space={"x": tune.uniform(-2.0, 2.0)},
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=4, search_alg=searcher),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert results.num_errors == 0
    study = optuna.load_study(study_name="mine", storage=url)
    assert len(study.trials) == 4
    assert sorted(t.params["x"] for t in study.trials) == sorted(r.config["x"] for r in results)
