"""caliper: the Ray Tune API on an embedded runtime.

The core runtime API is re-exported here with Ray core's names (``caliper.init``,
``caliper.remote``, ``caliper.get`` ...); ``from caliper import tune`` is the tuning API.
Attributes load on first use, so ``import caliper`` (and every worker process) starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_SUBMODULES = frozenset({"core", "exceptions", "util"})

__all__ = [
    "ObjectRef",
    "__version__",
    "available_resources",
    "cancel",
    "cluster_resources",
    "core",
    "exceptions",
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
    "util",
    "wait",
]
_CORE = frozenset(__all__) - _SUBMODULES - {"__version__"}


def __getattr__(name: str):
    if name in _CORE:
        return getattr(importlib.import_module("caliper.core"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"caliper.{name}")
    raise AttributeError(f"module 'caliper' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from caliper import exceptions, util
    from caliper.core import (
        ObjectRef,
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
        placement_group,
        put,
        remote,
        remove_placement_group,
        shutdown,
        wait,
    )
