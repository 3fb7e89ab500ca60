"""The core API on a real two-node Ray cluster: the same calls as on the local runtime."""

from __future__ import annotations

import os
import time

import pytest

import caliper
from caliper import core
from caliper.core.exceptions import ActorDiedError, GetTimeoutError, TaskError

pytestmark = pytest.mark.timeout(300)  # the first test also starts the cluster


@core.remote
def add(a, b):
    return a + b


@core.remote
def fail(message):
    raise ValueError(message)


@core.remote
def raylet_of_task():
    return os.getppid()


@core.remote
class Counter:
    def __init__(self, start):
        self.n = start

    def inc(self, k=1):
        self.n += k
        return self.n

    @core.method(num_returns=2)
    def pair(self):
        return self.n, -self.n

    def raylet(self):
        return os.getppid()

    def gpus(self):
        return core.get_gpu_ids()


@core.remote
def call_actor(handle, k):
    return core.get(handle.inc.remote(k))


@core.remote
def deref(refs):
    return sum(core.get(refs))


def test_tasks_objects_and_errors(on_cluster):
    ref = add.remote(1, 2)
    assert core.get(add.remote(ref, 10)) == 13  # a ref as an argument
    stored = core.put(5)
    assert core.get(deref.remote([stored, add.remote(1, 1)])) == 7  # refs inside a value
    with pytest.raises(ValueError, match="bad value") as info:
        core.get(fail.remote("bad value"))
    assert isinstance(info.value, TaskError)
    with pytest.raises(ValueError):  # a failed dependency fails the task that needs it
        core.get(add.remote(fail.remote("x"), 1))
    ready, rest = core.wait([add.remote(0, 0), add.remote(1, 0)], num_returns=2, timeout=30)
    assert (len(ready), len(rest)) == (2, 0)
    with pytest.raises(GetTimeoutError):
        core.get(core.remote(time.sleep).remote(5), timeout=0.2)


def test_actors_calls_handles_and_names(on_cluster):
    counter = Counter.remote(10)
    assert core.get([counter.inc.remote() for _ in range(3)]) == [11, 12, 13]  # in order
    assert core.get(counter.pair.remote()) == [13, -13]
    assert core.get(call_actor.remote(counter, 5)) == 18  # a handle passed to a task
    named = Counter.options(name="shared-counter").remote(0)
    core.get(named.inc.remote())
    assert core.get(core.get_actor("shared-counter").inc.remote()) == 2
    core.kill(counter)
    with pytest.raises(ActorDiedError):
        core.get(counter.inc.remote())
    broken = Counter.remote()  # the constructor raises: start is missing
    with pytest.raises(ActorDiedError):
        core.get(broken.inc.remote())


def test_placement_group_strategies(on_cluster):
    """Each strategy reserves its bundles; STRICT_SPREAD puts them on two nodes and
    STRICT_PACK on one (a task in a bundle runs on that bundle's node)."""
    for strategy in ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"):
        group = caliper.util.placement_group([{"CPU": 1}, {"CPU": 1}], strategy=strategy)
        assert core.get(group.ready(), timeout=60) is True
        raylets = core.get(
            [
                raylet_of_task.options(
                    scheduling_strategy=core.PlacementGroupSchedulingStrategy(group, index)
                ).remote()
                for index in (0, 1)
            ],
            timeout=60,
        )
        if strategy == "STRICT_SPREAD":
            assert raylets[0] != raylets[1], "STRICT_SPREAD put both bundles on one node"
        if strategy == "STRICT_PACK":
            assert raylets[0] == raylets[1], "STRICT_PACK split the bundles over two nodes"
        caliper.util.remove_placement_group(group)


def test_fractional_gpus_share_one_device(on_cluster):
    group = caliper.util.placement_group([{"GPU": 0.5}, {"GPU": 0.5}], strategy="STRICT_PACK")
    core.get(group.ready(), timeout=60)
    actors = [
        Counter.options(
            num_gpus=0.5, scheduling_strategy=core.PlacementGroupSchedulingStrategy(group, i)
        ).remote(0)
        for i in (0, 1)
    ]
    first, second = core.get([a.gpus.remote() for a in actors], timeout=60)
    assert len(first) == 1 and first == second
    caliper.util.remove_placement_group(group)


def test_cluster_resources_and_nodes(on_cluster):
    total = core.cluster_resources()
    assert total["CPU"] == 4 and total["GPU"] == 2
    assert len([n for n in core.nodes() if n["Alive"]]) >= 2


def test_the_hub_lives_on_the_drivers_node(on_cluster):
    """The channel's hub must die only with the driver's own node, never with a node that
    runs trials (Ray places an actor that asks for no CPU anywhere unless told otherwise)."""
    import ray

    from caliper.core import context

    hub = context.current().hub
    here = ray.get_runtime_context().get_node_id()

    def node_of(actor):
        return ray.get_runtime_context().get_node_id()

    assert ray.get(hub.__ray_call__.remote(node_of), timeout=60) == here
