"""caliper: the Ray Tune API on an embedded runtime.

The core runtime API is re-exported here with Ray core's names (``caliper.init``,
``caliper.remote``, ``caliper.get`` ...); ``from caliper import tune`` is the tuning API.
"""

from caliper import exceptions, util
from caliper.core import (
    ObjectRef,
    available_resources,
    cluster_resources,
    get,
    get_actor,
    get_gpu_ids,
    init,
    is_initialized,
    kill,
    placement_group,
    put,
    remote,
    remove_placement_group,
    shutdown,
    wait,
)

__version__ = "0.1.0"

__all__ = [
    "ObjectRef",
    "__version__",
    "available_resources",
    "cluster_resources",
    "exceptions",
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
    "util",
    "wait",
]
