"""A virtual experiment for scheduler tests: the controller's side of the scheduler contract
on a virtual clock, with no processes.

Each trial follows a known learning curve; a trial costs one clock unit per iteration, runs
in one of ``concurrency`` slots, checkpoints after every iteration and resumes from its last
checkpoint after a pause. Decisions, actions (``StopTrial``, ``Exploit``),
``choose_trial_to_run`` and ``on_search_finished`` are applied as the controller applies
them.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from caliper.schedulers.actions import Exploit, StopTrial
from caliper.schedulers.trial_scheduler import TrialScheduler
from caliper.tune.trainable_wrappers import PlacementGroupFactory
from caliper.tune.trial import Decision, Trial, TrialStatus

Curve = Callable[[dict, int], float]  # (config, iteration) -> metric value


def make_trial(index: int, config: dict) -> Trial:
    return Trial(
        trial_id=f"t{index:04d}",
        config=dict(config),
        experiment_tag=str(index),
        resources=PlacementGroupFactory([{"CPU": 1}]),
    )


def exp_curve(final: float, start: float, tau: float) -> Callable[[int], float]:
    """``final + (start - final) * exp(-t / tau)``: a learning curve that ends near ``final``."""
    return lambda t: final + (start - final) * math.exp(-t / tau)


@dataclass
class Simulation:
    """One virtual experiment (see the module docstring).

    Args:
        scheduler: the scheduler under test (``set_search_properties`` is called here).
        configs: one config per trial, created in order as the scheduler asks for trials.
        curve: the metric a config reports at an iteration.
        max_iterations: where a trainable ends on its own.
        concurrency: trials running at once.
        fail_at: ``{trial index: iteration}`` where that trial fails for good.
        metric, mode: the experiment's.
    """

    scheduler: TrialScheduler
    configs: list[dict]
    curve: Curve
    max_iterations: int
    concurrency: int = 2
    fail_at: dict[int, int] = field(default_factory=dict)
    metric: str = "loss"
    mode: str = "min"
    trials: list[Trial] = field(default_factory=list)
    waiting: dict[str, Trial] = field(default_factory=dict)
    running: dict[str, float] = field(default_factory=dict)  # trial_id -> next result's time
    position: dict[str, int] = field(default_factory=dict)  # the last checkpoint's iteration
    log: list[tuple[str, int, Decision]] = field(default_factory=list)
    iterations: int = 0  # iterations trained in all (what a budget counts)
    clock: float = 0.0
    told_finished: bool = False
    complete_calls: list[str] = field(default_factory=list)
    pending: dict[str, Exploit] = field(default_factory=dict)  # exploits of running trials
    exploited: set[str] = field(default_factory=set)
    set_up: bool = False

    def setup(self) -> None:
        if not self.set_up:
            self.scheduler.set_search_properties(self.metric, self.mode)
            self.set_up = True

    # -- the controller's moves --------------------------------------------------------------

    def _actions(self) -> None:
        for action in self.scheduler.take_actions():
            trial = self._by_id(action.trial_id)
            if trial.is_finished:
                continue
            if action.trial_id in self.running:  # an exploit waits for the run to end
                if isinstance(action, Exploit):
                    self.pending[action.trial_id] = action
                continue
            self._apply(trial, action)

    def _apply(self, trial: Trial, action: Exploit | StopTrial) -> None:
        if isinstance(action, StopTrial):
            self.waiting.pop(trial.trial_id, None)
            self._complete(trial)
        else:
            trial.config = dict(action.config)
            self.position[trial.trial_id] = self.position.get(action.source_id, 0)
            self.exploited.add(trial.trial_id)

    def _by_id(self, trial_id: str) -> Trial:
        return next(t for t in self.trials if t.trial_id == trial_id)

    def _complete(self, trial: Trial) -> None:
        trial.status = TrialStatus.TERMINATED
        self.complete_calls.append(trial.trial_id)
        self.scheduler.on_trial_complete(trial, trial.last_result)

    def _fill(self) -> None:
        while len(self.running) < self.concurrency:
            self._actions()
            trial = self.scheduler.choose_trial_to_run(list(self.waiting.values()))
            if trial is None:
                if len(self.trials) < len(self.configs):
                    index = len(self.trials)
                    new = make_trial(index, self.configs[index])
                    self.trials.append(new)
                    self.waiting[new.trial_id] = new
                    self.scheduler.on_trial_add(new)
                    continue
                if not self.told_finished:
                    self.told_finished = True
                    self.scheduler.on_search_finished()
                    continue
                self._actions()
                return
            assert trial.status in (TrialStatus.PENDING, TrialStatus.PAUSED), trial
            del self.waiting[trial.trial_id]
            trial.status = TrialStatus.RUNNING
            self.running[trial.trial_id] = self.clock + 1

    def step(self) -> bool:
        """Start what may start and deliver the next result; False when the experiment is
        over."""
        self.setup()
        self._fill()
        if not self.running:
            return False
        trial_id = min(self.running, key=lambda k: (self.running[k], k))
        trial = self._by_id(trial_id)
        self.clock = self.running[trial_id]
        if self.position.get(trial_id, 0) >= self.max_iterations:  # resumed at its end
            del self.running[trial_id]
            self._complete(trial)
            self._actions()
            return True
        it = self.position.get(trial_id, 0) + 1
        self.position[trial_id] = it
        self.iterations += 1
        index = int(trial.experiment_tag)
        if self.fail_at.get(index) == it:
            del self.running[trial_id]
            trial.status = TrialStatus.ERROR
            self.scheduler.on_trial_error(trial)
            self._actions()
            return True
        result = {
            "training_iteration": it,
            "time_total_s": float(it),
            self.metric: self.curve(trial.config, it),
            "trial_id": trial_id,
        }
        trial.record(result)
        trial.checkpoints = [{"path": f"{trial_id}/{it}", "metrics": dict(result)}]
        decision = self.scheduler.on_trial_result(trial, result)
        assert isinstance(decision, Decision)
        self.log.append((trial_id, it, decision))
        self._actions()
        if decision is Decision.PAUSE:
            del self.running[trial_id]
            trial.status = TrialStatus.PAUSED
            self.waiting[trial_id] = trial
            if trial_id in self.pending:
                self._apply(trial, self.pending.pop(trial_id))
        elif decision is Decision.STOP or it >= self.max_iterations:
            del self.running[trial_id]
            self._complete(trial)
        else:
            self.running[trial_id] = self.clock + 1
        self._actions()
        return True

    def run(self, max_steps: int = 10**6) -> Simulation:
        for _ in range(max_steps):
            if not self.step():
                return self
        raise AssertionError(f"the simulation did not end in {max_steps} steps")

    def count_steps(self) -> int:
        """The steps a copy of this simulation takes to its end (this one is left as it is)."""
        other = copy.deepcopy(self)
        steps = 0
        while other.step():
            steps += 1
        return steps

    # -- reading the outcome -------------------------------------------------------------------

    def reached(self) -> dict[str, int]:
        """The highest iteration each trial trained to."""
        return {t.trial_id: t.last_result.get("training_iteration", 0) for t in self.trials}
