"""Trials still running when the next one is asked for: Optuna's default sampler counts them
with its constant liar, HyperOpt's store holds them as running; with one trial at a time the
search is the library's own loop, draw for draw."""

from __future__ import annotations

import numpy as np
import optuna
from hyperopt import STATUS_OK, Trials, fmin, hp, tpe
from hyperopt.base import JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_RUNNING

from caliper import tune
from caliper.searchers import HyperOptSearch, OptunaSearch

SPACE = {"x": tune.uniform(-5.0, 5.0), "y": tune.uniform(0.0, 1.0)}


def loss(x: float, y: float) -> float:
    return (x - 1.0) ** 2 + (y - 0.3) ** 2


def test_optuna_default_sampler_is_multivariate_tpe_with_the_constant_liar():
    searcher = OptunaSearch(metric="loss", mode="min", seed=0)
    searcher.set_search_properties(None, None, SPACE)
    sampler = searcher.study.sampler
    assert type(sampler) is optuna.samplers.TPESampler
    assert sampler._constant_liar is True and sampler._multivariate is True

    several = OptunaSearch(metric=["a", "b"], mode=["min", "max"], seed=0)
    several.set_search_properties(None, None, SPACE)
    assert several.study.sampler._constant_liar is True
    assert several.study.sampler._multivariate is False  # Optuna's choice for several objectives


def test_optuna_a_given_sampler_is_used_as_it_is():
    sampler = optuna.samplers.TPESampler(seed=0, constant_liar=False, multivariate=False)
    searcher = OptunaSearch(metric="loss", mode="min", sampler=sampler)
    searcher.set_search_properties(None, None, SPACE)
    assert searcher.study.sampler is sampler
    assert sampler._constant_liar is False and sampler._multivariate is False


def test_optuna_one_at_a_time_is_study_optimize_without_the_liar():
    # nothing is running when a trial is asked for, so the liar changes no draw
    n = 16  # past TPE's 10 random startup trials
    searcher = OptunaSearch(metric="loss", mode="min", seed=3)
    searcher.set_search_properties(None, None, SPACE)
    mine = []
    for i in range(n):
        config = searcher.suggest(f"t{i}")
        mine.append((config["x"], config["y"]))
        searcher.on_trial_complete(f"t{i}", {"loss": loss(config["x"], config["y"])})

    sampler = optuna.samplers.TPESampler(seed=3, multivariate=True, constant_liar=False)
    study = optuna.create_study(sampler=sampler)
    study.optimize(
        lambda t: loss(t.suggest_float("x", -5.0, 5.0), t.suggest_float("y", 0.0, 1.0)),
        n_trials=n,
    )
    assert mine == [(t.params["x"], t.params["y"]) for t in study.trials]


def test_optuna_a_trial_asked_for_while_another_runs_is_where_the_liar_differs():
    def run(searcher: OptunaSearch) -> list[tuple]:
        searcher.set_search_properties(None, None, SPACE)
        for i in range(10):
            config = searcher.suggest(f"t{i}")
            searcher.on_trial_complete(f"t{i}", {"loss": loss(config["x"], config["y"])})
        asked = [searcher.suggest("a"), searcher.suggest("b")]  # "b" while "a" runs
        states = [t.state for t in searcher.study.trials[-2:]]
        assert states == [optuna.trial.TrialState.RUNNING] * 2
        return [(c["x"], c["y"]) for c in asked]

    liar = run(OptunaSearch(metric="loss", mode="min", seed=0))
    no_liar = run(
        OptunaSearch(
            metric="loss",
            mode="min",
            sampler=optuna.samplers.TPESampler(seed=0, multivariate=True, constant_liar=False),
        )
    )
    assert liar[0] == no_liar[0]  # nothing running yet: the same draw
    assert liar[1] != no_liar[1]  # "a" counted as a bad outcome moves the next one


def test_hyperopt_trials_handed_out_are_running_until_told():
    searcher = HyperOptSearch(metric="loss", mode="min", random_state_seed=0, n_initial_points=2)
    searcher.set_search_properties(None, None, SPACE)
    configs = {f"t{i}": searcher.suggest(f"t{i}") for i in range(4)}
    assert [d["state"] for d in searcher.trials.trials] == [JOB_STATE_RUNNING] * 4
    searcher.on_trial_complete("t0", {"loss": loss(configs["t0"]["x"], configs["t0"]["y"])})
    searcher.on_trial_complete("t1", None, error=True)
    searcher.suggest("t4")  # TPE, with t2 and t3 still running
    states = {d["tid"]: d["state"] for d in searcher.trials._dynamic_trials}
    assert states == {
        0: JOB_STATE_DONE,
        1: JOB_STATE_ERROR,
        2: JOB_STATE_RUNNING,
        3: JOB_STATE_RUNNING,
        4: JOB_STATE_RUNNING,
    }
    assert len(searcher.trials.trials) == 4  # the failed one is left out of the model


def test_hyperopt_one_at_a_time_is_fmin():
    n = 25  # past the 20 random startup trials
    searcher = HyperOptSearch(metric="loss", mode="min", random_state_seed=5)
    searcher.set_search_properties(None, None, SPACE)
    mine = []
    for i in range(n):
        config = searcher.suggest(f"t{i}")
        mine.append((config["x"], config["y"]))
        searcher.on_trial_complete(f"t{i}", {"loss": loss(config["x"], config["y"])})

    store = Trials()
    fmin(
        lambda c: {"loss": loss(c["x"], c["y"]), "status": STATUS_OK},
        {"x": hp.uniform("x", -5.0, 5.0), "y": hp.uniform("y", 0.0, 1.0)},
        algo=tpe.suggest,
        max_evals=n,
        trials=store,
        rstate=np.random.default_rng(5),
        show_progressbar=False,
    )
    assert mine == [(d["misc"]["vals"]["x"][0], d["misc"]["vals"]["y"][0]) for d in store.trials]
