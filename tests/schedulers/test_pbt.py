"""Population Based Training's maths and decisions, on plain trials (no processes)."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

from caliper import tune
from caliper.schedulers import Exploit, PopulationBasedTraining
from caliper.schedulers.pbt_explore import explore, quantiles, replay_schedule
from caliper.tune.trainable_wrappers import PlacementGroupFactory
from caliper.tune.trial import Decision, Trial, TrialStatus


def make_trial(index: int, **config) -> Trial:
    trial = Trial(
        trial_id=f"t{index}",
        config=config,
        experiment_tag=f"{index}_tag",
        resources=PlacementGroupFactory([{"CPU": 1}]),
    )
    trial.checkpoints = [{"path": f"/ckpt/t{index}", "metrics": {}}]
    trial.status = TrialStatus.RUNNING
    return trial


# -- quantiles -------------------------------------------------------------------------------


def test_quantiles_split_bottom_and_top():
    scores = {"a": 1.0, "b": 4.0, "c": 2.0, "d": 3.0}
    assert quantiles(scores, 0.25) == (["a"], ["b"])
    assert quantiles(scores, 0.5) == (["a", "c"], ["d", "b"])


def test_quantiles_round_up_but_never_overlap():
    scores = {str(i): float(i) for i in range(5)}
    assert quantiles(scores, 0.25) == (["0", "1"], ["3", "4"])  # ceil(5 * 0.25) = 2
    assert quantiles(scores, 0.5) == (["0", "1"], ["3", "4"])  # at most half
    assert quantiles({"a": 1.0}, 0.5) == ([], [])


def test_nan_scores_are_the_worst_and_ties_keep_their_order():
    scores = {"a": 2.0, "b": math.nan, "c": 2.0, "d": 1.0}
    lower, upper = quantiles(scores, 0.25)
    assert lower == ["b"]
    assert upper == ["c"]  # a and c tie; the later one ranks higher


# -- explore ---------------------------------------------------------------------------------


def test_perturbing_multiplies_by_a_factor_and_keeps_types():
    rng = np.random.default_rng(0)
    mutations = {"lr": tune.loguniform(1e-4, 1.0), "layers": tune.randint(1, 100)}
    for _ in range(20):
        new = explore({"lr": 0.01, "layers": 10}, mutations, 0.0, (1.2, 0.8), rng)
        assert new["lr"] in (pytest.approx(0.012), pytest.approx(0.008))
        assert new["layers"] in (12, 8)
        assert isinstance(new["layers"], int)


def test_perturbed_values_stay_inside_the_domain():
    rng = np.random.default_rng(1)
    mutations = {"momentum": tune.uniform(0.0, 0.99), "batch": tune.qrandint(8, 64, 8)}
    for _ in range(50):
        new = explore({"momentum": 0.95, "batch": 64}, mutations, 0.0, (1.5, 1.4), rng)
        assert new["momentum"] <= 0.99
        assert new["batch"] == 64


def test_lists_move_to_a_neighbour_or_resample():
    rng = np.random.default_rng(2)
    choices = [16, 32, 64, 128]
    seen = {explore({"b": 32}, {"b": choices}, 0.0, (1.2, 0.8), rng)["b"] for _ in range(50)}
    assert seen == {16, 64}
    edge = {explore({"b": 128}, {"b": choices}, 0.0, (1.2, 0.8), rng)["b"] for _ in range(50)}
    assert edge == {64, 128}  # clamped at the end of the list
    unknown = explore({"b": 7}, {"b": choices}, 0.0, (1.2, 0.8), rng)["b"]
    assert unknown in choices  # a value not in the list is resampled
    resampled = {explore({"b": 32}, {"b": choices}, 1.0, (1.2,), rng)["b"] for _ in range(80)}
    assert resampled == set(choices)


def test_callables_nested_dicts_and_custom_explore():
    rng = np.random.default_rng(3)
    config = {"opt": {"lr": 0.1, "name": "sgd"}, "keep": 1}
    mutations = {"opt": {"lr": lambda: 0.5}}
    new = explore(config, mutations, 1.0, (1.2, 0.8), rng)
    assert new == {"opt": {"lr": 0.5, "name": "sgd"}, "keep": 1}
    assert config["opt"]["lr"] == 0.1  # the source config is not changed
    new = explore(config, mutations, 0.0, (2.0,), rng, lambda c: {**c, "keep": 2})
    assert new == {"opt": {"lr": 0.2, "name": "sgd"}, "keep": 2}
    with pytest.raises(TypeError, match="custom_explore_fn must return the config"):
        explore(config, mutations, 0.0, (2.0,), rng, lambda c: None)


def test_a_value_that_is_not_a_number_cannot_be_perturbed():
    rng = np.random.default_rng(4)
    with pytest.raises(TypeError, match=r"can only perturb numbers.*list of values"):
        explore({"act": "relu"}, {"act": lambda: "tanh"}, 0.0, (1.2,), rng)


# -- replay ----------------------------------------------------------------------------------


def test_replay_schedule_follows_the_lineage():
    lines = [
        json.dumps(["B", "C", 3, 4, {"lr": 1}, {"lr": 2}]),  # B copied C (before A copied B)
        json.dumps(["X", "Y", 2, 2, {"lr": 9}, {"lr": 9}]),  # unrelated: ends the chain
        json.dumps(["B", "C", 3, 4, {"lr": 1}, {"lr": 2}]),
        json.dumps(["A", "B", 7, 8, {"lr": 2}, {"lr": 3}]),
    ]
    initial, schedule = replay_schedule(lines)
    assert initial == {"lr": 1}
    assert schedule == [(4, {"lr": 2}), (8, {"lr": 3})]
    with pytest.raises(ValueError, match="no records"):
        replay_schedule([])


# -- the scheduler ---------------------------------------------------------------------------


def pbt(**kwargs) -> PopulationBasedTraining:
    kwargs.setdefault("hyperparam_mutations", {"lr": tune.uniform(0.0, 1.0)})
    kwargs.setdefault("perturbation_interval", 2)
    scheduler = PopulationBasedTraining(
        time_attr="training_iteration", seed=0, quantile_fraction=0.25, **kwargs
    )
    scheduler.set_search_properties("acc", "max", config={"lr": 0.5})
    return scheduler


def report(scheduler, trial, iteration, acc) -> Decision:
    return scheduler.on_trial_result(trial, {"training_iteration": iteration, "acc": acc})


def test_the_bottom_trial_pauses_and_copies_a_top_trial():
    scheduler = pbt()
    trials = [make_trial(i, lr=0.1 * (i + 1)) for i in range(4)]
    for trial in trials:
        scheduler.on_trial_add(trial)
    assert report(scheduler, trials[0], 1, 0.1) is Decision.CONTINUE  # not ready yet
    for trial, acc in zip(trials[1:], (0.5, 0.6, 0.9), strict=True):
        assert report(scheduler, trial, 2, acc) is Decision.CONTINUE
    assert scheduler.take_actions() == []
    assert report(scheduler, trials[0], 2, 0.2) is Decision.PAUSE
    (action,) = scheduler.take_actions()
    assert isinstance(action, Exploit)
    assert (action.trial_id, action.source_id) == ("t0", "t3")
    assert action.config["lr"] != 0.4 and 0 <= action.config["lr"] <= 1
    assert action.tag_suffix.startswith("@perturbed[lr=")
    assert action.policy[:4] == ["0_tag", "3_tag", 2, 2]
    assert scheduler.take_actions() == []  # handed over once


def test_trials_take_turns_when_others_wait():
    """More trials than places: at a perturbation time a trial gives its place to one that
    waits (and the waiting trial furthest behind goes first)."""
    scheduler = pbt()
    trials = [make_trial(i, lr=0.5) for i in range(3)]
    for trial in trials:
        scheduler.on_trial_add(trial)
    trials[2].status = TrialStatus.PENDING
    assert report(scheduler, trials[0], 1, 0.9) is Decision.CONTINUE  # not at a perturbation
    assert report(scheduler, trials[0], 2, 0.9) is Decision.PAUSE  # t2 waits: take turns
    trials[0].status = TrialStatus.PAUSED
    assert scheduler.choose_trial_to_run([trials[0], trials[2]]) is trials[2]
    trials[2].status = TrialStatus.RUNNING
    assert report(scheduler, trials[1], 2, 1.0) is Decision.PAUSE  # t0 waits now
    trials[1].status = TrialStatus.PAUSED
    trials[0].status = TrialStatus.RUNNING
    assert report(scheduler, trials[0], 4, 1.0) is Decision.PAUSE  # t1 waits


def test_an_exploit_waits_for_the_first_checkpoint_of_its_source():
    scheduler = pbt()
    trials = [make_trial(i, lr=0.5) for i in range(4)]
    for trial in trials:
        scheduler.on_trial_add(trial)
    trials[3].checkpoints = []  # the best has not saved one yet
    for trial, acc in zip(trials[1:], (0.5, 0.6, 0.9), strict=True):
        report(scheduler, trial, 2, acc)
    assert report(scheduler, trials[0], 2, 0.1) is Decision.CONTINUE  # no exploit this time
    assert scheduler.take_actions() == []
    trials[3].checkpoints = [{"path": "/ckpt/t3", "metrics": {}}]
    report(scheduler, trials[3], 4, 0.95)
    assert report(scheduler, trials[0], 4, 0.2) is Decision.PAUSE
    assert [a.source_id for a in scheduler.take_actions()] == ["t3"]


def test_burn_in_and_require_attrs():
    scheduler = pbt(burn_in_period=10)
    trials = [make_trial(i, lr=0.5) for i in range(2)]
    for trial in trials:
        scheduler.on_trial_add(trial)
    report(scheduler, trials[1], 4, 1.0)
    assert report(scheduler, trials[0], 4, 0.0) is Decision.CONTINUE  # burning in
    with pytest.raises(ValueError, match=r"without the metric 'acc'"):
        scheduler.on_trial_result(trials[0], {"training_iteration": 5})
    lenient = pbt(require_attrs=False)
    lenient.on_trial_add(trials[0])
    assert lenient.on_trial_result(trials[0], {"training_iteration": 5}) is Decision.CONTINUE


def test_synch_waits_for_every_live_trial():
    scheduler = pbt(synch=True)
    trials = [make_trial(i, lr=0.5) for i in range(4)]
    for trial in trials:
        scheduler.on_trial_add(trial)
    assert report(scheduler, trials[0], 2, 0.1) is Decision.PAUSE
    trials[0].status = TrialStatus.PAUSED
    assert scheduler.choose_trial_to_run(trials[:1]) is None  # waits for the others
    assert report(scheduler, trials[1], 2, 0.5) is Decision.PAUSE
    scheduler.on_trial_complete(trials[2], None)  # a finished trial is not waited for
    assert scheduler.take_actions() == []
    assert report(scheduler, trials[3], 2, 0.9) is Decision.CONTINUE  # the best goes on
    (action,) = scheduler.take_actions()
    assert (action.trial_id, action.source_id) == ("t0", "t3")
    assert scheduler.choose_trial_to_run(trials[:1]) is trials[0]
    assert report(scheduler, trials[3], 3, 1.0) is Decision.CONTINUE  # next meeting: 4


def test_state_round_trip_gives_the_same_decisions():
    def drive(scheduler, trials, start, stop):
        out = []
        for it in range(start, stop):
            for i, trial in enumerate(trials):
                out.append(report(scheduler, trial, it, it * (i + 1) / 10))
                out += [(a.trial_id, a.source_id, a.config) for a in scheduler.take_actions()]
        return out

    trials = [make_trial(i, lr=0.5) for i in range(4)]
    first = pbt()
    for trial in trials:
        first.on_trial_add(trial)
    drive(first, trials, 1, 5)
    state = pickle.loads(pickle.dumps(first.state_dict()))
    second = pbt()
    second.load_state_dict(state)
    assert drive(second, trials, 5, 9) == drive(first, trials, 5, 9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantile_fraction": 0.6}, r"quantile_fraction must be in \(0, 0.5\]"),
        ({"quantile_fraction": 0}, r"quantile_fraction must be in \(0, 0.5\]"),
        ({"perturbation_interval": 0}, "perturbation_interval must be > 0"),
        ({"resample_probability": 1.5}, r"resample_probability must be in \[0, 1\]"),
        ({"perturbation_factors": ()}, "perturbation_factors must be positive"),
        ({"hyperparam_mutations": {}}, "needs hyperparam_mutations or custom_explore_fn"),
        ({"hyperparam_mutations": {"lr": 0.1}}, r"hyperparam_mutations\['lr'\] must be"),
        ({"hyperparam_mutations": {"lr": []}}, "is an empty list"),
        ({"mode": "maximum"}, "mode must be 'min' or 'max'"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    kwargs.setdefault("hyperparam_mutations", {"lr": [0.1, 0.2]})
    with pytest.raises((ValueError, TypeError), match=message):
        PopulationBasedTraining(**kwargs)


def test_a_mutation_key_missing_from_the_config_is_named():
    scheduler = PopulationBasedTraining(hyperparam_mutations={"opt": {"lr": [0.1, 0.2]}})
    with pytest.raises(ValueError, match=r"names 'opt/lr', which is not in the config"):
        scheduler.set_search_properties("acc", "max", config={"opt": {"momentum": 0.9}})


def test_a_run_from_a_copied_checkpoint_keeps_the_trials_results():
    """The copy is marked with its source in the saved state: after a restore too, the run
    counts on from the source's iteration and cuts none of this trial's results."""
    trial = make_trial(0, lr=0.5)
    trial.checkpoints = [
        {"path": "/t0/checkpoint_000004", "metrics": {"training_iteration": 4}},
        {"path": "/t0/checkpoint_000005", "metrics": {"training_iteration": 2}, "source": "t3"},
    ]
    trial.restore_path = trial.checkpoint_path
    spec = trial.run_spec()
    assert (spec["iteration"], spec["keep_results"]) == (2, True)
    trial.restore_path = "/t0/checkpoint_000004"  # its own: results after it are run again
    spec = trial.run_spec()
    assert (spec["iteration"], spec["keep_results"]) == (4, False)
