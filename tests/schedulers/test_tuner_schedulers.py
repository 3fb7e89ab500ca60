"""ASHA, HyperBand and the median stopping rule inside real experiments (worker processes):
the trials they stop end where the rules say, and HyperBand's kept trials resume from their
checkpoints while the others end without running again."""

from __future__ import annotations

import pytest

from caliper import tune
from caliper.schedulers import ASHAScheduler, HyperBandScheduler, MedianStoppingRule
from tests.tuning import read_lines, read_state, tuner

pytestmark = pytest.mark.timeout(120)


def decaying(config):
    """loss = v + 1 / i at iteration i (the order of trials never changes)."""
    for i in range(1, 10):
        tune.report({"loss": config["v"] + 1.0 / i})


def reached(results) -> dict[float, int]:
    return {r.config["v"]: r.metrics["training_iteration"] for r in results}


def statuses(results) -> set[str]:
    return {t["status"] for t in read_state(results.experiment_path)["trials"]}


def run_grid(trainable, tmp_path, values, scheduler, at_once=1):
    """Every value of ``v`` once, ``at_once`` trials at a time, minimising ``loss``."""
    return tuner(
        trainable,
        tmp_path,
        param_space={"v": tune.grid_search(values)},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", max_concurrent_trials=at_once, scheduler=scheduler
        ),
    ).fit()


def test_asha_stops_the_trials_outside_the_top_third_at_each_rung(tmp_path, rt):
    """One trial at a time, eta = 3, rungs 1, 3, 9. Rung 1 (loss v + 1): 1.5 first; 1.2 best
    of 2; 1.9 third of 3 (1 place): stops; 1.1 best of 4; 1.7 and 1.8 stop (2 places). Rung 3:
    0.83 alone, 0.53 and 0.43 each the best so far. Those three reach max_t = 9."""
    values = [0.5, 0.2, 0.9, 0.1, 0.7, 0.8]
    results = run_grid(
        decaying,
        tmp_path,
        values,
        ASHAScheduler(max_t=9, grace_period=1, reduction_factor=3),
        at_once=1,
    )
    assert reached(results) == {0.5: 9, 0.2: 9, 0.9: 1, 0.1: 9, 0.7: 1, 0.8: 1}
    assert statuses(results) == {"TERMINATED"}
    assert results.get_best_result().config == {"v": 0.1}


def resumable(config):
    """loss = v / i; a checkpoint at every iteration, resumed from when there is one."""
    checkpoint = tune.get_checkpoint()
    start = checkpoint.to_dict()["i"] if checkpoint else 0
    for i in range(start + 1, 4):
        tune.report(
            {"loss": config["v"] / i, "resumed_from": start},
            checkpoint=tune.Checkpoint.from_dict({"i": i}),
        )


def test_hyperband_pauses_at_the_rung_and_resumes_the_best_from_its_checkpoint(tmp_path, rt):
    """R = 3, eta = 3: bracket s=1 takes 3 trials to r=1 and keeps 1 to r=3; bracket s=0
    runs 2 trials to 3. One trial at a time, so the first two pause at r=1 and the third
    completes the rung (and is cut there): the kept one, paused, continues from its checkpoint
    (no iteration twice), the other paused one ends TERMINATED without running again."""
    values = [0.3, 0.1, 0.2, 0.5, 0.4]
    results = run_grid(
        resumable, tmp_path, values, HyperBandScheduler(max_t=3, reduction_factor=3), at_once=1
    )
    assert reached(results) == {0.3: 1, 0.1: 3, 0.2: 1, 0.5: 3, 0.4: 3}
    assert statuses(results) == {"TERMINATED"}
    best = results.get_best_result()
    assert best.config == {"v": 0.1}
    lines = read_lines(best.path)
    assert [line["training_iteration"] for line in lines] == [1, 2, 3]
    assert [line["resumed_from"] for line in lines] == [0, 1, 1]


def test_median_rule_stops_a_trial_below_the_median(tmp_path, rt):
    def constant(config):
        for _ in range(6):
            tune.report({"loss": config["v"]})

    values = [1.0, 2.0, 3.0, 2.5, 1.5]
    results = run_grid(
        constant,
        tmp_path,
        values,
        MedianStoppingRule(time_attr="training_iteration", grace_period=2),
        at_once=1,
    )
    assert reached(results) == {1.0: 6, 2.0: 6, 3.0: 6, 2.5: 2, 1.5: 6}


def test_hyperband_two_at_a_time_ends_every_trial_and_never_repeats_an_iteration(tmp_path, rt):
    """As above with 2 trials at a time: which trial completes the rung depends on timing (the
    kept one goes on without a pause when it is the last to report), the outcome does not."""
    values = [0.3, 0.1, 0.2, 0.5, 0.4]
    results = run_grid(
        resumable, tmp_path, values, HyperBandScheduler(max_t=3, reduction_factor=3), at_once=2
    )
    assert reached(results) == {0.3: 1, 0.1: 3, 0.2: 1, 0.5: 3, 0.4: 3}
    assert statuses(results) == {"TERMINATED"}
    lines = read_lines(results.get_best_result().path)
    assert [line["training_iteration"] for line in lines] == [1, 2, 3]
    assert [line["resumed_from"] for line in lines] in ([0, 1, 1], [0, 0, 0])


def test_hyperband_finishes_a_bracket_the_search_left_partly_filled(tmp_path, rt):
    """Two trials for a bracket planned for three (R = 3, eta = 3): when the search ends they
    are both paused at r=1; the bracket then goes on with them, keeping the better one."""
    results = tuner(
        resumable,
        tmp_path,
        param_space={"v": tune.grid_search([0.3, 0.1])},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            scheduler=HyperBandScheduler(max_t=3, reduction_factor=3),
        ),
    ).fit()
    assert statuses(results) == {"TERMINATED"}
    assert reached(results) == {0.3: 1, 0.1: 3}
