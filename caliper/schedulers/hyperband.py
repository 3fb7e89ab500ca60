"""``HyperBandScheduler``: synchronous HyperBand, with pausing and resuming.

Li et al., "Hyperband: A Novel Bandit-Based Approach to Hyperparameter Optimization" (JMLR
2018), Algorithm 1. Symbols: ``R`` = ``max_t``, ``eta`` = ``reduction_factor``, bracket ``s``
runs successive halving from ``n`` trials at resource ``r = R * eta**-s``; rung ``i`` holds
``n_i`` trials trained to ``r_i = r * eta**i`` (``time_attr``). The plan is
:func:`~caliper.schedulers.rungs.hyperband_brackets`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from caliper.schedulers.actions import Action, StopTrial
from caliper.schedulers.rungs import BracketPlan, halving_sizes, hyperband_brackets, top_k
from caliper.schedulers.scheduler_inputs import (
    check_bool,
    check_name,
    check_number,
    read_loss,
    read_time,
    require_metric_mode,
)
from caliper.schedulers.trial_scheduler import TrialScheduler
from caliper.tune.trial import Decision, Trial

_NAME = "HyperBandScheduler"


class Phase(str, enum.Enum):
    """Where a trial is in its bracket."""

    ACTIVE = "ACTIVE"  # may run: it has not reached its bracket's current rung
    WAITING = "WAITING"  # reached the rung; paused until the whole rung has reported
    CUT = "CUT"  # not among the best at a rung: stopped
    FINISHED = "FINISHED"  # reached max_t
    ENDED = "ENDED"  # completed or failed on its own before its rung


@dataclass
class Bracket:
    """One running bracket (plain data): its plan, its trials in order, its current rung and
    the losses recorded there."""

    s: int
    members: list[str] = field(default_factory=list)
    started: int = 0  # trials it began with (its plan's n, or fewer if the search ended)
    rung: int = 0
    closed: bool = False  # no more trials will join
    losses: dict[str, float] = field(default_factory=dict)


class HyperBandScheduler(TrialScheduler):
    """Synchronous HyperBand: fills brackets in the paper's order, pauses each trial at its
    bracket's rung, and when every trial of the rung has reported (or ended) keeps the best
    ``n_{i+1}`` and stops the rest.

    Trials join brackets as they are created: ``s = s_max`` first with ``n`` trials, then
    ``s_max - 1``, ... ``0``, then again. A trial that reaches its rung pauses (PAUSE); once the
    rung is complete, the kept trials resume from their latest checkpoint
    (``choose_trial_to_run`` returns them, oldest bracket first) and the others are stopped
    (a ``StopTrial`` action for those paused, STOP for the one that completed the rung). Trials
    stop at ``max_t`` when ``stop_last_trials``. When the search ends with a bracket not full
    (``on_search_finished``), that bracket goes on with the trials it has, keeping
    ``floor(m * eta**-i)`` (at least one) of its ``m``.

    NaN (or ``None``) as the metric ranks last and is never kept. A result without
    ``time_attr`` or the metric raises a ``ValueError`` naming it. Function trainables should
    save checkpoints (``tune.report(..., checkpoint=...)``); without one a resumed trial starts
    again from scratch.

    Args:
        time_attr: the result field that measures training progress (the resource).
        metric, mode: what to rank by ("min" or "max"); ``TuneConfig``'s when not given.
        max_t: ``R``, the most resource a trial gets.
        reduction_factor: ``eta`` > 1.
        stop_last_trials: stop trials at ``max_t``; if False they run on.
    """

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        max_t: float = 81,
        reduction_factor: float = 3,
        stop_last_trials: bool = True,
    ) -> None:
        check_name(_NAME, "time_attr", time_attr)
        check_name(_NAME, "metric", metric, optional=True)
        super().__init__(metric, mode)
        check_number(_NAME, "max_t", max_t, above=0)
        check_number(_NAME, "reduction_factor", reduction_factor, above=1)
        self.time_attr = time_attr
        self.max_t = max_t
        self.reduction_factor = reduction_factor
        self.stop_last_trials = check_bool(_NAME, "stop_last_trials", stop_last_trials)
        self.plans: list[BracketPlan] = hyperband_brackets(max_t, reduction_factor)
        self._by_s = {plan.s: plan for plan in self.plans}
        self.brackets: list[Bracket] = []
        self.bracket_of: dict[str, int] = {}
        self.phase: dict[str, Phase] = {}
        self._actions: list[Action] = []

    # -- filling ---------------------------------------------------------------------------

    def on_trial_add(self, trial: Trial) -> None:
        require_metric_mode(_NAME, self.metric, self.mode)
        self._join(trial.trial_id)
        if self.phase[trial.trial_id] is Phase.ENDED:  # added again: an errored trial resumed
            self.phase[trial.trial_id] = Phase.ACTIVE

    def _join(self, trial_id: str) -> Bracket:
        index = self.bracket_of.get(trial_id)
        if index is not None:
            return self.brackets[index]
        last = self.brackets[-1] if self.brackets else None
        if last is None or last.closed or last.started >= self._by_s[last.s].sizes[0]:
            if last is not None:
                last.closed = True
            order = [plan.s for plan in self.plans]
            s = order[(order.index(last.s) + 1) % len(order)] if last is not None else order[0]
            last = Bracket(s)
            self.brackets.append(last)
        last.members.append(trial_id)
        last.started += 1
        self.bracket_of[trial_id] = len(self.brackets) - 1
        self.phase[trial_id] = Phase.ACTIVE
        if last.started >= self._by_s[last.s].sizes[0]:
            last.closed = True
        return last

    def on_search_finished(self) -> None:
        for bracket in self.brackets:
            if not bracket.closed:
                bracket.closed = True
                self._maybe_cut(bracket, running=None)

    # -- results ---------------------------------------------------------------------------

    def on_trial_result(self, trial: Trial, result: Mapping) -> Decision:
        require_metric_mode(_NAME, self.metric, self.mode)
        t = read_time(_NAME, self.time_attr, trial, result)
        loss = read_loss(_NAME, self.metric, self.mode, trial, result)
        trial_id = trial.trial_id
        bracket = self._join(trial_id)
        phase = self.phase[trial_id]
        if phase is Phase.FINISHED:
            return Decision.STOP if self.stop_last_trials else Decision.CONTINUE
        if phase in (Phase.CUT, Phase.ENDED):
            return Decision.STOP
        if phase is Phase.WAITING:
            return Decision.PAUSE
        plan = self._by_s[bracket.s]
        if t < plan.milestones[bracket.rung]:
            return Decision.CONTINUE
        if bracket.rung == len(plan.milestones) - 1:  # at R: the end of the bracket
            self.phase[trial_id] = Phase.FINISHED
            return Decision.STOP if self.stop_last_trials else Decision.CONTINUE
        bracket.losses[trial_id] = loss
        self.phase[trial_id] = Phase.WAITING
        self._maybe_cut(bracket, running=trial_id)
        phase = self.phase[trial_id]
        if phase is Phase.CUT:
            return Decision.STOP
        if phase is Phase.ACTIVE:  # kept, and already running: no need to pause
            return self.on_trial_result(trial, result)
        return Decision.PAUSE

    def _maybe_cut(self, bracket: Bracket, running: str | None) -> None:
        """Halve ``bracket`` if its current rung is complete: it is closed and every trial
        still in it has reported at the rung."""
        if not bracket.closed:
            return
        live = [m for m in bracket.members if self.phase[m] in (Phase.ACTIVE, Phase.WAITING)]
        if not live or any(self.phase[m] is Phase.ACTIVE for m in live):
            return
        sizes = halving_sizes(bracket.started, self.reduction_factor, bracket.s)
        kept = set(top_k(bracket.losses, sizes[bracket.rung + 1]))
        for member in live:
            if member in kept:
                self.phase[member] = Phase.ACTIVE
            else:
                self.phase[member] = Phase.CUT
                if member != running:
                    self._actions.append(StopTrial(member))
        bracket.rung += 1  # WAITING happens below the last rung only, so this one exists
        bracket.losses = {}

    # -- trials ending, choosing -------------------------------------------------------------

    def on_trial_complete(self, trial: Trial, result: Mapping | None) -> None:
        self._ended(trial.trial_id)

    def on_trial_error(self, trial: Trial) -> None:
        self._ended(trial.trial_id)

    def _ended(self, trial_id: str) -> None:
        index = self.bracket_of.get(trial_id)
        if index is None or self.phase[trial_id] not in (Phase.ACTIVE, Phase.WAITING):
            return
        self.phase[trial_id] = Phase.ENDED
        bracket = self.brackets[index]
        bracket.losses.pop(trial_id, None)
        self._maybe_cut(bracket, running=None)

    def choose_trial_to_run(self, trials: Sequence[Trial]) -> Trial | None:
        """A waiting trial its bracket lets go on (oldest bracket first). Trials the scheduler
        has not seen (none in a normal run) are added first; waiting trials it has already
        stopped (possible after a restore) get a ``StopTrial`` again."""
        best, best_key = None, None
        queued = {a.trial_id for a in self._actions}
        for position, trial in enumerate(trials):
            if trial.trial_id not in self.bracket_of:
                self.on_trial_add(trial)
            phase = self.phase[trial.trial_id]
            if phase in (Phase.CUT, Phase.FINISHED, Phase.ENDED):
                if trial.trial_id not in queued:
                    self._actions.append(StopTrial(trial.trial_id))
                continue
            if phase is not Phase.ACTIVE:
                continue
            key = (self.bracket_of[trial.trial_id], position)
            if best_key is None or key < best_key:
                best, best_key = trial, key
        return best

    def take_actions(self) -> list[Action]:
        actions, self._actions = self._actions, []
        return actions

    # -- state -----------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            **super().state_dict(),
            "brackets": [asdict(b) for b in self.brackets],
            "bracket_of": dict(self.bracket_of),
            "phase": {k: v.value for k, v in self.phase.items()},
            "actions": [a.trial_id for a in self._actions],
        }

    def load_state_dict(self, state: Mapping) -> None:
        super().load_state_dict(state)
        self.brackets = [
            Bracket(**{**b, "members": list(b["members"]), "losses": dict(b["losses"])})
            for b in state["brackets"]
        ]
        unknown = sorted({b.s for b in self.brackets} - set(self._by_s))
        if unknown:
            raise ValueError(
                f"{_NAME}.load_state_dict: the state has brackets s={unknown} that "
                f"max_t={self.max_t!r}, reduction_factor={self.reduction_factor!r} do not; "
                f"restore with the same arguments"
            )
        self.bracket_of = dict(state["bracket_of"])
        self.phase = {k: Phase(v) for k, v in state["phase"].items()}
        self._actions = [StopTrial(trial_id) for trial_id in state["actions"]]
