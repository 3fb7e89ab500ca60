"""A trial: one config of the search with its resources, status and results (plain data).

The controller owns trials and changes them; schedulers, searchers and callbacks read them.
Only the last result and a few running figures per metric stay in memory (for
``get_best_result(scope=...)``); every result streams to the trial's files.
"""

from __future__ import annotations

import enum
import math
import numbers
import os
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from caliper.tune.trainable_wrappers import PlacementGroupFactory


class TrialStatus(str, enum.Enum):
    """Where a trial is in its life (the values are Ray Tune's status strings)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    TERMINATED = "TERMINATED"
    ERROR = "ERROR"

    @property
    def is_finished(self) -> bool:
        return self in (TrialStatus.TERMINATED, TrialStatus.ERROR)


class Decision(enum.IntEnum):
    """What a scheduler or stopper decides after a result; the controller carries it out."""

    CONTINUE = 0
    PAUSE = 1
    STOP = 2


class MetricStats:
    """Running figures of one numeric metric: last, min, max, avg and the last-5/-10 averages,
    the scopes ``ResultGrid.get_best_result`` accepts (memory does not grow with results)."""

    __slots__ = ("count", "last", "loaded", "max", "min", "recent", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.last = math.nan
        self.min = math.inf
        self.max = -math.inf
        self.recent: deque[float] = deque(maxlen=10)
        self.loaded: dict[str, float] | None = None

    @classmethod
    def from_figures(cls, figures: Mapping[str, float]) -> MetricStats:
        """Figures read back from ``experiment_state.json`` (as :meth:`as_dict` wrote them)."""
        stats = cls()
        stats.loaded = dict(figures)
        stats.last, stats.min, stats.max = figures["last"], figures["min"], figures["max"]
        return stats

    def add(self, value: float) -> None:
        self.loaded = None  # running figures from here on
        self.count += 1
        self.total += value
        self.last = value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        self.recent.append(value)

    def as_dict(self) -> dict[str, float]:
        if self.loaded is not None:
            return dict(self.loaded)
        recent = list(self.recent)
        return {
            "last": self.last,
            "min": self.min,
            "max": self.max,
            "avg": self.total / self.count if self.count else math.nan,
            "last-5-avg": sum(recent[-5:]) / len(recent[-5:]) if recent else math.nan,
            "last-10-avg": sum(recent) / len(recent) if recent else math.nan,
        }


# Fields the runtime adds to every result; running figures are kept for the user's metrics.
AUTO_FIELDS = frozenset(
    {
        "training_iteration", "time_this_iter_s", "time_total_s", "time_since_restore",
        "iterations_since_restore", "timestamp", "date", "trial_id", "experiment_tag", "done",
        "pid", "hostname", "node_ip", "config",
    }
)  # fmt: skip


_NUMERIC: dict[type, bool] = {float: True, int: True, bool: False, str: False}


def is_number(value: object) -> bool:
    """A real number that is not a bool (one dict lookup per value after a type's first)."""
    kind = type(value)
    known = _NUMERIC.get(kind)
    if known is None:
        known = _NUMERIC[kind] = kind is not bool and issubclass(kind, numbers.Real)
    return known


def metric_stats_update(stats: dict[str, MetricStats], result: Mapping) -> None:
    """Add the numeric top-level values of ``result`` (not bools, not the automatic
    fields) to ``stats``."""
    auto = AUTO_FIELDS
    for key, value in result.items():
        if key not in auto and is_number(value):
            entry = stats.get(key)
            if entry is None:
                entry = stats[key] = MetricStats()
            entry.add(value if type(value) is float else float(value))


@dataclass(eq=False)
class Trial:
    """One trial (see the module docstring). ``path`` is the trial's directory."""

    trial_id: str
    config: dict
    experiment_tag: str
    resources: PlacementGroupFactory
    path: str = ""
    dirname: str = ""
    name: str = ""
    status: TrialStatus = TrialStatus.PENDING
    last_result: dict = field(default_factory=dict)
    metric_stats: dict[str, MetricStats] = field(default_factory=dict)
    num_results: int = 0
    num_failures: int = 0
    error_msg: str | None = None
    error_file: str | None = None
    checkpoints: list[dict] = field(default_factory=list)  # {"path":, "metrics":}
    start_time: float | None = None
    restore_path: str | None = None  # the checkpoint the next run starts from
    constant_fields: dict = field(default_factory=dict)  # trial_id, pid, ... of the run

    @property
    def is_finished(self) -> bool:
        return self.status.is_finished

    @property
    def checkpoint_path(self) -> str | None:
        """The newest checkpoint's directory."""
        return self.checkpoints[-1]["path"] if self.checkpoints else None

    def next_checkpoint_index(self) -> int:
        """The number for the trial's next ``checkpoint_NNNNNN`` directory."""
        path = self.checkpoint_path
        if not path:
            return 0
        digits = os.path.basename(os.path.normpath(path)).rpartition("_")[2]
        return int(digits) + 1 if digits.isdigit() else len(self.checkpoints)

    def run_spec(self) -> dict:
        """What the trial's next run is given of it (the controller adds the experiment's
        part): ids, directory, config, resources, and where it counts on from."""
        iteration, time_total = self.restored_counters()
        saved = self._restore_entry()
        return {
            "trial_id": self.trial_id,
            "trial_name": self.name,
            "trial_dir": self.path,
            "experiment_tag": self.experiment_tag,
            "config": self.config,
            "resources": (self.resources.bundles, self.resources.strategy),
            "iteration": iteration,
            "time_total_s": time_total,
            "restore_path": self.restore_path,
            # from another trial's checkpoint (PBT's exploit): none of this trial's results
            # are cut back, they go on from the copy's iteration
            "keep_results": bool(saved and saved.get("source")),
            "checkpoint_index": self.next_checkpoint_index(),
        }

    def _restore_entry(self) -> dict | None:
        """The checkpoint entry the next run starts from, if any."""
        if self.restore_path is None:
            return None
        saved = [e for e in self.checkpoints if e["path"] == self.restore_path]
        return saved[-1] if saved else None

    def restored_counters(self) -> tuple[int, float]:
        """``training_iteration`` and ``time_total_s`` where the next run counts on from:
        those of the checkpoint it starts from (zero without one)."""
        if self.restore_path is None:
            return 0, 0.0
        saved = self._restore_entry()
        counted = saved["metrics"] if saved else self.last_result
        return counted.get("training_iteration", 0), counted.get("time_total_s", 0.0)

    def record(self, result: dict) -> None:
        """Keep ``result`` as the last one and add it to the running figures."""
        self.last_result = result
        self.num_results += 1
        metric_stats_update(self.metric_stats, result)

    def stats_dict(self) -> dict[str, dict[str, float]]:
        return {key: stats.as_dict() for key, stats in self.metric_stats.items()}

    def __repr__(self) -> str:
        return f"Trial({self.trial_id}, {self.status.value})"

    def __str__(self) -> str:
        return self.name or self.trial_id
