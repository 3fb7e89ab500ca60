"""Schedulers that pause trials beside a searcher that limits how many trials are live: the
paused trials fill the limiter, so the controller asks the scheduler to go on with the trials
it has (``on_stall``) instead of waiting for ever; a scheduler that still chooses none is an
error that names the waiting trials."""

from __future__ import annotations

import pytest

from caliper import tune
from caliper.schedulers import FIFOScheduler, HyperBandScheduler, MedianStoppingRule
from caliper.searchers import BasicVariantGenerator, ConcurrencyLimiter
from tests.schedulers.trainables import counting

pytestmark = pytest.mark.timeout(120)


def run(tmp_path, scheduler, num_samples=9, max_concurrent=2):
    searcher = ConcurrencyLimiter(BasicVariantGenerator(random_state=0), max_concurrent)
    return tune.Tuner(
        tune.with_resources(counting, {"cpu": 0.5}),
        param_space={"x": tune.uniform(0.0, 1.0)},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=num_samples,
            search_alg=searcher,
            scheduler=scheduler,
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()


def test_hyperband_cuts_the_brackets_a_limiter_keeps_from_filling(rt, tmp_path):
    results = run(tmp_path, HyperBandScheduler(max_t=9, reduction_factor=3))
    assert len(results) == 9
    assert {r.metrics["training_iteration"] for r in results} <= {1, 3, 9}
    assert max(r.metrics["training_iteration"] for r in results) == 9
    assert results.num_terminated == 9


def test_soft_stopped_trials_resume_when_a_limiter_holds_them(rt, tmp_path):
    rule = MedianStoppingRule(
        time_attr="training_iteration", grace_period=1, min_samples_required=1, hard_stop=False
    )
    results = run(tmp_path, rule, num_samples=6)
    assert len(results) == 6
    assert [r.metrics["training_iteration"] for r in results] == [9] * 6  # all ran to the end


class NeverChooses(FIFOScheduler):
    """Pauses every trial at its second result and never runs a paused one again."""

    decides_per_result = True

    def on_trial_result(self, trial, result):
        return self.PAUSE if result["training_iteration"] == 2 else self.CONTINUE

    def choose_trial_to_run(self, trials):
        return next((t for t in trials if t.status.value == "PENDING"), None)


def test_a_scheduler_that_chooses_no_waiting_trial_is_an_error_not_a_hang(rt, tmp_path):
    with pytest.raises(Exception, match=r"no trial can go on: .*PAUSED.*NeverChooses"):
        run(tmp_path, NeverChooses(), num_samples=4)
