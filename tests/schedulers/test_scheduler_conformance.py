"""Every scheduler through the whole trial lifecycle on a virtual clock, no processes: trials
added, results, pauses and resumes where the scheduler pauses, completion, an error, and a
state round trip in the middle that changes no later decision.

To add a scheduler, add a factory to ``SCHEDULERS`` (a fresh, unconfigured instance each
call; the experiment's metric is "loss", mode "min").
"""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

from caliper.schedulers import (
    PB2,
    ASHAScheduler,
    FIFOScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
)
from caliper.tune import search_space
from caliper.tune.trial import Decision, TrialStatus
from tests.schedulers.simulate import Simulation, make_trial

MAX_T = 9

SCHEDULERS = [
    pytest.param(FIFOScheduler, id="fifo"),
    pytest.param(lambda: ASHAScheduler(max_t=MAX_T, grace_period=1, reduction_factor=3), id="asha"),
    pytest.param(
        lambda: ASHAScheduler(max_t=MAX_T, grace_period=1, reduction_factor=3, brackets=2),
        id="asha-2-brackets",
    ),
    pytest.param(lambda: HyperBandScheduler(max_t=MAX_T, reduction_factor=3), id="hyperband"),
    pytest.param(
        lambda: MedianStoppingRule(
            time_attr="training_iteration", grace_period=2, min_samples_required=2
        ),
        id="median",
    ),
    pytest.param(
        lambda: MedianStoppingRule(
            time_attr="training_iteration", grace_period=2, min_samples_required=2, hard_stop=False
        ),
        id="median-soft",
    ),
    pytest.param(
        lambda: PopulationBasedTraining(
            time_attr="training_iteration",
            perturbation_interval=2,
            hyperparam_mutations={"tau": search_space.uniform(1.0, 4.0)},
            seed=0,
        ),
        id="pbt",
    ),
    pytest.param(
        lambda: PopulationBasedTraining(
            time_attr="training_iteration",
            perturbation_interval=3,
            hyperparam_mutations={"tau": [1.0, 2.0, 3.0, 4.0]},
            synch=True,
            seed=0,
        ),
        id="pbt-synch",
    ),
    pytest.param(
        lambda: PB2(
            time_attr="training_iteration",
            perturbation_interval=2,
            hyperparam_bounds={"tau": [1.0, 4.0]},
            seed=0,
        ),
        id="pb2",
    ),
]

#: arguments a scheduler cannot do without
REQUIRED = {
    PopulationBasedTraining: {"hyperparam_mutations": {"tau": [1.0, 2.0]}},
    PB2: {"hyperparam_bounds": {"tau": [1.0, 4.0]}},
}

#: the trial that fails for good, and at which iteration
FAIL_AT = {3: 1}


def configs(n: int = 20, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "final": float(rng.uniform(0.1, 1.0)),
            "start": float(rng.uniform(1.5, 3.0)),
            "tau": float(rng.uniform(1.0, 4.0)),
        }
        for _ in range(n)
    ]


def curve(config: dict, t: int) -> float:
    return config["final"] + (config["start"] - config["final"]) * math.exp(-t / config["tau"])


def simulation(factory, n: int = 20, concurrency: int = 2) -> Simulation:
    return Simulation(
        factory(), configs(n), curve, MAX_T, concurrency=concurrency, fail_at=dict(FAIL_AT)
    )


