"""The schedulers on synthetic learning curves whose values are known: ASHA stops exactly the
trials the paper's rule stops, HyperBand's brackets have the paper's sizes and keep the best,
and the median stopping rule stops the trials below the median."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

from caliper.schedulers import ASHAScheduler, HyperBandScheduler, MedianStoppingRule
from caliper.schedulers.rungs import hyperband_brackets
from caliper.tune.trial import Decision, TrialStatus
from tests.schedulers.simulate import Simulation


def exp_curve(config: dict, t: int) -> float:
    return config["final"] + (config["start"] - config["final"]) * math.exp(-t / config["tau"])


def random_configs(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "final": float(rng.uniform(0.0, 1.0)),
            "start": float(rng.uniform(1.0, 3.0)),
            "tau": float(rng.uniform(0.5, 8.0)),
        }
        for _ in range(n)
    ]


# -- ASHA ---------------------------------------------------------------------------------------


def test_asha_on_constant_curves_by_hand():
    """eta = 2, rungs 1, 2, 4 (= max_t); one trial at a time; losses 3, 1, 2, 4, 0.5, 5.

    Rung 1: 3 goes on (alone); 1 (best of 2, 1 place); 2 (2nd of 3, 2 places); 4 stops (4th of
    4, 2 places); 0.5 (best of 5); 5 stops (6th of 6, 3 places). Rung 2: 3 alone; 1 best of 2;
    2 is 2nd of 3 (2 places); 0.5 best of 4. All four reach max_t = 4 and stop there.
    """
    values = [3.0, 1.0, 2.0, 4.0, 0.5, 5.0]
    sim = Simulation(
        ASHAScheduler(max_t=4, grace_period=1, reduction_factor=2),
        [{"v": v} for v in values],
        lambda config, t: config["v"],
        max_iterations=100,
        concurrency=1,
    ).run()
    assert list(sim.reached().values()) == [4, 4, 4, 1, 4, 1]
    assert all(t.status is TrialStatus.TERMINATED for t in sim.trials)


def paper_rule_stops(log, values, milestones, eta, max_t) -> dict[str, int]:
    """Where each trial stops under Li et al.'s rule, replayed from the order results came in:
    at each rung a trial goes on only if fewer than ceil(n / eta) of the n values recorded
    there (its own included) are strictly better."""
    recorded: dict[int, list[float]] = defaultdict(list)
    done: dict[str, int] = {}
    passed: set[tuple[str, int]] = set()
    for trial_id, t, _ in log:
        if trial_id in done:
            continue
        for milestone in milestones:
            if t >= milestone and (trial_id, milestone) not in passed:
                passed.add((trial_id, milestone))
                value = values[(trial_id, t)]
                recorded[milestone].append(value)
                n = len(recorded[milestone])
                better = sum(1 for v in recorded[milestone] if v < value)
                if better >= math.ceil(n / eta):
                    done[trial_id] = t
                    break
        if trial_id not in done and t >= max_t:
            done[trial_id] = t
    return done


@pytest.mark.parametrize("concurrency", [1, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_asha_stops_exactly_the_trials_the_papers_rule_stops(concurrency, seed):
    configs = random_configs(60, seed)
    sim = Simulation(
        ASHAScheduler(max_t=27, grace_period=1, reduction_factor=3),
        configs,
        exp_curve,
        max_iterations=27,
        concurrency=concurrency,
    ).run()
    values = {}
    for trial in sim.trials:
        for t in range(1, 28):
            values[(trial.trial_id, t)] = exp_curve(trial.config, t)
    expected = paper_rule_stops(sim.log, values, [1, 3, 9, 27], 3, 27)
    stopped_at = {tid: t for tid, t, d in sim.log if d is Decision.STOP}
    assert stopped_at == expected
    assert sum(1 for t in stopped_at.values() if t == 27) >= 1
    assert sum(1 for t in stopped_at.values() if t == 1) > 30  # most stop at the first rung


def test_asha_maximising_mirrors_minimising():
    configs = random_configs(40, 7)
    runs = {}
    for mode, sign in (("min", 1), ("max", -1)):
        runs[mode] = Simulation(
            ASHAScheduler(max_t=9, grace_period=1, reduction_factor=3),
            configs,
            lambda config, t, sign=sign: sign * exp_curve(config, t),
            max_iterations=9,
            mode=mode,
        ).run()
    assert runs["min"].log == runs["max"].log


def test_asha_stops_a_nan_trial_at_its_first_rung():
    configs = [{"v": 1.0}, {"v": math.nan}, {"v": 2.0}]
    sim = Simulation(
        ASHAScheduler(max_t=9, grace_period=1, reduction_factor=3),
        configs,
        lambda config, t: config["v"],
        max_iterations=9,
        concurrency=1,
    ).run()
    assert list(sim.reached().values()) == [9, 1, 1]


# -- HyperBand ----------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 4])
def test_hyperband_brackets_run_the_papers_table_and_keep_the_best(concurrency):
    """R = 81, eta = 3: 81 + 34 + 15 + 8 + 5 = 143 trials fill the five brackets; at each rung
    of each bracket exactly ``n_i`` trials trained to ``r_i``, and those kept are the best."""
    plans = hyperband_brackets(81, 3)
    total = sum(plan.sizes[0] for plan in plans)
    assert total == 143
    sim = Simulation(
        HyperBandScheduler(max_t=81, reduction_factor=3),
        random_configs(total, 3),
        exp_curve,
        max_iterations=81,
        concurrency=concurrency,
    ).run()
    scheduler = sim.scheduler
    assert [b.s for b in scheduler.brackets] == [4, 3, 2, 1, 0]
    reached = sim.reached()
    by_id = {t.trial_id: t for t in sim.trials}
    for bracket, plan in zip(scheduler.brackets, plans, strict=True):
        members = bracket.members
        counts = [sum(reached[m] >= r for m in members) for r in plan.milestones]
        assert tuple(counts) == plan.sizes, (plan.s, counts)
        for i in range(len(plan.milestones) - 1):  # the kept are the best at the rung
            r = plan.milestones[i]
            at_rung = sorted(
                (m for m in members if reached[m] >= r),
                key=lambda m, r=r: exp_curve(by_id[m].config, r),
            )
            kept = {m for m in members if reached[m] >= plan.milestones[i + 1]}
            assert kept == set(at_rung[: plan.sizes[i + 1]])
    assert all(t.status is TrialStatus.TERMINATED for t in sim.trials)
    iterations = [i for tid, i, _ in sim.log]
    assert sim.iterations == len(iterations)  # resumed trials never repeat an iteration
    assert sim.iterations == sum(reached.values())


def test_hyperband_goes_on_with_a_partial_bracket_when_the_search_ends():
    """10 trials for R = 9, eta = 3 (plan: 9 + 5 + 3): the second bracket gets one trial, and
    runs it to the end once the search has finished."""
    sim = Simulation(
        HyperBandScheduler(max_t=9, reduction_factor=3),
        random_configs(10, 4),
        exp_curve,
        max_iterations=9,
    ).run()
    assert sim.told_finished
    assert list(sim.reached().values())[-1] == 9
    assert all(t.status is TrialStatus.TERMINATED for t in sim.trials)


# -- Median stopping rule -----------------------------------------------------------------------


def test_median_rule_stops_the_trials_worse_than_the_median_of_running_averages():
    """One at a time; grace period 2; three trials needed. Constant losses 1, 2, 3 run first
    (too few samples to judge them); then 2.5 is worse than the median 2 of the others' running
    averages and stops at the grace period, 1.5 goes on; 2.0 goes on at t=2 (equal to the
    median of 1, 2, 3, 2.5, 1.5: not strictly worse) and stops at t=3, where the samples are the
    trials that reached t=3 (1, 2, 3, 1.5: median 1.75)."""
    values = [1.0, 2.0, 3.0, 2.5, 1.5, 2.0]
    sim = Simulation(
        MedianStoppingRule(time_attr="training_iteration", grace_period=2),
        [{"v": v} for v in values],
        lambda config, t: config["v"],
        max_iterations=10,
        concurrency=1,
    ).run()
    assert list(sim.reached().values()) == [10, 10, 10, 2, 10, 3]


def test_median_rule_judges_the_best_so_far_against_averages_at_the_same_time():
    """A trial that starts badly and improves is judged by its best value, against the others'
    running averages up to the same time (not their final values)."""
    curves = {
        0: [5, 4, 3, 2, 1, 1],
        1: [5, 4, 3, 2, 1, 1],
        2: [5, 4, 3, 2, 1, 1],
        3: [9, 3.5, 3.5, 0.5, 0.5, 0.5],  # t=2: 3.5 < 4; t=3: 3.5 = (4 + 3) / 2: goes on
        4: [9, 9, 9, 9, 9, 9],  # at t=2: best 9 vs 4.5: stops
    }
    sim = Simulation(
        MedianStoppingRule(time_attr="training_iteration", grace_period=2),
        [{"i": i} for i in curves],
        lambda config, t: curves[config["i"]][t - 1],
        max_iterations=6,
        concurrency=1,
    ).run()
    assert list(sim.reached().values()) == [6, 6, 6, 6, 2]


def test_median_rule_soft_stop_pauses_and_runs_the_trial_last():
    values = [1.0, 2.0, 3.0, 2.5, 1.5]
    sim = Simulation(
        MedianStoppingRule(time_attr="training_iteration", grace_period=2, hard_stop=False),
        [{"v": v} for v in values],
        lambda config, t: config["v"],
        max_iterations=10,
        concurrency=1,
    ).run()
    paused = [(tid, t) for tid, t, d in sim.log if d is Decision.PAUSE]
    assert paused == [("t0003", 2)]
    order = [tid for tid, _, _ in sim.log]
    assert order[-8:] == ["t0003"] * 8  # resumed after everything else, to its end
    assert list(sim.reached().values()) == [10] * 5
