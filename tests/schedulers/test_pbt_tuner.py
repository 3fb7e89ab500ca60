"""Population Based Training inside real experiments: exploits copy checkpoints and configs,
the policy logs are written, a replay follows a logged schedule, and PBT beats the same
population without exploitation on a toy problem whose best hyperparameter changes."""

from __future__ import annotations

import json
import os

import pytest

from caliper import tune
from caliper.schedulers import (
    FIFOScheduler,
    PopulationBasedTraining,
    PopulationBasedTrainingReplay,
)
from tests.tuning import read_lines, tuner

pytestmark = pytest.mark.timeout(120)


STEPS = 60
LR = 0.05


def toy(config):
    """The toy problem of the PBT paper (Jaderberg et al. 2017, section 4.1): maximise
    Q(theta) = 1.2 - (theta0^2 + theta1^2) by gradient ascent on the surrogate
    1.2 - (h0 theta0^2 + h1 theta1^2), starting from theta = (0.9, 0.9). With h = (1, 0) or
    (0, 1) a member only ever fixes one coordinate (Q stays at 0.39); copying the better
    member's theta and exploring h fixes both."""
    theta, step = [0.9, 0.9], 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        saved = checkpoint.to_dict()
        theta, step = saved["theta"], saved["step"]
    while step < STEPS:
        step += 1
        h = (config["h0"], config["h1"])
        theta = [t - LR * 2 * h_i * t for t, h_i in zip(theta, h, strict=True)]
        tune.report(
            {"Q": 1.2 - sum(t * t for t in theta), "h0": config["h0"]},
            checkpoint=tune.Checkpoint.from_dict({"theta": theta, "step": step}),
        )


SPACE = {"h0": tune.grid_search([1.0, 0.0]), "h1": tune.sample_from(lambda s: 1 - s.config.h0)}


def run_population(tmp_path, rt, scheduler, name, num_samples=1):
    return tuner(
        tune.with_resources(toy, {"cpu": 0.5}),
        tmp_path,
        name=name,
        param_space=SPACE,
        tune_config=tune.TuneConfig(
            metric="Q", mode="max", scheduler=scheduler, num_samples=num_samples
        ),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
    ).fit()


def pbt(**kwargs):
    kwargs.setdefault("quantile_fraction", 0.5)
    kwargs.setdefault(
        "hyperparam_mutations", {"h0": tune.uniform(0.0, 1.0), "h1": tune.uniform(0.0, 1.0)}
    )
    return PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=4,
        resample_probability=0.5,
        seed=0,
        **kwargs,
    )


def test_pbt_beats_the_same_population_without_exploitation(tmp_path, rt):
    """Synchronous PBT, as in the paper: every member is compared at the same iteration."""
    plain = run_population(tmp_path, rt, FIFOScheduler(), "plain")
    best_plain = max(r.metrics["Q"] for r in plain)
    assert best_plain == pytest.approx(1.2 - 0.81, abs=0.01)
    scheduler = pbt(synch=True)
    results = run_population(tmp_path, rt, scheduler, "pbt")
    assert results.num_errors == 0
    assert scheduler.num_perturbations >= STEPS // 4 - 1  # one exploit per meeting
    assert max(r.metrics["Q"] for r in results) > best_plain + 0.6  # near the optimum 1.2
    for result in results:  # every trial trained to the end, whoever it copied
        assert result.metrics["training_iteration"] == STEPS


def test_asynchronous_pbt_exploits_as_members_get_ready(tmp_path, rt):
    """Without synch a member is compared as soon as it is ready, against the others' last
    scores; how much it gains depends on timing, but it loses nothing."""
    scheduler = pbt()
    results = run_population(tmp_path, rt, scheduler, "async", num_samples=2)
    assert results.num_errors == 0
    assert scheduler.num_perturbations > 0
    assert max(r.metrics["Q"] for r in results) >= 1.2 - 0.81 - 0.01
    # every trial trained to the end, or copied the state of one that did
    assert [r.checkpoint.to_dict()["step"] for r in results] == [STEPS] * 4


def test_exploits_are_logged_and_carried_out(tmp_path, rt):
    scheduler = pbt(synch=True)
    results = run_population(tmp_path, rt, scheduler, "logged")
    experiment = results.experiment_path
    with open(os.path.join(experiment, "pbt_global.txt"), encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    assert len(records) == scheduler.num_perturbations > 0
    for trial_tag, source_tag, _, source_iteration, source_config, new_config in records:
        assert trial_tag != source_tag
        assert set(new_config) == set(source_config) == {"h0", "h1"}
        assert 0 <= new_config["h0"] <= 1  # kept inside the mutation's domain
        assert 4 <= source_iteration <= STEPS
    policies = [n for n in os.listdir(experiment) if n.startswith("pbt_policy_")]
    assert policies
    # An exploited trial continues from the copied checkpoint with the new config: the
    # result after the exploit counts on from the source's iteration.
    for result in results:
        lines = read_lines(result.path)
        assert lines[-1]["training_iteration"] == STEPS
        changes = [i for i in range(1, len(lines)) if lines[i]["config"] != lines[i - 1]["config"]]
        for i in changes:
            assert lines[i]["h0"] == lines[i]["config"]["h0"]


def test_replay_follows_the_logged_schedule(tmp_path, rt):
    scheduler = pbt(synch=True)
    results = run_population(tmp_path, rt, scheduler, "source")
    experiment = results.experiment_path
    policies = sorted(n for n in os.listdir(experiment) if n.startswith("pbt_policy_"))
    policy = os.path.join(experiment, policies[0])
    replay = PopulationBasedTrainingReplay(policy)
    assert replay.schedule
    replayed = tuner(
        toy,
        tmp_path,
        name="replay",
        param_space={"h0": 0.5, "h1": 0.5},
        tune_config=tune.TuneConfig(scheduler=replay),
    ).fit()
    lines = read_lines(replayed[0].path)
    assert lines[0]["h0"] == pytest.approx(replay.config["h0"])
    for step, config in replay.schedule:
        after = [line for line in lines if line["training_iteration"] > step]
        if after:
            assert after[0]["h0"] == pytest.approx(config["h0"])
    assert replayed[0].metrics["training_iteration"] == STEPS


def test_pbt_without_checkpoints_names_the_trial(tmp_path, rt):
    def no_checkpoints(config):
        for i in range(20):
            tune.report({"Q": config["h0"] * i})

    with pytest.raises(ValueError, match=r"has no checkpoint for trial .*perturbation_interval"):
        tuner(
            no_checkpoints,
            tmp_path,
            param_space=SPACE,
            tune_config=tune.TuneConfig(metric="Q", mode="max", scheduler=pbt(synch=True)),
        ).fit()


def test_a_mutation_missing_from_the_config_fails_before_any_trial(tmp_path, rt):
    scheduler = PopulationBasedTraining(
        time_attr="training_iteration",
        hyperparam_mutations={"momentum": [0.8, 0.9]},
    )
    with pytest.raises(ValueError, match=r"hyperparam_mutations names 'momentum'"):
        tuner(
            toy,
            tmp_path,
            param_space={"h0": 0.1, "h1": 0.2},
            tune_config=tune.TuneConfig(metric="Q", mode="max", scheduler=scheduler),
        ).fit()
    assert not os.path.exists(os.path.join(tmp_path, "exp", "pbt_global.txt"))
