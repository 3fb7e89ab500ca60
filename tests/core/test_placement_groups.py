"""Placement groups on the local runtime: reservation, scheduling into bundles, strategies on
one node, waiting, removal, fractional GPU bundles. (The placement algorithm itself is tested
on simulated clusters in test_placement.py.)"""

from __future__ import annotations

import os
import sys
import time

import cloudpickle
import pytest

import caliper
from caliper.exceptions import (
    ActorDiedError,
    CaliperError,
    InfeasibleRequestError,
    TaskCancelledError,
)
from caliper.util import (
    PlacementGroupSchedulingStrategy,
    placement_group,
    remove_placement_group,
)

pytestmark = pytest.mark.timeout(30)

# Ship this module's functions and classes by value, as if they were defined in __main__:
# workers then need not import this test module (and pytest with it) before running them.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@caliper.remote
class Device:
    def devices(self):
        return os.environ.get("CUDA_VISIBLE_DEVICES"), caliper.get_gpu_ids()

    def sleep(self, seconds):
        time.sleep(seconds)
        return "woke"


@caliper.remote
def task_devices():
    return os.environ.get("CUDA_VISIBLE_DEVICES"), caliper.get_gpu_ids()


def two_gpu_bundles():
    """A group whose bundle i owns GPU i (so a worker's device tells which bundle it runs in)."""
    pg = placement_group([{"CPU": 1, "GPU": 1}, {"CPU": 1, "GPU": 1}], strategy="PACK")
    assert pg.wait(10)
    return pg


def test_ready_resolves_and_reserves(runtime):
    pg = placement_group([{"CPU": 1}, {"CPU": 2, "GPU": 1}])
    assert caliper.get(pg.ready(), timeout=10) is True
    assert pg.wait(1) is True
    assert pg.bundle_count == 2
    assert pg.bundle_specs == [{"CPU": 1.0}, {"CPU": 2.0, "GPU": 1.0}]
    free = caliper.available_resources()
    assert free["CPU"] == 1.0 and free["GPU"] == 3.0
    ready, _ = caliper.wait([pg.ready()], timeout=1)
    assert ready == [pg.ready()]
    remove_placement_group(pg)
    free = caliper.available_resources()
    assert free["CPU"] == 4.0 and free["GPU"] == 4.0


def test_actor_and_task_into_bundle_by_placement_group_option(runtime):
    pg = two_gpu_bundles()
    for index in (0, 1):
        actor = Device.options(
            num_gpus=1, placement_group=pg, placement_group_bundle_index=index
        ).remote()
        assert caliper.get(actor.devices.remote(), timeout=10) == (str(index), [index])
        caliper.kill(actor)
        ref = task_devices.options(
            num_cpus=1, num_gpus=1, placement_group=pg, placement_group_bundle_index=index
        ).remote()
        assert caliper.get(ref, timeout=10) == (str(index), [index])
    # work inside the group uses the group's reservation, not the rest of the node
    assert caliper.available_resources()["GPU"] == 2.0


def test_actor_and_task_into_bundle_by_scheduling_strategy(runtime):
    pg = two_gpu_bundles()
    for index in (1, 0):
        strategy = PlacementGroupSchedulingStrategy(
            placement_group=pg, placement_group_bundle_index=index
        )
        actor = Device.options(num_gpus=1, scheduling_strategy=strategy).remote()
        assert caliper.get(actor.devices.remote(), timeout=10) == (str(index), [index])
        caliper.kill(actor)
        ref = task_devices.options(num_gpus=1, scheduling_strategy=strategy).remote()
        assert caliper.get(ref, timeout=10) == (str(index), [index])


def test_any_bundle_index(runtime):
    pg = two_gpu_bundles()
    strategy = PlacementGroupSchedulingStrategy(pg)  # bundle index -1: any bundle
    actors = [Device.options(num_gpus=1, scheduling_strategy=strategy).remote() for _ in range(2)]
    seen = caliper.get([a.devices.remote() for a in actors], timeout=10)
    assert sorted(ids[0] for _, ids in seen) == [0, 1]


def test_full_bundle_makes_work_wait_until_freed(runtime):
    pg = placement_group([{"CPU": 1}, {"CPU": 1}])
    assert pg.wait(10)
    first = Device.options(num_cpus=1, placement_group=pg, placement_group_bundle_index=0).remote()
    caliper.get(first.devices.remote(), timeout=10)
    second = Device.options(num_cpus=1, placement_group=pg, placement_group_bundle_index=0).remote()
    pending = second.devices.remote()
    assert caliper.wait([pending], timeout=0.3)[0] == []  # bundle 1 is free but not asked for
    caliper.kill(first)
    assert caliper.get(pending, timeout=10) == ("", [])


