"""Population Based Training (Jaderberg et al., "Population Based Training of Neural Networks",
2017) and a replay of one trial's learned schedule, with Ray Tune's names and arguments.

Mapping to the paper: a trial is a population member; ``perturbation_interval`` (in
``time_attr`` units) is how often a member is *ready*; ``quantile_fraction`` is the truncation
selection's share (bottom 20% copy the top 20% by default); ``perturbation_factors`` and
``resample_probability`` are *explore*'s perturb and resample. Exploits are handed to the
controller as :class:`~caliper.schedulers.actions.Exploit` actions: the member pauses, then
continues from the chosen member's latest checkpoint with the explored config.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from caliper.schedulers.actions import Action, Exploit
from caliper.schedulers.pbt_explore import (
    check_mutation_types,
    check_mutations,
    explore,
    perturbed_values,
    policy_record,
    quantiles,
    replay_schedule,
)
from caliper.schedulers.scheduler_inputs import read_loss, read_time, require_metric_mode
from caliper.schedulers.trial_scheduler import FIFOScheduler
from caliper.tune.trial import Decision, Trial, TrialStatus


@dataclass
class _Member:
    """What PBT keeps of one trial (plain data: it is the scheduler's saved state)."""

    tag: str
    config: dict
    score: float | None = None  # higher is better, at the last perturbation time
    last_perturbation_time: float = 0.0
    last_train_time: float = 0.0
    iteration: int = 0
    has_checkpoint: bool = False
    live: bool = True


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return value


class PopulationBasedTraining(FIFOScheduler):
    """Population Based Training (see the module docstring).

    Args:
        time_attr: the result field that measures progress (``"time_total_s"``,
            ``"training_iteration"``, ...).
        metric, mode: what to maximise or minimise (else ``TuneConfig``'s).
        perturbation_interval: a trial is exploited/explored every this much ``time_attr``.
        burn_in_period: no perturbation before this much ``time_attr``.
        hyperparam_mutations: ``{key: list | domain | callable | dict}``; each key must be in
            the config.
        quantile_fraction: the share of trials in the top and bottom quantiles, in (0, 0.5].
        resample_probability: the chance to resample a value instead of perturbing it.
        perturbation_factors: the factors a number is multiplied by when perturbed.
        custom_explore_fn: ``fn(config) -> config`` applied after the mutations.
        log_config: write ``pbt_global.txt`` and ``pbt_policy_<trial_id>.txt``.
        require_attrs: a result without ``time_attr`` or the metric is an error (else the
            trial continues without being considered).
        synch: all trials wait at each perturbation time until every live trial reached it.
        seed: seeds the scheduler's random choices.
    """

    decides_per_result = True

    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        perturbation_interval: float = 60.0,
        burn_in_period: float = 0.0,
        hyperparam_mutations: Mapping | None = None,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        perturbation_factors: Sequence[float] = (1.2, 0.8),
        custom_explore_fn: Callable[[dict], dict] | None = None,
        log_config: bool = True,
        require_attrs: bool = True,
        synch: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__(metric, mode)
        mutations = dict(hyperparam_mutations or {})
        if not mutations and custom_explore_fn is None:
            raise ValueError(
                "PopulationBasedTraining needs hyperparam_mutations or custom_explore_fn, e.g. "
                "hyperparam_mutations={'lr': tune.loguniform(1e-4, 1e-1)}"
            )
        check_mutation_types(mutations)
        if custom_explore_fn is not None and not callable(custom_explore_fn):
            raise TypeError("custom_explore_fn must be callable: fn(config) -> config")
        if _number("perturbation_interval", perturbation_interval) <= 0:
            raise ValueError(f"perturbation_interval must be > 0, got {perturbation_interval!r}")
        if _number("burn_in_period", burn_in_period) < 0:
            raise ValueError(f"burn_in_period must be >= 0, got {burn_in_period!r}")
        if not 0 < _number("quantile_fraction", quantile_fraction) <= 0.5:
            raise ValueError(
                f"quantile_fraction must be in (0, 0.5] (the top and bottom quantiles may not "
                f"overlap), got {quantile_fraction!r}"
            )
        if not 0 <= _number("resample_probability", resample_probability) <= 1:
            raise ValueError(
                f"resample_probability must be in [0, 1], got {resample_probability!r}"
            )
        factors = tuple(perturbation_factors)
        if not factors or any(_number("perturbation_factors", f) <= 0 for f in factors):
            raise ValueError(
                f"perturbation_factors must be positive numbers, got {perturbation_factors!r}"
            )
        self.time_attr = time_attr
        self.perturbation_interval = perturbation_interval
        self.burn_in_period = burn_in_period
        self.hyperparam_mutations = mutations
        self.quantile_fraction = quantile_fraction
        self.resample_probability = resample_probability
        self.perturbation_factors = factors
        self.custom_explore_fn = custom_explore_fn
        self.log_config = log_config
        self.require_attrs = require_attrs
        self.synch = synch
        self._rng = np.random.default_rng(seed)
        self._members: dict[str, _Member] = {}
        self._actions: list[Action] = []
        self._next_sync = perturbation_interval  # synch: the next time everyone meets
        self._at_barrier: set[str] = set()
        self._trials: dict[str, Trial] = {}  # the trials seen (their status, not saved)
        self.num_perturbations = 0
        self.num_checks = 0

    # -- the contract --------------------------------------------------------------------------

    def set_search_properties(self, metric: str | None, mode: str | None, **spec) -> bool:
        super().set_search_properties(metric, mode, **spec)
        config = spec.get("config")
        if isinstance(config, Mapping) and config:
            check_mutations(self.hyperparam_mutations, config)  # before any trial starts
        return True

    def on_trial_add(self, trial: Trial) -> None:
        require_metric_mode(type(self).__name__, self.metric, self.mode)
        self._trials[trial.trial_id] = trial
        if trial.trial_id in self._members:  # added again: an errored trial resumed
            self._members[trial.trial_id].live = True
        else:
            check_mutations(self.hyperparam_mutations, trial.config)
            self._members[trial.trial_id] = _Member(trial.experiment_tag, dict(trial.config))

    def on_trial_result(self, trial: Trial, result: Mapping) -> Decision:
        member = self._member(trial)
        member.has_checkpoint = trial.checkpoint_path is not None
        member.iteration = result.get("training_iteration", member.iteration)
        if not self.require_attrs and (self.time_attr not in result or self.metric not in result):
            return Decision.CONTINUE
        owner = type(self).__name__
        now = read_time(owner, self.time_attr, trial, result)
        score = -read_loss(owner, self.metric, self.mode, trial, result)  # NaN: the worst
        member.last_train_time = now
        self._trials[trial.trial_id] = trial
        if now < self.burn_in_period:
            return Decision.CONTINUE
        if now - member.last_perturbation_time < self.perturbation_interval:
            return Decision.CONTINUE  # not ready yet
        self._observe(trial.trial_id, member, now, score)
        member.score = score
        member.last_perturbation_time = now
        if self.synch:
            return self._at_sync(trial.trial_id, now)
        self.num_checks += 1
        lower, upper = quantiles(self._scores(), self.quantile_fraction)
        if trial.trial_id in lower and self._exploit(trial.trial_id, upper):
            return Decision.PAUSE
        if self._others_wait(trial.trial_id):
            return Decision.PAUSE  # time-share: trials that wait get their turn
        return Decision.CONTINUE

    def on_trial_complete(self, trial: Trial, result: Mapping | None) -> None:
        self._leave(trial)

    def on_trial_error(self, trial: Trial) -> None:
        self._leave(trial)

    def choose_trial_to_run(self, trials: Sequence[Trial]) -> Trial | None:
        """A PENDING trial first, else the PAUSED trial that is furthest behind (in synch mode,
        not one that waits for the others)."""
        paused = []
        for trial in trials:
            self._trials[trial.trial_id] = trial
            if trial.status is TrialStatus.PENDING:
                return trial
            if trial.status is TrialStatus.PAUSED and trial.trial_id not in self._at_barrier:
                paused.append(trial)
        if not paused:
            return None
        return min(paused, key=lambda t: self._member(t).last_train_time)

    def take_actions(self) -> list[Action]:
        actions, self._actions = self._actions, []
        return actions

    def state_dict(self) -> dict:
        return {
            **super().state_dict(),
            "members": {tid: asdict(m) for tid, m in self._members.items()},
            "next_sync": self._next_sync,
            "at_barrier": sorted(self._at_barrier),
            "rng": self._rng.bit_generator.state,
            "num_perturbations": self.num_perturbations,
            "num_checks": self.num_checks,
        }

    def load_state_dict(self, state: Mapping) -> None:
        super().load_state_dict(state)
        self._members = {tid: _Member(**m) for tid, m in state["members"].items()}
        self._next_sync = state["next_sync"]
        self._at_barrier = set(state["at_barrier"])
        self._rng.bit_generator.state = state["rng"]
        self.num_perturbations = state["num_perturbations"]
        self.num_checks = state["num_checks"]

    # -- the algorithm -------------------------------------------------------------------------

    def _member(self, trial: Trial) -> _Member:
        member = self._members.get(trial.trial_id)
        if member is None:  # a trial this scheduler had not seen (e.g. added before a restore)
            self.on_trial_add(trial)
            member = self._members[trial.trial_id]
        return member

    def _scores(self) -> dict[str, float]:
        return {tid: m.score for tid, m in self._members.items() if m.live and m.score is not None}

    def _others_wait(self, trial_id: str) -> bool:
        """Whether another live trial waits for a place (more trials than places)."""
        waiting = (TrialStatus.PENDING, TrialStatus.PAUSED)
        return any(
            t.status in waiting and tid != trial_id and tid not in self._at_barrier
            for tid, t in self._trials.items()
        )

    def _exploit(self, trial_id: str, upper: list[str]) -> bool:
        """``trial_id`` (bottom quantile) copies a random top-quantile trial and explores;
        returns whether it did (not when that trial has no checkpoint yet)."""
        source_id = upper[int(self._rng.integers(len(upper)))]
        member, source = self._members[trial_id], self._members[source_id]
        if not source.has_checkpoint:
            if any(m.has_checkpoint for m in self._members.values()):
                return False  # it has not saved one yet: no exploit this time
            raise ValueError(
                f"PopulationBasedTraining: trial {source_id} ({source.tag}) has no checkpoint "
                f"for trial {trial_id} to copy, and no trial has saved one; the trainable "
                f"must save one at least every perturbation_interval "
                f"({self.perturbation_interval} {self.time_attr}): "
                "tune.report(..., checkpoint=tune.Checkpoint.from_directory(...)), or "
                "CheckpointConfig(checkpoint_frequency=...) for a tune.Trainable"
            )
        new_config = self._new_config(trial_id, source)
        policy = None
        if self.log_config:
            policy = policy_record(
                member.tag,
                source.tag,
                member.iteration,
                source.iteration,
                source.config,
                new_config,
            )
        shown = ",".join(perturbed_values(new_config, self.hyperparam_mutations))
        self._actions.append(
            Exploit(trial_id, source_id, new_config, f"@perturbed[{shown}]", policy)
        )
        member.config = new_config
        member.last_perturbation_time = source.last_perturbation_time
        member.last_train_time = source.last_train_time
        member.iteration = source.iteration
        member.score = source.score  # it now is a copy of the source
        self.num_perturbations += 1
        return True

    def _observe(self, trial_id: str, member: _Member, now: float, score: float) -> None:
        """A trial's score at a perturbation time, before it is recorded (PB2 learns here)."""

    def _new_config(self, trial_id: str, source: _Member) -> dict:
        """The explored copy of ``source``'s config for ``trial_id``."""
        return explore(
            source.config,
            self.hyperparam_mutations,
            self.resample_probability,
            self.perturbation_factors,
            self._rng,
            self.custom_explore_fn,
        )

    def _at_sync(self, trial_id: str, now: float) -> Decision:
        """Synchronous PBT: wait until every live trial reached the perturbation time, then
        exploit the bottom quantile and let everyone go on."""
        if now < self._next_sync:
            return Decision.CONTINUE
        self._at_barrier.add(trial_id)
        if not self._barrier_complete():
            return Decision.PAUSE
        return Decision.PAUSE if trial_id in self._release() else Decision.CONTINUE

    def _barrier_complete(self) -> bool:
        live = [tid for tid, m in self._members.items() if m.live]
        return all(tid in self._at_barrier for tid in live)

    def _release(self) -> list[str]:
        """Exploit the bottom quantile of the trials at the barrier; returns who was exploited."""
        self.num_checks += 1
        lower, upper = quantiles(self._scores(), self.quantile_fraction)
        lower = [trial_id for trial_id in lower if self._exploit(trial_id, upper)]
        latest = max((self._members[t].last_train_time for t in self._at_barrier), default=0)
        while self._next_sync <= latest:  # the next meeting lies ahead of everyone
            self._next_sync += self.perturbation_interval
        self._at_barrier.clear()
        return lower

    def _leave(self, trial: Trial) -> None:
        member = self._members.get(trial.trial_id)
        if member is None:
            return
        member.live = False
        self._at_barrier.discard(trial.trial_id)
        if self.synch and self._at_barrier and self._barrier_complete():
            self._release()


class PopulationBasedTrainingReplay(FIFOScheduler):
    """Replays the hyperparameter schedule PBT found for one trial: read from its
    ``pbt_policy_<trial_id>.txt``, the trial starts with the config its lineage started with
    and switches config at the same ``training_iteration`` (continuing from its own checkpoint,
    so the trainable must save one at those iterations).

    Args:
        policy_file: the ``pbt_policy_<trial_id>.txt`` of the trial to replay.
    """

    decides_per_result = True

    def __init__(self, policy_file: str) -> None:
        super().__init__()
        with open(os.path.expanduser(policy_file), encoding="utf-8") as f:
            self.config, self.schedule = replay_schedule(f.readlines())
        self._next = 0  # index into schedule
        self._actions: list[Action] = []
        self._trial_id: str | None = None

    def on_trial_add(self, trial: Trial) -> None:
        if self._trial_id is not None and self._trial_id != trial.trial_id:
            raise ValueError(
                "PopulationBasedTrainingReplay replays one trial's schedule: run it with "
                "num_samples=1"
            )
        self._trial_id = trial.trial_id
        if trial.config != self.config:
            self._actions.append(Exploit(trial.trial_id, trial.trial_id, dict(self.config)))

    def on_trial_result(self, trial: Trial, result: Mapping) -> Decision:
        if self._next >= len(self.schedule):
            return Decision.CONTINUE
        step, config = self.schedule[self._next]
        if result.get("training_iteration", 0) < step:
            return Decision.CONTINUE
        self._next += 1
        self._actions.append(Exploit(trial.trial_id, trial.trial_id, dict(config)))
        return Decision.PAUSE

    def take_actions(self) -> list[Action]:
        actions, self._actions = self._actions, []
        return actions

    def state_dict(self) -> dict:
        return {**super().state_dict(), "next": self._next, "trial_id": self._trial_id}

    def load_state_dict(self, state: Mapping) -> None:
        super().load_state_dict(state)
        self._next, self._trial_id = state["next"], state["trial_id"]
