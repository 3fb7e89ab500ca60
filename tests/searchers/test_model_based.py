"""What each model-based searcher adds to the contract: Optuna's define-by-run spaces,
several objectives, known rewards, any sampler and intermediate values; HyperOpt's native
spaces and conditional choices; BayesOpt's acquisition functions; and bad input refused before
the first trial with the field and the rule named."""

from __future__ import annotations

import sys

import optuna
import pytest
from hyperopt import hp

from caliper import tune
from caliper.searchers import BayesOptSearch, HyperOptSearch, OptunaSearch

SPACE = {"x": tune.uniform(-5.0, 5.0), "epochs": 3}


def test_optuna_define_by_run_space_with_constants():
    def space(trial):
        kind = trial.suggest_categorical("model/kind", ["mlp", "tree"])
        if kind == "mlp":
            trial.suggest_float("model/lr", 1e-3, 1, log=True)
        return {"seed": 7}

    searcher = OptunaSearch(space, metric="loss", mode="min", seed=0)
    searcher.set_search_properties(None, None, {"epochs": 3})
    kinds = set()
    for i in range(12):
        config = searcher.suggest(f"t{i}")
        assert config["epochs"] == 3 and config["seed"] == 7
        kinds.add(config["model"]["kind"])
        assert ("lr" in config["model"]) == (config["model"]["kind"] == "mlp")
        searcher.on_trial_complete(f"t{i}", {"loss": float(i)})
    assert kinds == {"mlp", "tree"}


def test_optuna_several_objectives_and_any_sampler():
    sampler = optuna.samplers.NSGAIISampler(seed=0)
    searcher = OptunaSearch(metric=["a", "b"], mode=["min", "max"], sampler=sampler)
    searcher.set_search_properties(None, None, SPACE)
    for i in range(6):
        config = searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"a": config["x"] ** 2, "b": config["x"]})
    assert len(searcher.study.directions) == 2
    assert searcher.study.best_trials  # the Pareto front of the study


def test_optuna_tells_an_early_stopped_trial_its_last_value_and_keeps_intermediates():
    searcher = OptunaSearch(metric="loss", mode="min", seed=0)
    searcher.set_search_properties(None, None, SPACE)
    searcher.suggest("t0")
    for step, value in enumerate([3.0, 2.0, 1.5], start=1):
        searcher.on_trial_result("t0", {"loss": value, "training_iteration": step})
    searcher.on_trial_complete("t0", {"loss": 1.5, "training_iteration": 3})
    searcher.suggest("t1")
    searcher.on_trial_complete("t1", None, error=True)
    done, failed = searcher.study.trials
    assert done.value == 1.5 and done.intermediate_values == {1: 3.0, 2: 2.0, 3: 1.5}
    assert failed.state is optuna.trial.TrialState.FAIL


def test_optuna_evaluated_rewards_are_told_not_run():
    searcher = OptunaSearch(
        metric="loss", mode="min", points_to_evaluate=[{"x": 1.0}], evaluated_rewards=[0.5], seed=0
    )
    searcher.set_search_properties(None, None, SPACE)
    assert searcher.study.trials[0].value == 0.5
    assert searcher.suggest("t0")["x"] != 1.0


def test_hyperopt_native_space_and_max_mode():
    space = {"x": hp.uniform("x", 0, 1), "c": hp.choice("c", ["a", "b"])}
    searcher = HyperOptSearch(
        space, metric="score", mode="max", points_to_evaluate=[{"x": 0.3, "c": 1}]
    )
    searcher.set_search_properties(None, None, {"epochs": 2})
    first = searcher.suggest("t0")
    assert first == {"epochs": 2, "x": 0.3, "c": "b"}
    searcher.on_trial_complete("t0", {"score": 2.0})
    assert searcher.trials.trials[0]["result"] == {"loss": -2.0, "status": "ok"}


def test_bayesopt_utility_kinds_map_to_acquisition_functions():
    from bayes_opt import acquisition

    for kind, cls in (
        ("ucb", acquisition.UpperConfidenceBound),
        ("ei", acquisition.ExpectedImprovement),
        ("poi", acquisition.ProbabilityOfImprovement),
    ):
        searcher = BayesOptSearch(metric="l", mode="min", utility_kwargs={"kind": kind, "xi": 0.1})
        searcher.set_search_properties(None, None, SPACE)
        assert isinstance(searcher.optimizer.acquisition_function, cls)


# -- bad input --------------------------------------------------------------------------------

