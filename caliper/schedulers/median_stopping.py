"""``MedianStoppingRule``: stop a trial that does worse than the median of the others.

Golovin et al., "Google Vizier: A Service for Black-Box Optimization" (KDD 2017), section
3.2.2: a trial is stopped at time ``t`` if its best objective so far is strictly worse than the
median of the other trials' running averages up to ``t``. Running averages here are taken as
Ray Tune takes them: over a trial's results with ``grace_period <= time_attr <= t``.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

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
from caliper.tune.trial import Decision, Trial, TrialStatus

_NAME = "MedianStoppingRule"


def _worst_for_nan(loss: float) -> float:
    return math.inf if loss != loss else loss


@dataclass
class Curve:
    """One trial's history as plain data: the times of its results from the grace period on
    and the running sums of their losses (for running averages at any time), its last time
    and its best loss."""

    times: list[float] = field(default_factory=list)
    sums: list[float] = field(default_factory=list)
    last_time: float = -math.inf
    best: float = math.inf

    def add(self, t: float, loss: float, grace_period: float) -> None:
        if t < self.last_time:  # the trial started again from an earlier point
            cut = bisect.bisect_left(self.times, t)
            del self.times[cut:], self.sums[cut:]
        self.last_time = t
        self.best = min(self.best, loss)
        if t >= grace_period:
            self.times.append(t)
            self.sums.append((self.sums[-1] if self.sums else 0.0) + loss)

    def running_average(self, t: float) -> float | None:
        """The mean loss of its results from the grace period up to ``t`` (``None``: none)."""
        count = bisect.bisect_right(self.times, t)
        return self.sums[count - 1] / count if count else None


def median_stops(best: float, averages: Sequence[float]) -> bool:
    """Vizier's rule on losses: stop when ``best`` is strictly worse than the median of the
    others' running ``averages`` (inf stands for NaN, the worst)."""
    return best > statistics.median(averages)


