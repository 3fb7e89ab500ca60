"""Stopping rules with Ray Tune's names: ``Stopper`` and its standard subclasses, plus the
conversion of ``RunConfig(stop=...)`` (a dict of thresholds, a function or a ``Stopper``).

A stopper is asked after every result: ``stopper(trial_id, result)`` is True to stop that
trial, ``stopper.stop_all()`` is True to end the experiment. Time comes from an injected clock
(``time.monotonic`` by default), so tests run on a virtual clock.
"""

from __future__ import annotations

import abc
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping

import numpy as np

Clock = Callable[[], float]
_MODES = ("min", "max")


class Stopper(abc.ABC):
    """Decides when trials, or the whole experiment, stop."""

    @abc.abstractmethod
    def __call__(self, trial_id: str, result: Mapping) -> bool:
        """Whether ``trial_id`` should stop after this ``result``."""

    def stop_all(self) -> bool:
        """Whether the whole experiment should stop now."""
        return False


class NoopStopper(Stopper):
    """Never stops anything."""

    def __call__(self, trial_id: str, result: Mapping) -> bool:
        return False


def _metric(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a metric name (a non-empty str), got {value!r}")
    return value


def _positive(name: str, value: object, integral: bool = False) -> float:
    kinds = int if integral else int | float
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an int" if integral else "a number"
        raise TypeError(f"{name} must be {kind}, got {value!r}")
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


class MaximumIterationStopper(Stopper):
    """Stop a trial once it has reported ``max_iter`` results."""

    def __init__(self, max_iter: int) -> None:
        self.max_iter = _positive("max_iter", max_iter, integral=True)
        self._counts: dict[str, int] = defaultdict(int)

    def __call__(self, trial_id: str, result: Mapping) -> bool:
        self._counts[trial_id] += 1
        return self._counts[trial_id] >= self.max_iter


class TrialPlateauStopper(Stopper):
    """Stop a trial whose ``metric`` has plateaued: the standard deviation of its last
    ``num_results`` values is below ``std``, after at least ``grace_period`` results (and,
    with ``metric_threshold``, once the value is beyond the threshold in ``mode``)."""

    def __init__(
        self,
        metric: str,
        std: float = 0.01,
        num_results: int = 4,
        grace_period: int = 4,
        metric_threshold: float | None = None,
        mode: str | None = None,
    ) -> None:
        self.metric = _metric("metric", metric)
        if isinstance(std, bool) or not isinstance(std, int | float) or std < 0:
            raise ValueError(f"std must be a number >= 0, got {std!r}")
        self.std = std
        self.num_results = _positive("num_results", num_results, integral=True)
        if isinstance(grace_period, bool) or not isinstance(grace_period, int) or grace_period < 0:
            raise ValueError(f"grace_period must be an int >= 0, got {grace_period!r}")
        self.grace_period = grace_period
        if metric_threshold is not None and mode not in _MODES:
            raise ValueError(
                f"mode must be 'min' or 'max' when metric_threshold is set, got {mode!r}"
            )
        self.metric_threshold = metric_threshold
        self.mode = mode
        self._windows: dict[str, deque] = defaultdict(lambda: deque(maxlen=self.num_results))
        self._counts: dict[str, int] = defaultdict(int)

    def __call__(self, trial_id: str, result: Mapping) -> bool:
        value = result.get(self.metric)
        if value is None:
            return False
        self._counts[trial_id] += 1
        window = self._windows[trial_id]
        window.append(value)
        if self._counts[trial_id] < self.grace_period or len(window) < self.num_results:
            return False
        if self.metric_threshold is not None:
            beyond = (
                value <= self.metric_threshold
                if self.mode == "min"
                else (value >= self.metric_threshold)
            )
            if not beyond:
                return False
        return float(np.std(window)) < self.std


class ExperimentPlateauStopper(Stopper):
    """End the experiment once the ``top`` best values of ``metric`` seen so far have a
    standard deviation of at most ``std`` and have had it for ``patience`` results in a row
    (counting the first, as Ray does)."""

    def __init__(
        self, metric: str, std: float = 0.001, top: int = 10, mode: str = "min", patience: int = 0
    ) -> None:
        self.metric = _metric("metric", metric)
        if mode not in _MODES:
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if isinstance(std, bool) or not isinstance(std, int | float) or std < 0:
            raise ValueError(f"std must be a number >= 0, got {std!r}")
        self.std, self.mode = std, mode
        self.top = _positive("top", top, integral=True)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an int >= 0, got {patience!r}")
        self.patience = patience
        self._best: list[float] = []  # only the top values are kept
        self._plateau_steps = 0

    def _plateaued(self) -> bool:
        return len(self._best) == self.top and float(np.std(self._best)) <= self.std

    def __call__(self, trial_id: str, result: Mapping) -> bool:
        value = result.get(self.metric)
        if value is None:
            return False
        self._best = sorted([*self._best, value], reverse=self.mode == "max")[: self.top]
        self._plateau_steps = self._plateau_steps + 1 if self._plateaued() else 0
        return self.stop_all()

    def stop_all(self) -> bool:
        return self._plateaued() and self._plateau_steps >= self.patience


class TimeoutStopper(Stopper):
    """End the experiment after ``timeout`` seconds (a number or a ``datetime.timedelta``)."""

    def __init__(self, timeout: float, clock: Clock = time.monotonic) -> None:
        seconds = timeout.total_seconds() if hasattr(timeout, "total_seconds") else timeout
        self.timeout = _positive("timeout", seconds)
        self._clock = clock
        self._start = clock()

    def __call__(self, trial_id: str, result: Mapping) -> bool:
        return False

    def stop_all(self) -> bool:
        return self._clock() - self._start >= self.timeout


class CombinedStopper(Stopper):
    """Stops what any of ``stoppers`` stops."""

    def __init__(self, *stoppers: Stopper) -> None:
        for i, stopper in enumerate(stoppers):
            if not isinstance(stopper, Stopper):
                raise TypeError(f"stopper {i} must be a Stopper, got {type(stopper).__name__}")
        self.stoppers = stoppers

    def __call__(self, trial_id: str, result: Mapping) -> bool:
        return any([stopper(trial_id, result) for stopper in self.stoppers])  # ask every one

    def stop_all(self) -> bool:
        return any(stopper.stop_all() for stopper in self.stoppers)


class ThresholdStopper(Stopper):
    """``stop={"training_iteration": 10, "mean_accuracy": 0.98}``: stop a trial once any of
    these metrics reaches its value (``>=``; for a metric being minimised give the threshold
    to a function stopper instead)."""

    def __init__(self, thresholds: Mapping[str, float]) -> None:
        for key, value in thresholds.items():
            _metric("a stop key", key)
            if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
                raise TypeError(f"stop[{key!r}] must be a number, got {value!r}")
        self.thresholds = dict(thresholds)

    def __call__(self, trial_id: str, result: Mapping) -> bool:
        for key, threshold in self.thresholds.items():
            value = result.get(key)
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if number and value >= threshold:
                return True
        return False


class FunctionStopper(Stopper):
    """``stop=lambda trial_id, result: ...``."""

    def __init__(self, fn: Callable[[str, Mapping], bool]) -> None:
        self.fn = fn

    def __call__(self, trial_id: str, result: Mapping) -> bool:
        return bool(self.fn(trial_id, result))


def as_stopper(stop: object) -> Stopper:
    """The ``Stopper`` for ``RunConfig(stop=...)``: ``None``, a dict of thresholds, a
    function ``(trial_id, result) -> bool`` or a ``Stopper``."""
    if stop is None:
        return NoopStopper()
    if isinstance(stop, Stopper):
        return stop
    if isinstance(stop, Mapping):
        return ThresholdStopper(stop)
    if callable(stop):
        return FunctionStopper(stop)
    raise TypeError(
        "stop must be a dict of metric thresholds (e.g. {'training_iteration': 10}), a "
        f"function (trial_id, result) -> bool or a tune.Stopper, got {type(stop).__name__}"
    )
