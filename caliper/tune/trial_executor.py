"""Runs trials as actors on the runtime: resources, runner processes and their reuse.

The controller asks :meth:`TrialExecutor.fits` before it starts a trial, so a trial starts
only when its resources are free (the controller, not the runtime, queues trials). With
``reuse_actors`` a runner whose trial ended takes the next trial with the same resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import caliper.core.api as core
from caliper.core.exceptions import SerializationError
from caliper.core.placement_groups import (
    PlacementGroupSchedulingStrategy,
    placement_group,
    remove_placement_group,
)
from caliper.tune.runner import TrialRunner
from caliper.tune.trainable_wrappers import PlacementGroupFactory
from caliper.tune.trial import Trial

_UNIT = 10_000
_RUNNER = core.remote(TrialRunner)


def _units(resources: Mapping[str, float]) -> dict[str, int]:
    return {key: round(amount * _UNIT) for key, amount in resources.items() if amount}


def _key(pgf: PlacementGroupFactory) -> tuple:
    return (tuple(tuple(sorted(b.items())) for b in pgf.bundles), pgf.strategy)


class Runner:
    """One runner actor (and its placement group when the trial has several bundles)."""

    __slots__ = ("actor", "group", "key")

    def __init__(self, actor: Any, group: Any, key: tuple) -> None:
        self.actor, self.group, self.key = actor, group, key


def _describe(resources: Mapping[str, float]) -> str:
    def amount(key: str, value: float) -> str:
        return f"{value / 2**30:.3g} GiB" if key == "memory" else f"{value:g}"

    return ", ".join(f"{k}={amount(k, v)}" for k, v in sorted(resources.items())) or "nothing"


class TrialExecutor:
    """See the module docstring.

    Args:
        trainable: the function or ``Trainable`` class (stored once, fetched by runners).
        reuse_actors: keep runners of ended trials for the next trial with equal resources.
    """

    def __init__(self, trainable: Any, reuse_actors: bool) -> None:
        try:
            self._trainable = core.put(trainable)
        except SerializationError as exc:
            raise TypeError(f"the trainable cannot be pickled to run in a trial: {exc}") from None
        self.reuse_actors = reuse_actors
        self.local = core.is_local()  # runners are processes of this machine
        self.total = core.cluster_resources()
        self._total_units = _units(self.total)
        self._free = dict(self._total_units)
        self._idle: dict[tuple, list[Runner]] = {}
        self.running: dict[Any, tuple[Trial, Runner]] = {}  # run ref -> (trial, runner)

    def infeasible_reason(self, pgf: PlacementGroupFactory) -> str | None:
        """Why a trial asking for ``pgf`` can never run here (``None`` if it can)."""
        need = _units(pgf.required_resources)
        short = [k for k, v in need.items() if v > self._total_units.get(k, 0)]
        if not short:
            return None
        return (
            f"a trial asks for {_describe(pgf.required_resources)} but this machine has "
            f"{_describe(self.total)} in all (short of {', '.join(short)}); lower the "
            "trial's resources in tune.with_resources or add resources in caliper.init"
        )

    def fits(self, pgf: PlacementGroupFactory) -> bool:
        free = self._free
        return all(free.get(k, 0) >= v for k, v in _units(pgf.required_resources).items())

    def _take(self, pgf: PlacementGroupFactory, sign: int) -> None:
        for key, amount in _units(pgf.required_resources).items():
            self._free[key] = self._free.get(key, 0) - sign * amount

    def _runner(self, pgf: PlacementGroupFactory) -> Runner:
        key = _key(pgf)
        idle = self._idle.get(key)
        if idle:
            return idle.pop()
        for other in [k for k in self._idle if k != key]:  # idle runners hold resources
            for runner in self._idle.pop(other):
                self._discard(runner)
        head = pgf.head_bundle
        options: dict[str, Any] = {
            "num_cpus": head.get("CPU", 0),
            "num_gpus": head.get("GPU", 0),
            "max_restarts": 0,
        }
        if head.get("memory"):
            options["memory"] = head["memory"]
        custom = {k: v for k, v in head.items() if k not in ("CPU", "GPU", "memory")}
        if custom:
            options["resources"] = custom
        group = None
        if len(pgf.bundles) > 1:
            # an empty head bundle (Ray's [{}, {"CPU": 1}, ...]): the trial's own process
            # takes nothing and the group holds the other bundles for what the trial starts
            empty_head = not any(head.values())
            group = placement_group(pgf.bundles[empty_head:], strategy=pgf.strategy)
            if not empty_head:
                options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
                    group, placement_group_bundle_index=0
                )
        actor = _RUNNER.options(**options).remote(self._trainable)
        return Runner(actor, group, key)

    def start(self, trial: Trial, spec: Mapping[str, Any]) -> Any:
        """Run ``trial`` (its resources must fit); returns the ref of the run."""
        self._take(trial.resources, +1)
        runner = self._runner(trial.resources)
        ref = runner.actor.run.remote({**spec, "placement_group": runner.group})
        self.running[ref] = (trial, runner)
        return ref

    def finish(self, ref: Any) -> tuple[Trial, Any, BaseException | None]:
        """The run ``ref`` ended: ``(trial, outcome, error)``; resources are free again."""
        trial, runner = self.running.pop(ref)
        self._take(trial.resources, -1)
        try:
            outcome, error = core.get(ref), None
        except Exception as exc:
            outcome, error = None, exc
        if error is None and self.reuse_actors:
            self._idle.setdefault(runner.key, []).append(runner)
        else:
            self._discard(runner)
        return trial, outcome, error

    def stop(self, ref: Any) -> Trial:
        """End the run ``ref`` at once (its process is killed); resources are free again."""
        trial, runner = self.running.pop(ref)
        self._take(trial.resources, -1)
        self._discard(runner)
        return trial

    def _discard(self, runner: Runner) -> None:
        core.kill(runner.actor)
        if runner.group is not None:
            remove_placement_group(runner.group)

    def shutdown(self, graceful: bool = True) -> None:
        """Stop every runner (idle ones first end their class trainables when ``graceful``)."""
        for ref in list(self.running):
            self.stop(ref)
        idle = [r for runners in self._idle.values() for r in runners]
        self._idle.clear()
        if graceful and idle:
            try:
                core.get([r.actor.close.remote() for r in idle], timeout=10)
            except Exception:
                pass
        for runner in idle:
            self._discard(runner)
