"""The ``TrialScheduler`` contract and ``FIFOScheduler`` (Ray Tune's names).

Schedulers decide, the controller acts. Call order: ``set_search_properties(metric, mode)``
once; ``on_trial_add`` when a trial is created; ``on_trial_result(trial, result)`` per result,
returning a :class:`~caliper.tune.trial.Decision`; exactly one of ``on_trial_complete`` /
``on_trial_error`` when a trial ends (also when a decision stopped it early);
``choose_trial_to_run(trials)`` whenever resources free up, which picks a PENDING or PAUSED
trial (or none); ``take_actions()`` after each batch of results and each ended run, which hands
over what the scheduler wants done beyond its decisions (PBT's exploits, stopping waiting
trials; see :mod:`caliper.schedulers.actions`). A scheduler never receives the controller; it
only reads trials.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

from caliper.schedulers.actions import Action
from caliper.tune.search_properties import merge_metric_mode
from caliper.tune.trial import Decision, Trial, TrialStatus

_MODES = ("min", "max")


class TrialScheduler(abc.ABC):
    """Base class of schedulers (see the module docstring)."""

    CONTINUE = Decision.CONTINUE
    PAUSE = Decision.PAUSE
    STOP = Decision.STOP

    #: False when ``on_trial_result`` only ever returns CONTINUE: trials may then report
    #: without waiting for each decision (much higher result throughput).
    decides_per_result: bool = True

    def __init__(self, metric: str | None = None, mode: str | None = None) -> None:
        if mode is not None and mode not in _MODES:
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.metric = metric
        self.mode = mode

    def set_search_properties(self, metric: str | None, mode: str | None, **spec) -> bool:
        """Take the experiment's metric and mode where the scheduler has none of its own."""
        self.metric, self.mode = merge_metric_mode(
            "scheduler", (self.metric, self.mode), metric, mode
        )
        return True

    def on_trial_add(self, trial: Trial) -> None:  # noqa: B027 (optional hook)
        """A trial was created."""

    def on_trial_error(self, trial: Trial) -> None:  # noqa: B027 (optional hook)
        """A trial failed."""

    @abc.abstractmethod
    def on_trial_result(self, trial: Trial, result: Mapping) -> Decision:
        """A trial reported ``result``: continue, pause or stop it."""

    def on_trial_complete(self, trial: Trial, result: Mapping | None) -> None:  # noqa: B027
        """A trial finished (``result`` is its last)."""

    def on_trial_remove(self, trial: Trial) -> None:  # noqa: B027 (optional hook)
        """Ray's hook for a trial removed early; the controller calls ``on_trial_complete``
        for trials that decisions stopped, so schedulers need only that one."""

    def choose_trial_to_run(self, trials: Sequence[Trial]) -> Trial | None:
        """The next trial to start: the first PENDING one, else the first PAUSED one."""
        for status in (TrialStatus.PENDING, TrialStatus.PAUSED):
            for trial in trials:
                if trial.status is status:
                    return trial
        return None

    def take_actions(self) -> list[Action]:
        """The actions queued since the last call, oldest first (each handed over once)."""
        return []

    def on_search_finished(self) -> None:  # noqa: B027 (optional hook)
        """The searcher will give no more trials (called once, then ``take_actions()``): a
        scheduler that waits for a group of trials (HyperBand's brackets) goes on with those it
        has."""

    def on_stall(self) -> None:
        """Nothing runs, the searcher suggests nothing now (e.g. a ``ConcurrencyLimiter``
        counts this scheduler's paused trials) and :meth:`choose_trial_to_run` chose none of
        the waiting trials: go on with the trials there are (then ``take_actions()`` and
        ``choose_trial_to_run`` again). By default, as when the search has finished."""
        self.on_search_finished()

    def state_dict(self) -> dict:
        return {"metric": self.metric, "mode": self.mode}

    def load_state_dict(self, state: Mapping) -> None:
        self.metric, self.mode = state.get("metric"), state.get("mode")


class FIFOScheduler(TrialScheduler):
    """Runs trials in the order they were created, each to its end (the default)."""

    decides_per_result = False

    def on_trial_result(self, trial: Trial, result: Mapping) -> Decision:
        return Decision.CONTINUE
