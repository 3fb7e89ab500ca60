"""The embedded actor runtime: tasks, actors, objects and placement groups in worker processes
of this machine. Imports nothing else from caliper. Names load on first use, so that worker
processes import only what they run."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_WHERE = {
    "ActorClass": "actor",
    "ActorHandle": "actor",
    "ObjectRef": "refs",
    "PlacementGroup": "placement_groups",
    "PlacementGroupSchedulingStrategy": "placement_groups",
    "RemoteFunction": "remote_function",
    "RuntimeContext": "api",
    "available_resources": "api",
    "cancel": "api",
    "cluster_resources": "api",
    "get": "api",
    "get_actor": "api",
    "get_gpu_ids": "api",
    "init": "api",
    "is_initialized": "api",
    "kill": "api",
    "method": "api",
    "nodes": "api",
    "placement_group": "placement_groups",
    "put": "api",
    "remote": "api",
    "remove_placement_group": "placement_groups",
    "shutdown": "api",
    "wait": "api",
}

__all__ = [
    "ActorClass",
    "ActorHandle",
    "ObjectRef",
    "PlacementGroup",
    "PlacementGroupSchedulingStrategy",
    "RemoteFunction",
    "RuntimeContext",
    "available_resources",
    "cancel",
    "cluster_resources",
    "get",
    "get_actor",
    "get_gpu_ids",
    "init",
    "is_initialized",
    "kill",
    "method",
    "nodes",
    "placement_group",
    "put",
    "remote",
    "remove_placement_group",
    "shutdown",
    "wait",
]


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'caliper.core' has no attribute {name!r}")
    return getattr(importlib.import_module(f"caliper.core.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from caliper.core.actor import ActorClass, ActorHandle
    from caliper.core.api import (
        RuntimeContext,
        available_resources,
        cancel,
        cluster_resources,
        get,
        get_actor,
        get_gpu_ids,
        init,
        is_initialized,
        kill,
        method,
        nodes,
        put,
        remote,
        shutdown,
        wait,
    )
    from caliper.core.placement_groups import (
        PlacementGroup,
        PlacementGroupSchedulingStrategy,
        placement_group,
        remove_placement_group,
    )
    from caliper.core.refs import ObjectRef
    from caliper.core.remote_function import RemoteFunction
