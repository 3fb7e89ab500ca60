"""The embedded actor runtime: tasks, actors, objects and placement groups in worker processes
of this machine. Imports nothing else from caliper."""

from caliper.core.actor import ActorClass, ActorHandle
from caliper.core.api import (
    RuntimeContext,
    available_resources,
    cluster_resources,
    get,
    get_actor,
    get_gpu_ids,
    init,
    is_initialized,
    kill,
    put,
    remote,
    shutdown,
    wait,
)
from caliper.core.placement_group import (
    PlacementGroup,
    PlacementGroupSchedulingStrategy,
    placement_group,
    remove_placement_group,
)
from caliper.core.refs import ObjectRef
from caliper.core.remote_function import RemoteFunction

__all__ = [
    "ActorClass",
    "ActorHandle",
    "ObjectRef",
    "PlacementGroup",
    "PlacementGroupSchedulingStrategy",
    "RemoteFunction",
    "RuntimeContext",
    "available_resources",
    "cluster_resources",
    "get",
    "get_actor",
    "get_gpu_ids",
    "init",
    "is_initialized",
    "kill",
    "placement_group",
    "put",
    "remote",
    "remove_placement_group",
    "shutdown",
    "wait",
]
