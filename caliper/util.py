"""Ray's ``ray.util`` names: placement groups, scheduling strategies, ``ActorPool``."""

from caliper.core.actor_pool import ActorPool
from caliper.core.placement_groups import (
    PlacementGroup,
    PlacementGroupSchedulingStrategy,
    placement_group,
    remove_placement_group,
)

__all__ = [
    "ActorPool",
    "PlacementGroup",
    "PlacementGroupSchedulingStrategy",
    "placement_group",
    "remove_placement_group",
]