def is_plain(value) -> bool:
    """Only containers and scalars of the standard library (no classes of ours)."""
    if isinstance(value, dict):
        return all(isinstance(k, str | int) and is_plain(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return all(is_plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


@pytest.mark.parametrize("factory", SCHEDULERS)
def test_full_lifecycle_ends_every_trial_once(factory):
    sim = simulation(factory).run()
    statuses = {t.trial_id: t.status for t in sim.trials}
    assert len(statuses) == 20
    failed = make_trial(3, {}).trial_id
    assert statuses.pop(failed) is TrialStatus.ERROR
    assert set(statuses.values()) == {TrialStatus.TERMINATED}, statuses
    assert sorted(sim.complete_calls) == sorted(statuses)  # on_trial_complete once each
    assert all(isinstance(d, Decision) for _, _, d in sim.log)
    reached = sim.reached()
    assert max(reached.values()) == MAX_T  # the best trial goes the whole way
    for trial_id, it, decision in sim.log:  # a paused trial resumed, or was stopped waiting
        if decision is Decision.PAUSE:
            later = [i for tid, i, _ in sim.log if tid == trial_id and i > it]
            assert later or trial_id in sim.complete_calls


@pytest.mark.parametrize("factory", SCHEDULERS)
def test_schedulers_that_pause_resume_from_the_checkpoint(factory):
    sim = simulation(factory).run()
    paused = {tid for tid, _, d in sim.log if d is Decision.PAUSE}
    for trial_id in paused - sim.exploited:  # an exploited trial goes on from another's
        iterations = [i for tid, i, _ in sim.log if tid == trial_id]
        assert iterations == list(range(1, len(iterations) + 1))  # no iteration run twice
    if isinstance(sim.scheduler, HyperBandScheduler):
        resumed = {tid for tid in paused if sim.reached()[tid] > 1}
        assert paused and resumed


@pytest.mark.parametrize("factory", SCHEDULERS)
@pytest.mark.parametrize("fraction", [0.1, 0.4, 0.8])
def test_state_round_trip_mid_way_changes_no_decision(factory, fraction):
    first = simulation(factory)
    for _ in range(int(fraction * first.count_steps())):
        assert first.step()
    state = first.scheduler.state_dict()
    assert is_plain(state), state
    state = pickle.loads(pickle.dumps(state))
    second = copy.deepcopy(first)
    second.scheduler = factory()
    second.scheduler.set_search_properties("loss", "min")
    second.scheduler.load_state_dict(state)
    first.run()
    second.run()
    assert second.log == first.log
    assert [t.status for t in second.trials] == [t.status for t in first.trials]
    assert second.scheduler.state_dict() == first.scheduler.state_dict()


@pytest.mark.parametrize("factory", SCHEDULERS)
def test_a_result_without_the_schedulers_own_metric_is_a_clear_error(factory):
    scheduler = factory()
    if not scheduler.decides_per_result:
        pytest.skip("FIFO reads no metric")
    scheduler.set_search_properties("accuracy", "max")
    trial = make_trial(0, configs(1)[0])
    scheduler.on_trial_add(trial)
    with pytest.raises(ValueError, match=r"without the metric 'accuracy'.*\['loss'"):
        scheduler.on_trial_result(
            trial, {"training_iteration": 5, "time_total_s": 5.0, "loss": 1.0}
        )


@pytest.mark.parametrize("factory", SCHEDULERS)
def test_without_metric_or_mode_a_ranking_scheduler_says_where_to_give_them(factory):
    scheduler = factory()
    if not scheduler.decides_per_result:
        pytest.skip("FIFO ranks nothing")
    scheduler.set_search_properties(None, None)
    with pytest.raises(ValueError, match=r"needs a metric and a mode.*TuneConfig"):
        scheduler.on_trial_add(make_trial(0, configs(1)[0]))


@pytest.mark.parametrize("factory", SCHEDULERS)
def test_metric_and_mode_come_from_tune_config_unless_given(factory):
    scheduler = factory()
    scheduler.set_search_properties("loss", "min")
    assert (scheduler.metric, scheduler.mode) == ("loss", "min")
    if scheduler.decides_per_result:
        extra = REQUIRED.get(type(scheduler), {})
        own = type(scheduler)(metric="acc", mode="max", **extra)
        own.set_search_properties(None, None)
        assert (own.metric, own.mode) == ("acc", "max")
        with pytest.raises(ValueError, match="given twice and differently"):
            type(scheduler)(metric="acc", mode="max", **extra).set_search_properties("loss", "max")
