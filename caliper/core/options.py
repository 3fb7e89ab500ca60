"""Validation of ``@remote(...)`` and ``.options(...)`` keyword arguments (tasks and actors)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from caliper.core.resources import Request
from caliper.core.specs import Placement

_COMMON = {
    "num_cpus",
    "num_gpus",
    "memory",
    "resources",
    "placement_group",
    "placement_group_bundle_index",
    "placement_group_capture_child_tasks",
    "scheduling_strategy",
    "name",
}
TASK_OPTIONS = frozenset(_COMMON | {"max_retries", "retry_exceptions", "num_returns"})
ACTOR_OPTIONS = frozenset(_COMMON | {"max_restarts", "lifetime", "get_if_exists"})


@dataclass(frozen=True)
class Resolved:
    """Options turned into what a spec needs."""

    request: Request
    placement: Placement | None
    max_retries: int
    retry_exceptions: bool
    max_restarts: int
    name: str | None
    num_returns: int
    detached: bool = False  # lifetime="detached": lives until shutdown, whoever holds handles
    get_if_exists: bool = False


def check_names(options: Mapping[str, object], allowed: frozenset[str], what: str) -> None:
    """Raise ``TypeError`` for an option ``what`` does not take, listing those it does."""
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(
            f"{what} got unknown option(s) {', '.join(map(repr, unknown))}; "
            f"valid options are: {', '.join(sorted(allowed))}"
        )


def _int_at_least(options: Mapping[str, object], key: str, default: int, low: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{key} must be an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{key} must be >= {low} (-1 means without limit), got {value}")
    return value


def resolve(options: Mapping[str, object], *, actor: bool) -> Resolved:
    """Validate merged options and resolve defaults (tasks: 1 CPU; actors: 0 CPU)."""
    from caliper.core.placement_groups import PlacementGroup, PlacementGroupSchedulingStrategy

    check_names(
        options, ACTOR_OPTIONS if actor else TASK_OPTIONS, "an actor" if actor else "a task"
    )
    num_cpus = options.get("num_cpus")
    request = Request.from_amounts(
        num_cpus=(0 if actor else 1) if num_cpus is None else num_cpus,
        num_gpus=options.get("num_gpus"),
        memory=options.get("memory"),
        resources=options.get("resources"),
    )
    pg = options.get("placement_group")
    index = options.get("placement_group_bundle_index", -1)
    strategy = options.get("scheduling_strategy")
    if isinstance(strategy, PlacementGroupSchedulingStrategy):
        if pg is not None:
            raise ValueError("give either placement_group or scheduling_strategy, not both")
        pg, index = strategy.placement_group, strategy.placement_group_bundle_index
    elif strategy not in (None, "DEFAULT", "SPREAD"):
        raise ValueError(
            "scheduling_strategy must be None, 'DEFAULT', 'SPREAD' or a "
            f"PlacementGroupSchedulingStrategy, got {strategy!r}"
        )
    placement = None
    if pg is not None and pg != "default":
        if not isinstance(pg, PlacementGroup):
            raise TypeError(
                f"placement_group must be a PlacementGroup from caliper.util.placement_group(), "
                f"got {type(pg).__name__}"
            )
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"placement_group_bundle_index must be an int, got {index!r}")
        if not -1 <= index < pg.bundle_count:
            raise ValueError(
                f"placement_group_bundle_index must be -1 (any bundle) or in "
                f"[0, {pg.bundle_count - 1}] for this group of {pg.bundle_count} bundles, "
                f"got {index}"
            )
        placement = Placement(pg.id, index)
    elif index != -1:
        raise ValueError("placement_group_bundle_index needs a placement_group")
    name = options.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    retry_exceptions = options.get("retry_exceptions", False)
    if not isinstance(retry_exceptions, bool):
        raise TypeError(f"retry_exceptions must be a bool, got {retry_exceptions!r}")
    return Resolved(
        request=request,
        placement=placement,
        max_retries=_int_at_least(options, "max_retries", 3, -1),
        retry_exceptions=retry_exceptions,
        max_restarts=_int_at_least(options, "max_restarts", 0, -1),
        name=name,
        num_returns=check_num_returns(options.get("num_returns", 1)),
        detached=_lifetime(options.get("lifetime")),
        get_if_exists=_get_if_exists(options.get("get_if_exists", False), name),
    )


def _lifetime(value: object) -> bool:
    if value not in (None, "detached", "non_detached"):
        raise ValueError(f"lifetime must be None, 'detached' or 'non_detached', got {value!r}")
    return value == "detached"


def _get_if_exists(value: object, name: str | None) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"get_if_exists must be a bool, got {value!r}")
    if value and name is None:
        raise ValueError("get_if_exists=True needs name= (the actor to look up)")
    return value


def check_num_returns(value: object) -> int:
    """``num_returns`` must be an int >= 1 (how many refs a call returns)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"num_returns must be an int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"num_returns must be >= 1, got {value}")
    return value