class MedianStoppingRule(TrialScheduler):
    """Stops trials whose best result is worse than the median of the others' running
    averages at the same time.

    At each result at ``time_attr = t >= grace_period``: the other trials that have reached
    ``t`` and have a result in ``[grace_period, t]`` are the samples; with at least
    ``min_samples_required`` of them, the trial is stopped (or, with ``hard_stop=False``,
    paused, to be resumed only when nothing else is left to run, then run to its end) if its
    best metric so far is strictly worse than the median of their running averages.

    With fewer samples the trial may yield its place: when trials that have not started yet are
    waiting (created, and not run for want of room), it is paused once it has run
    ``min_time_slice`` (in ``time_attr`` units) since it last paused, so that samples
    accumulate; it resumes from its checkpoint after them. Trials do not yield to each other
    (no back-and-forth between paused trials).

    NaN (or ``None``) as the metric counts as the worst value (an infinite loss). A result
    without ``time_attr`` or the metric raises a ``ValueError`` naming it.

    Args:
        time_attr: the result field that measures time.
        metric, mode: what to compare ("min" or "max"); ``TuneConfig``'s when not given.
        grace_period: no trial stops before ``time_attr`` reaches it.
        min_samples_required: the fewest other trials the median is taken over.
        min_time_slice: how long a trial runs before it may yield to waiting trials.
        hard_stop: stop the trials the rule catches; if False, pause them instead.
    """

    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        grace_period: float = 60.0,
        min_samples_required: int = 3,
        min_time_slice: float = 0,
        hard_stop: bool = True,
    ) -> None:
        check_name(_NAME, "time_attr", time_attr)
        check_name(_NAME, "metric", metric, optional=True)
        super().__init__(metric, mode)
        self.time_attr = time_attr
        self.grace_period = check_number(_NAME, "grace_period", grace_period)
        self.min_samples_required = check_int(
            _NAME, "min_samples_required", min_samples_required, at_least=1
        )
        self.min_time_slice = check_number(_NAME, "min_time_slice", min_time_slice)
        self.hard_stop = check_bool(_NAME, "hard_stop", hard_stop)
        self.curves: dict[str, Curve] = {}
        self.not_started: set[str] = set()  # added, not chosen to run yet
        self.yielded: list[str] = []  # paused to let others run, oldest first
        self.last_pause: dict[str, float] = {}
        self.soft_stopped: set[str] = set()  # paused by the rule (hard_stop=False)
        self.search_finished = False

    def on_trial_add(self, trial: Trial) -> None:
        require_metric_mode(_NAME, self.metric, self.mode)
        self.not_started.add(trial.trial_id)

    def on_trial_result(self, trial: Trial, result: Mapping) -> Decision:
        require_metric_mode(_NAME, self.metric, self.mode)
        trial_id = trial.trial_id
        t = read_time(_NAME, self.time_attr, trial, result)
        loss = _worst_for_nan(read_loss(_NAME, self.metric, self.mode, trial, result))
        self._forget_waiting(trial_id)  # it runs
        curve = self.curves.setdefault(trial_id, Curve())
        curve.add(t, loss, self.grace_period)
        if trial_id in self.soft_stopped or t < self.grace_period:
            return Decision.CONTINUE  # a soft-stopped trial resumed runs to its end, as in Ray
        averages = []
        for other, theirs in self.curves.items():
            if other != trial_id and theirs.last_time >= t:
                average = theirs.running_average(t)
                if average is not None:
                    averages.append(average)
        if len(averages) < self.min_samples_required:
            return self._on_too_few_samples(trial_id, t)
        if not median_stops(curve.best, averages):
            return Decision.CONTINUE
        if self.hard_stop:
            return Decision.STOP
        self.soft_stopped.add(trial_id)
        return Decision.PAUSE

    def _on_too_few_samples(self, trial_id: str, t: float) -> Decision:
        if self.not_started and t - self.last_pause.get(trial_id, 0.0) > self.min_time_slice:
            self.last_pause[trial_id] = t
            self.yielded.append(trial_id)
            return Decision.PAUSE
        return Decision.CONTINUE

    def on_trial_complete(self, trial: Trial, result: Mapping | None) -> None:
        self._forget_waiting(trial.trial_id)

    def on_trial_error(self, trial: Trial) -> None:
        self._forget_waiting(trial.trial_id)

    def _forget_waiting(self, trial_id: str) -> None:
        self.not_started.discard(trial_id)
        if trial_id in self.yielded:
            self.yielded.remove(trial_id)

    def on_search_finished(self) -> None:
        self.search_finished = True

    def choose_trial_to_run(self, trials: Sequence[Trial]) -> Trial | None:
        """PENDING trials first, then those that yielded (longest paused first); trials the
        rule paused only once the search has finished and nothing else waits."""
        by_id = {t.trial_id: t for t in trials}
        for trial in trials:
            if trial.status is TrialStatus.PENDING and trial.trial_id not in self.soft_stopped:
                self.not_started.discard(trial.trial_id)  # it starts now
                return trial
        for trial_id in self.yielded:
            if trial_id in by_id:
                self.yielded.remove(trial_id)
                return by_id[trial_id]
        for trial in trials:  # paused trials the rule does not know of: first come
            known = trial.trial_id in self.soft_stopped or trial.trial_id in self.yielded
            if trial.status is TrialStatus.PAUSED and not known:
                return trial
        if self.search_finished:
            for trial in trials:
                if trial.trial_id in self.soft_stopped:
                    return trial
        return None

    def state_dict(self) -> dict:
        return {
            **super().state_dict(),
            "curves": {k: asdict(c) for k, c in self.curves.items()},
            "not_started": sorted(self.not_started),
            "yielded": list(self.yielded),
            "last_pause": dict(self.last_pause),
            "soft_stopped": sorted(self.soft_stopped),
            "search_finished": self.search_finished,
        }

    def load_state_dict(self, state: Mapping) -> None:
        super().load_state_dict(state)
        self.curves = {
            k: Curve(list(c["times"]), list(c["sums"]), c["last_time"], c["best"])
            for k, c in state["curves"].items()
        }
        self.not_started = set(state["not_started"])
        self.yielded = list(state["yielded"])
        self.last_pause = dict(state["last_pause"])
        self.soft_stopped = set(state["soft_stopped"])
        self.search_finished = state["search_finished"]
