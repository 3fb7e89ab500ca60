"""Exact resource arithmetic, input validation and the GPU packing rule of NodeResources."""

from __future__ import annotations

import math

import pytest

from caliper.core.resources import (
    UNIT,
    Allocation,
    NodeResources,
    Request,
    from_units,
    to_units,
)


def ledger_state(node: NodeResources) -> tuple:
    """Everything a ledger holds, for exact before/after comparisons."""
    return (
        node.cpu,
        node.memory,
        dict(node.custom),
        dict(node.gpu_capacity),
        node.avail_cpu,
        node.avail_memory,
        dict(node.avail_custom),
        dict(node.avail_gpu),
    )


def take(node: NodeResources, req: Request) -> Allocation:
    alloc = node.plan(req)
    assert alloc is not None, f"{req} should fit {node}"
    node.acquire(alloc)
    return alloc


# -- exact arithmetic ---------------------------------------------------------------------------


def test_floats_drift_but_units_do_not():
    assert sum([0.1] * 10) != 1.0  # the problem integer units solve
    assert sum([to_units(0.1, "x")] * 10) == UNIT


def test_ten_thousand_small_grants_and_releases_leave_the_exact_ledger():
    node = NodeResources.create("n", num_cpus=4, num_gpus=2, resources={"foo": 1})
    start = ledger_state(node)
    reqs = [
        Request.from_amounts(num_gpus=0.1),
        Request.from_amounts(num_cpus=0.1),
        Request.from_amounts(resources={"foo": 0.3}),
    ]
    for _ in range(10_000):
        for req in reqs:
            alloc = take(node, req)
            node.release(alloc)
    assert ledger_state(node) == start


def test_ten_thousand_grants_fill_exactly_then_release_exactly():
    node = NodeResources.create("n", num_cpus=1000, num_gpus=100, resources={"foo": 3000})
    start = ledger_state(node)
    reqs = [Request.from_amounts(num_cpus=0.1), Request.from_amounts(resources={"foo": 0.3})]
    held = [take(node, req) for _ in range(10_000) for req in reqs]
    tenth = Request.from_amounts(num_gpus=0.1)
    held += [take(node, tenth) for _ in range(1_000)]
    assert node.avail_cpu == 0
    assert node.avail_custom == {"foo": 0}
    assert set(node.avail_gpu.values()) == {0}
    assert all(node.plan(req) is None for req in [*reqs, tenth])
    assert node.available_dict() == {}
    for alloc in held:
        node.release(alloc)
    assert ledger_state(node) == start
    assert node.available_dict() == {"CPU": 1000.0, "GPU": 100.0, "foo": 3000.0}


def test_ten_tenths_fill_one_device_exactly_a_thousand_times_over():
    node = NodeResources.create("n", num_gpus=1)
    start = ledger_state(node)
    tenth = Request.from_amounts(num_gpus=0.1)
    for _ in range(1_000):
        held = [take(node, tenth) for _ in range(10)]
        assert node.avail_gpu == {0: 0}
        assert node.plan(tenth) is None
        for alloc in held:
            node.release(alloc)
    assert ledger_state(node) == start


def test_to_units_is_exact_on_decimal_amounts():
    assert to_units(0.1, "x") == 1_000
    assert to_units(0.3, "x") == 3_000
    assert to_units(0.0001, "x") == 1
    assert to_units(2, "x") == 2 * UNIT
    assert to_units(10**30, "x") == 10**30 * UNIT
    assert to_units(12345.6789, "x") == 123_456_789
    assert from_units(to_units(0.7, "x")) == 0.7
    assert to_units(-0.0, "x") == 0


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        (-1, ValueError, ">= 0"),
        (-0.5, ValueError, ">= 0"),
        (math.nan, ValueError, "finite"),
        (math.inf, ValueError, "finite"),
        (-math.inf, ValueError, "finite"),
        (1e308, ValueError, "too large"),
        (True, TypeError, "number"),
        (False, TypeError, "number"),
        ("1", TypeError, "number"),
        ("", TypeError, "number"),
        (None, TypeError, "number"),
        ([1], TypeError, "number"),
        (0.00001, ValueError, "multiple of 0.0001"),
        (0.12345, ValueError, "multiple of 0.0001"),
        (100.00005, ValueError, "multiple of 0.0001"),
    ],
)
def test_to_units_rejects_bad_amounts_naming_the_argument(value, error, words):
    with pytest.raises(error, match="num_widgets") as info:
        to_units(value, "num_widgets")
    assert words in str(info.value)


@pytest.mark.parametrize("field", ["num_cpus", "num_gpus", "memory"])
@pytest.mark.parametrize("value", [False, True, "", "2"])
def test_request_rejects_non_numbers_even_falsy_ones(field, value):
    with pytest.raises(TypeError, match=field):
        Request.from_amounts(**{field: value})


def test_fractional_gpus_above_one_are_rejected():
    with pytest.raises(ValueError, match=r"num_gpus above 1 must be a whole number.*1\.5"):
        Request.from_amounts(num_gpus=1.5)
    assert Request.from_amounts(num_gpus=2).gpu == 2 * UNIT
    assert Request.from_amounts(num_gpus=2.0).gpu == 2 * UNIT
    assert Request.from_amounts(num_gpus=0.5).gpu == UNIT // 2
    assert Request.from_amounts(num_gpus=1).gpu == UNIT


