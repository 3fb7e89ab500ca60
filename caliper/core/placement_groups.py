"""Placement groups: sets of resource bundles reserved together (all or none)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from caliper.core import context, refs
from caliper.core.exceptions import GetTimeoutError
from caliper.core.placement import Strategy
from caliper.core.refs import ObjectRef
from caliper.core.resources import Request


class PlacementGroup:
    """Handle to a placement group. ``ready()`` is a ref that resolves once it is reserved."""

    def __init__(self, pg_id: int, bundle_specs: list[dict], strategy: str, ready_id: int):
        self.id = pg_id
        self.bundle_specs = bundle_specs
        self.strategy = strategy
        self._ready_id = ready_id

    @property
    def bundle_count(self) -> int:
        return len(self.bundle_specs)

    def ready(self) -> ObjectRef:
        """A ref that resolves (to ``True``) when every bundle is reserved."""
        return ObjectRef(self._ready_id)

    def wait(self, timeout_seconds: float = 30) -> bool:
        """Block until reserved; False if that takes longer than ``timeout_seconds``."""
        from caliper.core.api import get

        try:
            get(self.ready(), timeout=timeout_seconds)
        except GetTimeoutError:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlacementGroup) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("PlacementGroup", self.id))

    def __repr__(self) -> str:
        return f"PlacementGroup(id={self.id}, bundles={self.bundle_specs}, {self.strategy})"


class PlacementGroupSchedulingStrategy:
    """Ray's spelling of ``placement_group=`` / ``placement_group_bundle_index=`` options."""

    def __init__(
        self,
        placement_group: PlacementGroup,
        placement_group_bundle_index: int = -1,
        placement_group_capture_child_tasks: bool | None = None,
    ) -> None:
        if not isinstance(placement_group, PlacementGroup):
            raise TypeError(
                f"placement_group must be a PlacementGroup, got {type(placement_group).__name__}"
            )
        self.placement_group = placement_group
        self.placement_group_bundle_index = placement_group_bundle_index
        self.placement_group_capture_child_tasks = placement_group_capture_child_tasks


def parse_bundles(
    bundles: Sequence[Mapping[str, float]], allow_empty: bool = False
) -> list[Request]:
    """Validate Ray-style bundles (``[{"CPU": 1}, {"GPU": 0.5}]``) into requests; a bundle
    asking for nothing is refused unless ``allow_empty``."""
    if isinstance(bundles, Mapping) or not isinstance(bundles, Sequence) or not bundles:
        raise TypeError(
            "bundles must be a non-empty list of dicts, e.g. [{'CPU': 1}, {'CPU': 1, 'GPU': 0.5}]"
        )
    out = []
    for i, bundle in enumerate(bundles):
        if not isinstance(bundle, Mapping):
            raise TypeError(f"bundles[{i}] must be a dict of resource -> amount, got {bundle!r}")
        try:
            request = Request.from_dict(bundle)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"bundles[{i}]: {exc}") from None
        if request.is_empty and not allow_empty:
            raise ValueError(f"bundles[{i}] asks for nothing; every bundle needs some resource")
        out.append(request)
    return out


def placement_group(
    bundles: Sequence[Mapping[str, float]],
    strategy: str = "PACK",
    name: str = "",
    lifetime: str | None = None,
) -> PlacementGroup:
    """Reserve ``bundles`` atomically with ``strategy`` (PACK, SPREAD, STRICT_PACK,
    STRICT_SPREAD). Returns at once; ``pg.ready()`` resolves when reserved. A group that could
    never be placed raises :class:`InfeasibleRequestError` here."""
    requests = parse_bundles(bundles)
    parsed = Strategy.parse(strategy)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {name!r}")
    if lifetime not in (None, "detached"):
        raise ValueError(f"lifetime must be None or 'detached', got {lifetime!r}")
    backend = context.current()
    pg_id, ready_id = backend.new_id(), backend.new_id()
    backend.create_placement_group(pg_id, requests, parsed, ready_id)
    refs.pin(ready_id)
    return PlacementGroup(pg_id, [r.as_dict() for r in requests], parsed.value, ready_id)


def remove_placement_group(placement_group: PlacementGroup) -> None:
    """Free the group's bundles; actors and tasks running in it are killed."""
    if not isinstance(placement_group, PlacementGroup):
        raise TypeError(
            f"placement_group must be a PlacementGroup, got {type(placement_group).__name__}"
        )
    context.current().remove_placement_group(placement_group.id)
