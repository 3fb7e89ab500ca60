"""``ASHAScheduler`` (``AsyncHyperBandScheduler``): asynchronous successive halving.

Li et al., "A System for Massively Parallel Hyperparameter Tuning" (MLSys 2020), Algorithm 2,
used as a stopping rule as Ray Tune does. Symbols: ``r`` = ``grace_period`` (minimum resource),
``R`` = ``max_t`` (maximum resource), ``eta`` = ``reduction_factor``, ``s`` = the bracket
(minimum early-stopping rate), resource = the result's ``time_attr``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from caliper.schedulers.rungs import passes_rung, rung_milestones
from caliper.schedulers.scheduler_inputs import (
    check_bool,
    check_int,
    check_name,
    check_number,
    read_loss,
    read_time,
    require_metric_mode,
)
from caliper.schedulers.trial_scheduler import TrialScheduler
from caliper.tune.trial import Decision, Trial

_NAME = "ASHAScheduler"


class ASHAScheduler(TrialScheduler):
    """Stops trials that fall out of the top ``1/reduction_factor`` at a rung.

    Rungs sit at ``grace_period * reduction_factor**k`` up to ``max_t``. When a trial's
    ``time_attr`` first reaches a rung, its metric is recorded there and it goes on only if it
    is in the top ``1/reduction_factor`` of all values recorded at that rung so far, itself
    included (``ceil(n / reduction_factor)`` places; ties at the cut-off go on, so the first
    trial at a rung always does). A trial that reaches ``max_t`` stops when
    ``stop_last_trials``. A result that jumps past several rungs is judged at each in turn.

    NaN (or ``None``) as the metric is the worst value: it is recorded as such and that trial
    stops at the rung. A result without ``time_attr`` or without the metric raises a
    ``ValueError`` naming the field.

    With ``brackets > 1``, bracket ``s`` starts its rungs at ``grace_period *
    reduction_factor**s``, and new trials go to brackets in proportion to Ray Tune's weights
    ``e**(rungs in the bracket)``, deterministically (each to the bracket furthest below its
    share).

    Args:
        time_attr: the result field that measures training progress (the resource).
        metric, mode: what to rank by ("min" or "max"); ``TuneConfig``'s when not given.
        max_t: ``R``; trials stop there (when ``stop_last_trials``).
        grace_period: ``r``; no trial stops before it.
        reduction_factor: ``eta`` > 1.
        brackets: the number of brackets (``s = 0 .. brackets - 1``).
        stop_last_trials: stop trials at ``max_t``; if False they run on (and the rung at
            ``max_t``, when there is one, still cuts).
    """

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        max_t: float = 100,
        grace_period: float = 1,
        reduction_factor: float = 4,
        brackets: int = 1,
        stop_last_trials: bool = True,
    ) -> None:
        check_name(_NAME, "time_attr", time_attr)
        check_name(_NAME, "metric", metric, optional=True)
        super().__init__(metric, mode)
        check_number(_NAME, "max_t", max_t, above=0)
        check_number(_NAME, "grace_period", grace_period, above=0)
        check_number(_NAME, "reduction_factor", reduction_factor, above=1)
        if max_t < grace_period:
            raise ValueError(
                f"{_NAME}(max_t={max_t!r}, grace_period={grace_period!r}): max_t must be >= "
                f"grace_period (no trial stops before grace_period)"
            )
        check_int(_NAME, "brackets", brackets, at_least=1)
        self.time_attr = time_attr
        self.max_t = max_t
        self.grace_period = grace_period
        self.reduction_factor = reduction_factor
        self.stop_last_trials = check_bool(_NAME, "stop_last_trials", stop_last_trials)
        rungs = rung_milestones(grace_period, max_t, reduction_factor)
        if brackets > len(rungs):
            raise ValueError(
                f"{_NAME}(brackets={brackets}): at most {len(rungs)} brackets fit between "
                f"grace_period={grace_period!r} and max_t={max_t!r} with "
                f"reduction_factor={reduction_factor!r} (one per rung)"
            )
        #: per bracket: its milestones, and per milestone {trial_id: loss} in arrival order
        self.milestones = [rungs[s:] for s in range(brackets)]
        self.recorded: list[list[dict[str, float]]] = [[{} for _ in m] for m in self.milestones]
        self.bracket_of: dict[str, int] = {}
        weights = [math.exp(len(m) - len(rungs)) for m in self.milestones]
        self._shares = [w / sum(weights) for w in weights]
        self._counts = [0] * brackets

    # -- the contract ----------------------------------------------------------------------

    def on_trial_add(self, trial: Trial) -> None:
        require_metric_mode(_NAME, self.metric, self.mode)
        self._bracket(trial.trial_id)

    def _bracket(self, trial_id: str) -> int:
        bracket = self.bracket_of.get(trial_id)
        if bracket is None:
            total = sum(self._counts) + 1
            deficits = [sh * total - c for sh, c in zip(self._shares, self._counts, strict=True)]
            bracket = max(range(len(deficits)), key=lambda b: (deficits[b], -b))
            self._counts[bracket] += 1
            self.bracket_of[trial_id] = bracket
        return bracket

    def on_trial_result(self, trial: Trial, result: Mapping) -> Decision:
        require_metric_mode(_NAME, self.metric, self.mode)
        t = read_time(_NAME, self.time_attr, trial, result)
        loss = read_loss(_NAME, self.metric, self.mode, trial, result)
        bracket = self._bracket(trial.trial_id)
        for milestone, recorded in zip(
            self.milestones[bracket], self.recorded[bracket], strict=True
        ):
            if t < milestone or trial.trial_id in recorded:
                continue
            goes_on = passes_rung(loss, recorded.values(), self.reduction_factor)
            recorded[trial.trial_id] = loss
            if not goes_on:
                return Decision.STOP
        if self.stop_last_trials and t >= self.max_t:
            return Decision.STOP
        return Decision.CONTINUE

    # -- state -----------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            **super().state_dict(),
            "recorded": [[dict(r) for r in rungs] for rungs in self.recorded],
            "bracket_of": dict(self.bracket_of),
            "counts": list(self._counts),
        }

    def load_state_dict(self, state: Mapping) -> None:
        super().load_state_dict(state)
        recorded = state["recorded"]
        if [len(r) for r in recorded] != [len(m) for m in self.milestones]:
            raise ValueError(
                f"{_NAME}.load_state_dict: the state has rungs {[len(r) for r in recorded]} "
                f"per bracket, this scheduler {[len(m) for m in self.milestones]}; restore with "
                f"the same max_t, grace_period, reduction_factor and brackets"
            )
        self.recorded = [[dict(r) for r in rungs] for rungs in recorded]
        self.bracket_of = dict(state["bracket_of"])
        self._counts = list(state["counts"])


#: Ray Tune's other name for :class:`ASHAScheduler`.
AsyncHyperBandScheduler = ASHAScheduler