@pytest.mark.parametrize(
    ("key", "argument"), [("CPU", "num_cpus"), ("GPU", "num_gpus"), ("memory", "memory")]
)
def test_reserved_names_in_resources_are_rejected(key, argument):
    with pytest.raises(ValueError, match=rf"resources\['{key}'\].*{argument}"):
        Request.from_amounts(resources={key: 1})


def test_resources_must_be_a_mapping_of_named_numbers():
    with pytest.raises(TypeError, match="resources must be a dict"):
        Request.from_amounts(resources=[("foo", 1)])
    with pytest.raises(TypeError, match="resources keys"):
        Request.from_amounts(resources={1: 1})
    with pytest.raises(TypeError, match="resources keys"):
        Request.from_amounts(resources={"": 1})
    with pytest.raises(ValueError, match=r"resources\['foo'\]"):
        Request.from_amounts(resources={"foo": -1})
    with pytest.raises(TypeError, match="a bundle must be a dict"):
        Request.from_dict([("CPU", 1)])


def test_request_round_trips_through_ray_style_dicts():
    req = Request.from_dict({"CPU": 2, "GPU": 0.5, "memory": 1e9, "foo": 0.3, "zero": 0})
    assert req.as_dict() == {"CPU": 2.0, "GPU": 0.5, "memory": 1e9, "foo": 0.3}
    assert Request.from_dict(req.as_dict()) == req
    assert str(Request()) == "{'CPU': 0}"
    assert Request().is_empty
    assert not req.is_empty
    # custom amounts are sorted, so equal requests are equal (and hash alike) whatever the order
    assert Request.from_dict({"b": 1, "a": 2}) == Request.from_dict({"a": 2, "b": 1})


def test_node_needs_a_whole_number_of_gpus():
    with pytest.raises(ValueError, match="num_gpus of a node"):
        NodeResources.create("n", num_gpus=1.5)
    with pytest.raises(ValueError, match="num_gpus of a node"):
        NodeResources.create("n", num_gpus=True)
    with pytest.raises(ValueError, match="num_cpus"):
        NodeResources.create("n", num_cpus=-1)


# -- acquire and release ------------------------------------------------------------------------


def test_acquire_beyond_what_is_free_raises_and_changes_nothing():
    node = NodeResources.create("n", num_cpus=1, num_gpus=1, resources={"foo": 1})
    take(node, Request.from_amounts(num_gpus=0.5))
    before = ledger_state(node)
    for alloc in [
        Allocation(0, cpu=2 * UNIT),
        Allocation(0, cpu=1, custom=(("foo", 2 * UNIT),)),
        Allocation(0, cpu=1, custom=(("bar", 1),)),
        Allocation(0, cpu=1, gpus=((0, UNIT),)),
        Allocation(0, cpu=1, gpus=((7, 1),)),
    ]:
        with pytest.raises(RuntimeError, match="exceeds"):
            node.acquire(alloc)
        assert ledger_state(node) == before


def test_release_of_more_than_is_held_raises_and_changes_nothing():
    node = NodeResources.create("n", num_cpus=2, num_gpus=1, resources={"foo": 1})
    take(node, Request.from_amounts(num_cpus=1, num_gpus=0.5, resources={"foo": 0.5}))
    before = ledger_state(node)
    for alloc in [
        Allocation(0, cpu=2 * UNIT),
        Allocation(0, custom=(("foo", UNIT),)),
        Allocation(0, custom=(("bar", 1),)),
        Allocation(0, gpus=((0, UNIT),)),
        Allocation(0, gpus=((5, 1),)),
    ]:
        with pytest.raises(RuntimeError, match="released more than n holds"):
            node.release(alloc)
        assert ledger_state(node) == before


def test_copy_is_independent():
    node = NodeResources.create("n", num_cpus=2, num_gpus=2, resources={"foo": 1})
    clone = node.copy()
    take(clone, Request.from_amounts(num_cpus=1, num_gpus=0.5, resources={"foo": 1}))
    assert node.available_dict() == {"CPU": 2.0, "GPU": 2.0, "foo": 1.0}
    assert clone.available_dict() == {"CPU": 1.0, "GPU": 1.5}


def test_reporting():
    node = NodeResources.create("node0", num_cpus=2, num_gpus=2, memory=1e9, resources={"f": 1})
    assert node.total_dict() == {"CPU": 2.0, "GPU": 2.0, "memory": 1e9, "f": 1.0}
    assert node.describe() == "node0 {'CPU': 2.0, 'GPU': 2.0, 'memory': 1000000000.0, 'f': 1.0}"
    assert NodeResources.create("cpu-only", num_cpus=1).total_dict() == {"CPU": 1.0}


# -- GPU packing --------------------------------------------------------------------------------


