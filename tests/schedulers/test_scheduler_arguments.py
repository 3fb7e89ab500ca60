"""Bad arguments to ASHA, HyperBand and the median stopping rule fail at construction with a
message naming the argument and the rule; bad results name the field."""

from __future__ import annotations

import pytest

from caliper.schedulers import (
    ASHAScheduler,
    AsyncHyperBandScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
)
from tests.schedulers.simulate import make_trial


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_t": 1, "grace_period": 2}, ValueError, r"max_t must be >= grace_period"),
        ({"reduction_factor": 1}, ValueError, r"=1\): reduction_factor must be > 1"),
        ({"reduction_factor": 0.5}, ValueError, r"reduction_factor must be > 1"),
        ({"max_t": 0}, ValueError, r"max_t must be > 0"),
        ({"grace_period": 0}, ValueError, r"grace_period must be > 0"),
        ({"grace_period": "1"}, TypeError, r"grace_period=...\) must be a number"),
        ({"mode": "minimize"}, ValueError, r"mode must be 'min' or 'max'"),
        ({"brackets": 0}, ValueError, r"brackets must be >= 1"),
        ({"brackets": 2.0}, TypeError, r"brackets=...\) must be an int"),
        ({"max_t": 9, "reduction_factor": 3, "brackets": 4}, ValueError, r"at most 3 brackets"),
        ({"time_attr": ""}, TypeError, r"time_attr=...\) must be a non-empty string"),
        ({"stop_last_trials": "yes"}, TypeError, r"stop_last_trials=...\) must be True or False"),
    ],
)  # fmt: skip
def test_asha_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ASHAScheduler(**kwargs)


def test_asha_unknown_keyword_raises():
    with pytest.raises(TypeError, match="grace"):
        ASHAScheduler(grace=3)


def test_async_hyperband_is_asha():
    assert AsyncHyperBandScheduler is ASHAScheduler


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"reduction_factor": 1}, ValueError, r"reduction_factor must be > 1"),
        ({"max_t": -1}, ValueError, r"max_t must be > 0"),
        ({"mode": "best"}, ValueError, r"mode must be 'min' or 'max'"),
        ({"metric": 3}, TypeError, r"metric=...\) must be a non-empty string"),
    ],
)
def test_hyperband_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        HyperBandScheduler(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"grace_period": -1}, ValueError, r"grace_period must be >= 0"),
        ({"min_samples_required": 0}, ValueError, r"min_samples_required must be >= 1"),
        ({"min_samples_required": 2.5}, TypeError, r"must be an int"),
        ({"min_time_slice": -0.5}, ValueError, r"min_time_slice must be >= 0"),
        ({"hard_stop": 0}, TypeError, r"hard_stop=...\) must be True or False"),
        ({"mode": "MAX"}, ValueError, r"mode must be 'min' or 'max'"),
    ],
)
def test_median_rule_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        MedianStoppingRule(**kwargs)


@pytest.mark.parametrize(
    "factory",
    [
        lambda: ASHAScheduler(time_attr="epoch", metric="loss", mode="min"),
        lambda: HyperBandScheduler(time_attr="epoch", metric="loss", mode="min"),
        lambda: MedianStoppingRule(time_attr="epoch", metric="loss", mode="min"),
    ],
    ids=["asha", "hyperband", "median"],
)
def test_results_without_time_attr_or_with_a_non_number_metric(factory):
    scheduler = factory()
    trial = make_trial(0, {})
    scheduler.on_trial_add(trial)
    with pytest.raises(ValueError, match=r"time_attr='epoch'\): trial t0000 .* without 'epoch'"):
        scheduler.on_trial_result(trial, {"training_iteration": 1, "loss": 1.0})
    with pytest.raises(TypeError, match=r"reported loss='low', which is not a number"):
        scheduler.on_trial_result(trial, {"epoch": 1, "loss": "low"})


def test_load_state_of_a_differently_shaped_scheduler_says_so():
    state = ASHAScheduler(max_t=27, reduction_factor=3, metric="m", mode="min").state_dict()
    with pytest.raises(ValueError, match="same max_t, grace_period"):
        ASHAScheduler(max_t=9, reduction_factor=3).load_state_dict(state)
    hb = HyperBandScheduler(max_t=27, metric="m", mode="min")
    hb.on_trial_add(make_trial(0, {}))
    with pytest.raises(ValueError, match="same arguments"):
        HyperBandScheduler(max_t=3).load_state_dict(hb.state_dict())
