"""PB2: the GP bandit finds where rewards grow, remembers what it saw across a restore, and
inside an experiment beats the same population without exploitation on the PBT toy problem."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from caliper.schedulers import PB2, FIFOScheduler
from caliper.schedulers.pb2_gp import fit, posterior, select
from caliper.tune.trainable_wrappers import PlacementGroupFactory
from caliper.tune.trial import Decision, Trial, TrialStatus
from tests.schedulers.test_pbt_tuner import run_population


def test_select_goes_where_the_reward_grows():
    rng = np.random.default_rng(0)
    x = rng.random((40, 1))
    times = np.repeat(np.arange(8.0), 5)[:, None]
    y = -((x[:, 0] - 0.7) ** 2)
    chosen = select(np.hstack([times, x]), y, 8.0, np.empty((0, 2)), rng)
    assert abs(chosen[0] - 0.7) < 0.15


def test_pending_points_push_the_next_choice_away():
    rng = np.random.default_rng(1)
    x = rng.random((30, 1))
    data = np.hstack([np.zeros((30, 1)), x])
    y = np.sin(3 * x[:, 0])  # flat-ish near the top: uncertainty decides
    free = select(data, y, 1.0, np.empty((0, 2)), np.random.default_rng(2))
    busy = select(data, y, 1.0, np.array([[1.0, free[0]]] * 3), np.random.default_rng(2))
    assert abs(busy[0] - free[0]) > 1e-3


def test_posterior_interpolates_and_fit_prefers_the_right_lengthscale():
    x = np.hstack([np.zeros((20, 1)), np.linspace(0, 1, 20)[:, None]])
    y = np.sin(6 * x[:, 1])
    y = (y - y.mean()) / y.std()
    lengthscale, _ = fit(x, y)
    assert 0.1 <= lengthscale <= 0.8
    mean, std = posterior(x, y, x[::5], lengthscale, 0.0)
    assert np.allclose(mean, y[::5], atol=0.2)
    assert (std < 0.2).all()


def make_trial(index, h0):
    return Trial(
        f"t{index}", {"h0": h0, "h1": 1 - h0}, f"{index}", PlacementGroupFactory([{"CPU": 1}])
    )


def test_pb2_explores_inside_the_bounds_and_survives_a_state_round_trip():
    scheduler = PB2(
        time_attr="training_iteration",
        perturbation_interval=1,
        hyperparam_bounds={"h0": [0.0, 1.0], "h1": [0, 10]},
        quantile_fraction=0.5,
        seed=0,
    )
    scheduler.set_search_properties("Q", "max", config={"h0": 0.5, "h1": 5})
    trials = [make_trial(i, h0) for i, h0 in enumerate((0.1, 0.4, 0.6, 0.9))]
    for trial in trials:
        trial.checkpoints = [{"path": "/c", "metrics": {}}]
        trial.status = TrialStatus.RUNNING
        scheduler.on_trial_add(trial)
    configs = []
    for it in range(1, 6):
        if it == 3:  # continue in a new scheduler from the saved state
            state = pickle.loads(pickle.dumps(scheduler.state_dict()))
            scheduler = PB2(
                time_attr="training_iteration",
                perturbation_interval=1,
                hyperparam_bounds={"h0": [0.0, 1.0], "h1": [0, 10]},
                quantile_fraction=0.5,
            )
            scheduler.load_state_dict(state)
        for trial in trials:
            result = {"training_iteration": it, "Q": it * trial.config["h0"]}
            decision = scheduler.on_trial_result(trial, result)
            assert decision in (Decision.CONTINUE, Decision.PAUSE)
        for action in scheduler.take_actions():
            configs.append(action.config)
            next(t for t in trials if t.trial_id == action.trial_id).config = action.config
    assert configs
    for config in configs:
        assert 0.0 <= config["h0"] <= 1.0
        assert isinstance(config["h1"], int) and 0 <= config["h1"] <= 10
    assert len(scheduler.state_dict()["data_y"]) == 4 * 4  # one change per trial and time


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        (None, "PB2 needs hyperparam_bounds"),
        ({"lr": [1.0, 0.1]}, r"hyperparam_bounds\['lr'\] must be \[lower, upper\]"),
        ({"lr": "0.1-1"}, r"hyperparam_bounds\['lr'\] must be"),
    ],
)
def test_bad_bounds_are_named(bounds, message):
    with pytest.raises(ValueError, match=message):
        PB2(hyperparam_bounds=bounds)


@pytest.mark.timeout(120)
def test_pb2_beats_the_same_population_without_exploitation(tmp_path, rt):
    plain = run_population(tmp_path, rt, FIFOScheduler(), "plain")
    best_plain = max(r.metrics["Q"] for r in plain)
    scheduler = PB2(
        time_attr="training_iteration",
        perturbation_interval=4,
        hyperparam_bounds={"h0": [0.0, 1.0], "h1": [0.0, 1.0]},
        quantile_fraction=0.5,
        synch=True,
        seed=0,
    )
    results = run_population(tmp_path, rt, scheduler, "pb2")
    assert results.num_errors == 0
    assert scheduler.num_perturbations > 0
    assert max(r.metrics["Q"] for r in results) > best_plain + 0.5