def test_eight_half_gpus_fill_four_devices_two_by_two():
    node = NodeResources.create("n", num_gpus=4)
    half = Request.from_amounts(num_gpus=0.5)
    devices = [take(node, half).gpu_ids for _ in range(8)]
    assert devices == [(0,), (0,), (1,), (1,), (2,), (2,), (3,), (3,)]
    assert node.plan(half) is None
    assert node.plan(Request.from_amounts(num_gpus=0.0001)) is None


def test_fractional_request_takes_the_fullest_device_that_still_fits():
    node = NodeResources.create("n", num_gpus=4)
    take(node, Request.from_amounts(num_gpus=0.5))  # device 0: 0.5 free
    take(node, Request.from_amounts(num_gpus=0.3))  # best fit among 0.5/1/1/1 -> device 0
    assert node.avail_gpu == {0: 2_000, 1: UNIT, 2: UNIT, 3: UNIT}
    take(node, Request.from_amounts(num_gpus=0.4))  # 0.2 is too small -> first free device 1
    assert node.avail_gpu == {0: 2_000, 1: 6_000, 2: UNIT, 3: UNIT}
    assert take(node, Request.from_amounts(num_gpus=0.2)).gpus == ((0, 2_000),)
    assert take(node, Request.from_amounts(num_gpus=0.5)).gpus == ((1, 5_000),)
    assert take(node, Request.from_amounts(num_gpus=0.7)).gpus == ((2, 7_000),)
    # device 1 (0.1 free) and device 2 (0.3 free) both fit 0.1: the fuller one wins
    assert take(node, Request.from_amounts(num_gpus=0.1)).gpus == ((1, 1_000),)


def test_fractional_ties_go_to_the_lowest_device():
    node = NodeResources.create("n", num_gpus=3)
    take(node, Request.from_amounts(num_gpus=1))  # device 0 full
    assert take(node, Request.from_amounts(num_gpus=0.25)).gpu_ids == (1,)


def test_whole_gpus_take_distinct_entirely_free_devices():
    node = NodeResources.create("n", num_gpus=4)
    assert take(node, Request.from_amounts(num_gpus=0.1)).gpu_ids == (0,)
    two = take(node, Request.from_amounts(num_gpus=2))
    assert two.gpus == ((1, UNIT), (2, UNIT))
    assert two.as_request() == Request(gpu=2 * UNIT)
    # 1.9 GPUs are free in total, but only device 3 is entirely free
    assert node.plan(Request.from_amounts(num_gpus=2)) is None
    assert take(node, Request.from_amounts(num_gpus=1)).gpu_ids == (3,)
    assert node.plan(Request.from_amounts(num_gpus=1)) is None
    assert take(node, Request.from_amounts(num_gpus=0.9)).gpu_ids == (0,)


def test_could_ever_fit_uses_totals_not_what_is_free():
    node = NodeResources.create("n", num_cpus=2, num_gpus=2)
    take(node, Request.from_amounts(num_cpus=2, num_gpus=2))
    assert node.plan(Request.from_amounts(num_cpus=1)) is None
    assert node.could_ever_fit(Request.from_amounts(num_cpus=2, num_gpus=2))
    assert not node.could_ever_fit(Request.from_amounts(num_gpus=3))
    assert not node.could_ever_fit(Request.from_amounts(resources={"foo": 1}))


def test_bundle_ledger_hands_out_only_its_own_share_of_a_device():
    node = NodeResources.create("n", num_cpus=4, num_gpus=4)
    take(node, Request.from_amounts(num_gpus=1))
    take(node, Request.from_amounts(num_gpus=1))
    grant = take(node, Request.from_amounts(num_cpus=2, num_gpus=0.5))
    assert grant.gpus == ((2, 5_000),)
    bundle = NodeResources.for_bundle("n/bundle0", grant)
    assert bundle.total_dict() == {"CPU": 2.0, "GPU": 0.5}
    assert not bundle.could_ever_fit(Request.from_amounts(num_gpus=0.6))
    assert not bundle.could_ever_fit(Request.from_amounts(num_gpus=1))
    assert take(bundle, Request.from_amounts(num_cpus=1, num_gpus=0.25)).gpus == ((2, 2_500),)
    assert take(bundle, Request.from_amounts(num_cpus=1, num_gpus=0.25)).gpus == ((2, 2_500),)
    assert bundle.plan(Request.from_amounts(num_gpus=0.0001)) is None
    assert bundle.plan(Request.from_amounts(num_cpus=0.0001)) is None


def test_bundle_ledger_with_whole_devices_keeps_to_them():
    node = NodeResources.create("n", num_gpus=4)
    take(node, Request.from_amounts(num_gpus=0.5))
    grant = take(node, Request.from_amounts(num_gpus=2))
    assert grant.gpu_ids == (1, 2)
    bundle = NodeResources.for_bundle("b", grant)
    assert take(bundle, Request.from_amounts(num_gpus=0.5)).gpu_ids == (1,)
    assert take(bundle, Request.from_amounts(num_gpus=0.5)).gpu_ids == (1,)
    assert take(bundle, Request.from_amounts(num_gpus=1)).gpu_ids == (2,)
    assert bundle.plan(Request.from_amounts(num_gpus=0.1)) is None
    assert bundle.available_dict() == {}
