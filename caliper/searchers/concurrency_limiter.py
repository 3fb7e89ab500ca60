"""``ConcurrencyLimiter``: at most so many of a searcher's trials unfinished at once (Ray
Tune's name and arguments)."""

from __future__ import annotations

from collections.abc import Mapping

from caliper.searchers.searcher import FINISHED, Searcher


class ConcurrencyLimiter(Searcher):
    """Wraps ``searcher`` so that at most ``max_concurrent`` of its trials are unfinished at
    any time: :meth:`suggest` returns ``None`` ("not now") while the limit is reached.

    A model-based searcher learns more per trial when fewer run at once; this trades
    wall-clock time for search quality.

    Args:
        searcher: the searcher to limit.
        max_concurrent: the most unfinished trials at once (>= 1).
        batch: run in batches of ``max_concurrent``: the next batch starts when the whole
            previous one has finished, and the searcher hears of the batch's results together.
    """

    def __init__(self, searcher: Searcher, max_concurrent: int, batch: bool = False) -> None:
        if not isinstance(searcher, Searcher):
            raise TypeError(
                f"ConcurrencyLimiter: searcher must be a Searcher, got {type(searcher).__name__}"
            )
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int):
            raise TypeError(
                f"ConcurrencyLimiter: max_concurrent must be an int, got {max_concurrent!r}"
            )
        if max_concurrent < 1:
            raise ValueError(
                f"ConcurrencyLimiter: max_concurrent must be >= 1, got {max_concurrent}"
            )
        if not isinstance(batch, bool):
            raise TypeError(f"ConcurrencyLimiter: batch must be a bool, got {batch!r}")
        super().__init__()
        self.searcher = searcher
        self.max_concurrent = max_concurrent
        self.batch = batch
        self.metric, self.mode = searcher.metric, searcher.mode
        self.live: list[str] = []  # suggested, not yet finished (in batch mode: not yet told)
        self.held: dict[str, tuple[Mapping | None, bool]] = {}  # batch mode: finished, untold

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: Mapping, **spec
    ) -> bool:
        accepted = self.searcher.set_search_properties(metric, mode, config, **spec)
        self.metric, self.mode = self.searcher.metric, self.searcher.mode
        return accepted

    def suggest(self, trial_id: str) -> dict | str | None:
        if len(self.live) >= self.max_concurrent:
            return None
        if self.batch and self.held:  # the batch has started finishing: wait for all of it
            return None
        config = self.searcher.suggest(trial_id)
        if config is not None and config != FINISHED:
            self.live.append(trial_id)
        return config

    def on_trial_result(self, trial_id: str, result: Mapping) -> None:
        if trial_id in self.live:
            self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: Mapping | None = None, error: bool = False
    ) -> None:
        if trial_id not in self.live:
            return
        if not self.batch:
            self.live.remove(trial_id)
            self.searcher.on_trial_complete(trial_id, result, error=error)
            return
        self.held[trial_id] = (result, error)
        if len(self.held) == len(self.live):  # the whole batch is done
            for held_id in self.live:
                held_result, held_error = self.held[held_id]
                self.searcher.on_trial_complete(held_id, held_result, error=held_error)
            self.live.clear()
            self.held.clear()

    def state_dict(self) -> dict:
        return {
            "searcher": self.searcher.state_dict(),
            "live": list(self.live),
            "held": dict(self.held),
        }

    def load_state_dict(self, state: Mapping) -> None:
        self.searcher.load_state_dict(state["searcher"])
        self.live = list(state["live"])
        self.held = dict(state["held"])
