"""Stoppers as Ray Tune defines them, on a virtual clock."""

from __future__ import annotations

import datetime

import pytest

from caliper import tune
from caliper.tune.stoppers import ThresholdStopper, as_stopper


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_maximum_iteration_stopper_counts_per_trial():
    stopper = tune.MaximumIterationStopper(max_iter=3)
    assert [stopper("a", {}) for _ in range(3)] == [False, False, True]
    assert stopper("b", {}) is False
    assert not stopper.stop_all()


def test_trial_plateau_waits_for_grace_and_window_then_stops_flat_curves():
    stopper = tune.TrialPlateauStopper("loss", std=0.01, num_results=3, grace_period=4)
    flat = [stopper("t", {"loss": 0.5}) for _ in range(5)]
    assert flat == [False, False, False, True, True]
    noisy = tune.TrialPlateauStopper("loss", std=0.01, num_results=3, grace_period=1)
    assert not any(noisy("t", {"loss": v}) for v in (1.0, 0.5, 0.1, 0.9))


def test_trial_plateau_threshold_needs_the_value_beyond_it():
    stopper = tune.TrialPlateauStopper(
        "loss", std=0.1, num_results=2, grace_period=0, metric_threshold=0.2, mode="min"
    )
    assert not any(stopper("t", {"loss": 0.5}) for _ in range(4))  # flat but above 0.2
    assert stopper("u", {"loss": 0.1}) is False and stopper("u", {"loss": 0.1}) is True


def test_experiment_plateau_stops_all_after_patience():
    stopper = tune.ExperimentPlateauStopper("acc", std=0.001, top=3, mode="max", patience=1)
    results = [stopper(f"t{i}", {"acc": 0.9}) for i in range(5)]
    assert results == [False, False, True, True, True]  # plateau from the 3rd (Ray's count)
    assert stopper.stop_all()


def test_timeout_stopper_on_a_virtual_clock():
    clock = Clock()
    stopper = tune.TimeoutStopper(datetime.timedelta(seconds=60), clock=clock)
    assert not stopper.stop_all()
    clock.now += 59.9
    assert not stopper.stop_all() and not stopper("t", {})
    clock.now += 0.1
    assert stopper.stop_all()


def test_combined_stopper_asks_every_member():
    counting = tune.MaximumIterationStopper(2)
    combined = tune.CombinedStopper(counting, ThresholdStopper({"acc": 0.9}))
    assert combined("t", {"acc": 0.95}) is True
    assert combined("t", {"acc": 0.1}) is True  # the counter saw both results
    assert not combined.stop_all()


def test_stop_argument_forms():
    by_dict = as_stopper({"training_iteration": 10, "acc": 0.98})
    assert not by_dict("t", {"training_iteration": 9, "acc": 0.5})
    assert by_dict("t", {"training_iteration": 10, "acc": 0.5})
    assert by_dict("t", {"training_iteration": 1, "acc": 0.99})
    by_fn = as_stopper(lambda trial_id, result: result["loss"] < 0.1)
    assert by_fn("t", {"loss": 0.05}) and not by_fn("t", {"loss": 0.5})
    assert not as_stopper(None)("t", {"loss": 0})
    stopper = tune.MaximumIterationStopper(1)
    assert as_stopper(stopper) is stopper


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: as_stopper(5), TypeError, "stop must be a dict of metric thresholds"),
        (lambda: as_stopper({"acc": "high"}), TypeError, r"stop\['acc'\] must be a number"),
        (lambda: tune.MaximumIterationStopper(0), ValueError, "max_iter must be > 0"),
        (lambda: tune.TrialPlateauStopper(""), TypeError, "metric must be a metric name"),
        (
            lambda: tune.TrialPlateauStopper("loss", metric_threshold=1.0),
            ValueError,
            "mode must be 'min' or 'max' when metric_threshold is set",
        ),
        (lambda: tune.ExperimentPlateauStopper("acc", mode="up"), ValueError, "mode must be"),
        (lambda: tune.TimeoutStopper(-1), ValueError, "timeout must be > 0"),
        (lambda: tune.CombinedStopper(5), TypeError, "stopper 0 must be a Stopper"),
    ],
)
def test_bad_arguments_name_the_field(make, error, words):
    with pytest.raises(error, match=words):
        make()
