"""Ray's ``ray.util`` names: placement groups and scheduling strategies."""

from caliper.core.placement_groups import (
    PlacementGroup,
    PlacementGroupSchedulingStrategy,
    placement_group,
    remove_placement_group,
)

__all__ = [
    "PlacementGroup",
    "PlacementGroupSchedulingStrategy",
    "placement_group",
    "remove_placement_group",
]