def test_request_larger_than_its_bundle_is_infeasible(runtime):
    pg = placement_group([{"CPU": 1}, {"CPU": 1}])
    assert pg.wait(10)
    with pytest.raises(InfeasibleRequestError, match="bundle"):
        task_devices.options(
            num_cpus=2, placement_group=pg, placement_group_bundle_index=0
        ).remote()
    with pytest.raises(InfeasibleRequestError):
        Device.options(num_gpus=1, placement_group=pg).remote()


@pytest.mark.parametrize("strategy", ["STRICT_PACK", "PACK", "SPREAD"])
def test_strategies_on_one_node(runtime, strategy):
    pg = placement_group([{"CPU": 1}, {"CPU": 1, "GPU": 0.5}, {"GPU": 1}], strategy=strategy)
    assert pg.wait(10)
    assert pg.strategy == strategy
    free = caliper.available_resources()
    assert free["CPU"] == 2.0
    assert free["GPU"] == 2.5 or free["GPU"] == 2.0  # a half share may leave a device partly free
    refs = [
        task_devices.options(
            num_cpus=0, placement_group=pg, placement_group_bundle_index=i
        ).remote()
        for i in range(3)
    ]
    assert caliper.get(refs, timeout=10) == [("", [])] * 3


def test_strict_spread_needs_distinct_nodes(runtime):
    with pytest.raises(InfeasibleRequestError, match="STRICT_SPREAD") as info:
        placement_group([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_SPREAD")
    assert "distinct nodes" in str(info.value)
    assert caliper.available_resources()["CPU"] == 4.0  # nothing was reserved
    single = placement_group([{"CPU": 1}], strategy="STRICT_SPREAD")
    assert single.wait(10)


@pytest.mark.parametrize(
    ("bundles", "strategy"),
    [
        ([{"CPU": 5}], "PACK"),
        ([{"CPU": 3}, {"CPU": 3}], "STRICT_PACK"),
        ([{"CPU": 3}, {"CPU": 3}], "PACK"),
        ([{"GPU": 5}], "SPREAD"),
        ([{"widgets": 1}], "PACK"),
    ],
)
def test_group_that_can_never_fit_raises_at_once(runtime, bundles, strategy):
    started = time.monotonic()
    with pytest.raises(InfeasibleRequestError, match="can never be satisfied"):
        placement_group(bundles, strategy=strategy)
    assert time.monotonic() - started < 1


def test_group_that_fits_later_waits_until_another_is_removed(runtime):
    big = placement_group([{"CPU": 3}])
    assert big.wait(10)
    later = placement_group([{"CPU": 2}])
    assert later.wait(0.2) is False
    assert caliper.wait([later.ready()], timeout=0)[0] == []
    remove_placement_group(big)
    assert later.wait(10) is True
    assert caliper.available_resources()["CPU"] == 2.0


def test_work_for_a_pending_group_waits_until_it_is_reserved(runtime):
    big = placement_group([{"CPU": 3}])
    assert big.wait(10)
    pending = placement_group([{"CPU": 2}])
    strategy = PlacementGroupSchedulingStrategy(pending, 0)
    ref = task_devices.options(scheduling_strategy=strategy).remote()
    actor = Device.options(num_cpus=1, placement_group=pending).remote()
    call = actor.devices.remote()
    assert caliper.wait([ref, call], timeout=0.3)[0] == []
    remove_placement_group(big)
    assert caliper.get([ref, call], timeout=10) == [("", [])] * 2


def test_groups_are_reserved_atomically(runtime):
    holder = placement_group([{"GPU": 1}] * 3)
    assert holder.wait(10)
    # two whole GPUs are needed, one is free: nothing is taken while it waits
    waiting = placement_group([{"GPU": 1}, {"GPU": 1}])
    assert waiting.wait(0.2) is False
    assert caliper.available_resources()["GPU"] == 1.0
    actor = Device.options(num_gpus=1).remote()  # the free device is still usable
    assert caliper.get(actor.devices.remote(), timeout=10)[1] == [3]
    caliper.kill(actor)
    remove_placement_group(holder)
    assert waiting.wait(10)


def test_remove_placement_group_kills_its_actors(runtime):
    pg = placement_group([{"CPU": 1}, {"CPU": 1}])
    assert pg.wait(10)
    inside = Device.options(num_cpus=1, placement_group=pg, placement_group_bundle_index=0).remote()
    outside = Device.remote()
    assert caliper.get(inside.devices.remote(), timeout=10) == ("", [])
    running = inside.sleep.remote(20)
    remove_placement_group(pg)
    with pytest.raises(ActorDiedError):
        caliper.get(running, timeout=10)
    with pytest.raises(ActorDiedError):
        caliper.get(inside.devices.remote(), timeout=10)
    assert caliper.get(outside.devices.remote(), timeout=10) == ("", [])
    assert caliper.available_resources()["CPU"] == 4.0
    remove_placement_group(pg)  # removing twice is harmless


def test_remove_placement_group_cancels_its_tasks(runtime, tmp_path):
    pg = placement_group([{"CPU": 1}])
    assert pg.wait(10)

    @caliper.remote(num_cpus=1, max_retries=0)
    def forever():
        time.sleep(30)

    strategy = PlacementGroupSchedulingStrategy(pg, 0)
    running = forever.options(scheduling_strategy=strategy).remote()
    queued = forever.options(scheduling_strategy=strategy).remote()  # the bundle is full
    time.sleep(0.2)
    remove_placement_group(pg)
    for ref in (running, queued):
        with pytest.raises(CaliperError):
            caliper.get(ref, timeout=10)
    with pytest.raises(ValueError, match="removed"):
        forever.options(scheduling_strategy=strategy).remote()
    assert caliper.available_resources()["CPU"] == 4.0


def test_removing_a_pending_group_fails_its_ready_ref(runtime):
    holder = placement_group([{"CPU": 4}])
    assert holder.wait(10)
    pending = placement_group([{"CPU": 1}])
    remove_placement_group(pending)
    with pytest.raises(TaskCancelledError):
        caliper.get(pending.ready(), timeout=10)
    remove_placement_group(holder)
    assert caliper.available_resources()["CPU"] == 4.0


def test_fractional_gpu_bundles_share_one_device(runtime):
    pg = placement_group([{"GPU": 0.5}, {"GPU": 0.5}], strategy="PACK")
    assert pg.wait(10)
    assert caliper.available_resources()["GPU"] == 3.0
    actors = [
        Device.options(num_gpus=0.5, placement_group=pg, placement_group_bundle_index=i).remote()
        for i in range(2)
    ]
    (cuda0, ids0), (cuda1, ids1) = caliper.get([a.devices.remote() for a in actors], timeout=10)
    assert ids0 == ids1 and len(ids0) == 1
    assert cuda0 == cuda1 == str(ids0[0])


def test_fractional_requests_inside_a_fractional_bundle(runtime):
    pg = placement_group([{"GPU": 0.5}])
    assert pg.wait(10)
    strategy = PlacementGroupSchedulingStrategy(pg, 0)
    quarters = [Device.options(num_gpus=0.25, scheduling_strategy=strategy).remote() for _ in "ab"]
    seen = caliper.get([q.devices.remote() for q in quarters], timeout=10)
    assert seen[0] == seen[1] and len(seen[0][1]) == 1
    third = Device.options(num_gpus=0.25, scheduling_strategy=strategy).remote()
    pending = third.devices.remote()
    assert caliper.wait([pending], timeout=0.3)[0] == []
    caliper.kill(quarters[0])
    assert caliper.get(pending, timeout=10) == seen[0]
    with pytest.raises(InfeasibleRequestError):
        Device.options(num_gpus=1, scheduling_strategy=strategy).remote()


@pytest.mark.parametrize("index", [2, 5, -2])
def test_bundle_index_out_of_range(runtime, index):
    pg = placement_group([{"CPU": 1}, {"CPU": 1}])
    with pytest.raises(ValueError, match="placement_group_bundle_index"):
        task_devices.options(placement_group=pg, placement_group_bundle_index=index).remote()
    with pytest.raises(ValueError, match="placement_group_bundle_index"):
        Device.options(placement_group=pg, placement_group_bundle_index=index).remote()
    with pytest.raises(ValueError, match="placement_group_bundle_index"):
        task_devices.options(
            scheduling_strategy=PlacementGroupSchedulingStrategy(pg, index)
        ).remote()


def test_placement_group_is_reachable_from_caliper_namespace(runtime):
    for _ in range(2):
        pg = caliper.placement_group([{"CPU": 1}])
        assert pg.wait(10)
        caliper.remove_placement_group(pg)
    assert caliper.placement_group is placement_group
    assert caliper.remove_placement_group is remove_placement_group
