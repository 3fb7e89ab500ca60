"""The ``Searcher`` contract (Ray Tune's names), which every search algorithm follows.

Call order, by the experiment controller: ``set_search_properties(metric, mode, config,
num_samples=...)`` once; then ``suggest(trial_id)`` whenever a trial may start, which returns a
config, ``None`` (nothing to suggest now, ask again later) or :data:`FINISHED` (no more trials);
``on_trial_result`` for intermediate results; ``on_trial_complete(trial_id, result, error)``
exactly once per suggested trial, also for trials a scheduler stopped early. A searcher owns its
RNG and state: ``state_dict``/``load_state_dict`` (and ``save``/``restore`` to a file) let an
experiment resume the same search.
"""

from __future__ import annotations

import abc
import pickle
from collections.abc import Mapping

from caliper.tune.search_properties import merge_metric_mode

FINISHED = "FINISHED"
"""What :meth:`Searcher.suggest` returns when the search is over."""

_MODES = ("min", "max")


class Searcher(abc.ABC):
    """Base class of search algorithms. ``metric``/``mode`` may come from the constructor or
    from ``TuneConfig`` through :meth:`set_search_properties`."""

    FINISHED = FINISHED

    def __init__(self, metric: str | None = None, mode: str | None = None) -> None:
        if mode is not None and mode not in _MODES:
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if metric is not None and not isinstance(metric, str | list):
            raise TypeError(f"metric must be a str, got {type(metric).__name__}")
        self.metric = metric
        self.mode = mode

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: Mapping, **spec
    ) -> bool:
        """Take ``metric``, ``mode`` and the search space from the experiment where the
        searcher has none of its own. Returns whether it accepted them."""
        self.metric, self.mode = merge_metric_mode(
            "searcher", (self.metric, self.mode), metric, mode
        )
        return True

    @abc.abstractmethod
    def suggest(self, trial_id: str) -> dict | str | None:
        """A config for the new trial ``trial_id``, ``None`` for "not now", or FINISHED."""

    def on_trial_result(self, trial_id: str, result: Mapping) -> None:  # noqa: B027 (optional hook)
        """An intermediate result of ``trial_id`` (optional to use)."""

    @abc.abstractmethod
    def on_trial_complete(
        self, trial_id: str, result: Mapping | None = None, error: bool = False
    ) -> None:
        """``trial_id`` ended: its last ``result``, or ``error=True`` if it failed."""

    @abc.abstractmethod
    def state_dict(self) -> dict:
        """Everything needed to continue this search in another process."""

    @abc.abstractmethod
    def load_state_dict(self, state: Mapping) -> None:
        """Continue from a :meth:`state_dict`."""

    def save(self, checkpoint_path: str) -> None:
        """Write :meth:`state_dict` to ``checkpoint_path``."""
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.state_dict(), f)

    def restore(self, checkpoint_path: str) -> None:
        """Read a state written by :meth:`save`."""
        with open(checkpoint_path, "rb") as f:
            self.load_state_dict(pickle.load(f))


def innermost(searcher: Searcher) -> Searcher:
    """The searcher inside wrappers such as ``ConcurrencyLimiter`` and ``Repeater``."""
    while isinstance(getattr(searcher, "searcher", None), Searcher):
        searcher = searcher.searcher
    return searcher
