"""``Repeater``: every config of a searcher run several times, the searcher told the average
(Ray Tune's name and arguments)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from caliper.searchers.searcher import FINISHED, Searcher
from caliper.searchers.space import objective

TRIAL_INDEX = "__trial_index__"
"""The config key that numbers the repetitions of a config (0 .. repeat - 1)."""


def average(results: list[Mapping], metrics: list[str]) -> dict | None:
    """The mean of each metric over the results that have it (``None`` if a metric has no
    value in any of them)."""
    out = {}
    for metric in metrics:
        values = [v for v in (objective(r, metric) for r in results) if v is not None]
        if not values:
            return None
        out[metric] = math.fsum(values) / len(values)
    return out


class Repeater(Searcher):
    """Runs each config of ``searcher`` ``repeat`` times (e.g. with different random seeds
    in the trainable) and tells ``searcher`` the mean of the metric over the repetitions, as
    one trial, once all of them have finished. Failed repetitions are left out of the mean;
    if all fail, the searcher hears of an error.

    Give ``num_samples`` as a multiple of ``repeat`` so that every config runs ``repeat``
    times.

    Args:
        searcher: the searcher whose configs to repeat.
        repeat: how many times to run each config (>= 1).
        set_index: add ``"__trial_index__"`` (0 .. repeat - 1) to each config.
    """

    def __init__(self, searcher: Searcher, repeat: int = 1, set_index: bool = True) -> None:
        if not isinstance(searcher, Searcher):
            raise TypeError(f"Repeater: searcher must be a Searcher, got {type(searcher).__name__}")
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
            raise ValueError(f"Repeater: repeat must be an int >= 1, got {repeat!r}")
        super().__init__()
        self.searcher = searcher
        self.repeat = repeat
        self.set_index = bool(set_index)
        self.metric, self.mode = searcher.metric, searcher.mode
        self.groups: list[dict] = []  # {"primary", "config", "members": {trial_id: result}}
        self.member_of: dict[str, int] = {}  # trial id -> group index

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: Mapping, **spec
    ) -> bool:
        accepted = self.searcher.set_search_properties(metric, mode, config, **spec)
        self.metric, self.mode = self.searcher.metric, self.searcher.mode
        return accepted

    def suggest(self, trial_id: str) -> dict | str | None:
        group = self.groups[-1] if self.groups else None
        if group is None or group["handed_out"] >= self.repeat:
            config = self.searcher.suggest(trial_id)
            if config is None or config == FINISHED:
                return config
            group = {"primary": trial_id, "config": config, "handed_out": 0, "results": {}}
            self.groups.append(group)
        index = group["handed_out"]
        group["handed_out"] += 1
        self.member_of[trial_id] = len(self.groups) - 1
        config = dict(group["config"])
        if self.set_index:
            config[TRIAL_INDEX] = index
        return config

    def on_trial_complete(
        self, trial_id: str, result: Mapping | None = None, error: bool = False
    ) -> None:
        position = self.member_of.pop(trial_id, None)
        if position is None:
            return
        group = self.groups[position]
        group["results"][trial_id] = None if error else result
        if len(group["results"]) < self.repeat:
            return
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        done = [r for r in group["results"].values() if r is not None]
        mean = average(done, metrics) if self.metric is not None else None
        if mean is None:
            self.searcher.on_trial_complete(group["primary"], None, error=True)
        else:
            self.searcher.on_trial_complete(group["primary"], mean)
        group["results"] = {}
        group["config"] = None  # told: keep only the count

    def state_dict(self) -> dict:
        return {
            "searcher": self.searcher.state_dict(),
            "groups": [dict(g) for g in self.groups],
            "member_of": dict(self.member_of),
        }

    def load_state_dict(self, state: Mapping) -> None:
        self.searcher.load_state_dict(state["searcher"])
        self.groups = [dict(g) for g in state["groups"]]
        self.member_of = dict(state["member_of"])