SEARCHERS = {
    "optuna": OptunaSearch,
    "hyperopt": HyperOptSearch,
    "bayesopt": BayesOptSearch,
}


@pytest.fixture(params=sorted(SEARCHERS))
def cls(request):
    return SEARCHERS[request.param]


def test_grid_search_and_sample_from_are_refused_by_name(cls):
    with pytest.raises(ValueError, match=r"grid_search at 'g'.*tune.choice"):
        cls(metric="l", mode="min").set_search_properties(
            None, None, {"g": tune.grid_search([1, 2])}
        )
    space = {"a": {"f": tune.sample_from(lambda spec: 1)}}
    with pytest.raises(ValueError, match=r"sample_from at 'a/f'.*tune.uniform"):
        cls(metric="l", mode="min").set_search_properties(None, None, space)


def test_metric_or_mode_given_twice_and_differently(cls):
    with pytest.raises(ValueError, match=r"metric is given twice and differently"):
        cls(metric="a", mode="min").set_search_properties("b", "min", SPACE)
    with pytest.raises(ValueError, match=r"mode is given twice and differently"):
        cls(metric="a", mode="min").set_search_properties("a", "max", SPACE)
    with pytest.raises(ValueError, match=r"needs a metric and a mode"):
        cls().set_search_properties(None, None, SPACE)


def test_points_with_unknown_keys_or_out_of_range_values(cls):
    with pytest.raises(ValueError, match=r"points_to_evaluate\[1\] sets 'y', which is not"):
        cls(
            metric="l", mode="min", points_to_evaluate=[{"x": 0.0}, {"y": 1}]
        ).set_search_properties(None, None, SPACE)
    with pytest.raises(ValueError, match=r"sets 'x' to 9.0, which is outside \[-5.0, 5.0\]"):
        cls(metric="l", mode="min", points_to_evaluate=[{"x": 9.0}]).set_search_properties(
            None, None, SPACE
        )


def test_a_space_given_twice_or_not_at_all(cls):
    with pytest.raises(ValueError, match=r"search space is given twice"):
        cls({"x": tune.uniform(0, 1)}, metric="l", mode="min").set_search_properties(
            None, None, SPACE
        )
    with pytest.raises(ValueError, match=r"has no search space"):
        cls(metric="l", mode="min").set_search_properties(None, None, {"epochs": 3})


def test_native_and_caliper_domains_mixed():
    with pytest.raises(ValueError, match=r"mixes Optuna distributions \('a'\) with caliper"):
        OptunaSearch({"a": optuna.distributions.FloatDistribution(0, 1), "b": tune.uniform(0, 1)})
    with pytest.raises(ValueError, match=r"mixes HyperOpt expressions"):
        HyperOptSearch({"a": hp.uniform("a", 0, 1), "b": tune.uniform(0, 1)})


def test_other_bad_arguments_name_the_field():
    with pytest.raises(ValueError, match=r"randn.*bounded range"):
        OptunaSearch(metric="l", mode="min").set_search_properties(None, None, {"n": tune.randn()})
    with pytest.raises(ValueError, match=r"seed the sampler you give"):
        OptunaSearch(sampler=optuna.samplers.RandomSampler(), seed=1)
    with pytest.raises(ValueError, match=r"evaluated_rewards needs one reward per"):
        OptunaSearch(points_to_evaluate=[{"x": 1}], evaluated_rewards=[1, 2])
    with pytest.raises(ValueError, match=r"lists of the same length"):
        OptunaSearch(metric=["a", "b"], mode=["min"])
    with pytest.raises(ValueError, match=r"gamma must be a number in \(0, 1\)"):
        HyperOptSearch(gamma=1.5)
    with pytest.raises(ValueError, match=r"utility_kwargs kind must be one of"):
        BayesOptSearch(utility_kwargs={"kind": "xx"})
    with pytest.raises(ValueError, match=r"utility_kwargs has unknown keys \['kapa'\]"):
        BayesOptSearch(utility_kwargs={"kapa": 1})


@pytest.mark.parametrize(
    ("cls", "module", "extra"),
    [
        (OptunaSearch, "optuna", "optuna"),
        (HyperOptSearch, "hyperopt", "hyperopt"),
        (BayesOptSearch, "bayes_opt", "bayesopt"),
    ],
)
def test_a_missing_library_names_the_extra(monkeypatch, cls, module, extra):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=rf'pip install "caliper\[{extra}\]"'):
        cls(metric="l", mode="min").set_search_properties(None, None, SPACE)
