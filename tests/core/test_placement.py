"""Placement of tasks and placement groups on simulated clusters (pure, no processes)."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from caliper.core.feasibility import infeasible_reason
from caliper.core.placement import Strategy, place_bundles, place_request
from caliper.core.resources import UNIT, Allocation, NodeResources, Request

PACK, SPREAD = Strategy.PACK, Strategy.SPREAD
STRICT_PACK, STRICT_SPREAD = Strategy.STRICT_PACK, Strategy.STRICT_SPREAD


def R(**amounts: float) -> Request:
    """``R(CPU=1, GPU=0.5, foo=2)``: a request from Ray-style names."""
    return Request.from_dict(amounts)


def cluster(count: int, cpus: float = 4, gpus: int = 0, **custom: float) -> list[NodeResources]:
    return [
        NodeResources.create(f"node{i}", num_cpus=cpus, num_gpus=gpus, resources=custom)
        for i in range(count)
    ]


def state(nodes: list[NodeResources]) -> list[tuple]:
    return [(n.avail_cpu, n.avail_memory, dict(n.avail_custom), dict(n.avail_gpu)) for n in nodes]


def apply(nodes: list[NodeResources], allocs: list[Allocation] | None) -> list[Allocation]:
    assert allocs is not None
    for alloc in allocs:
        nodes[alloc.node_index].acquire(alloc)
    return allocs


def use(nodes: list[NodeResources], index: int, req: Request) -> None:
    """Consume ``req`` on ``nodes[index]`` (to set up a partly used cluster)."""
    alloc = nodes[index].plan(req, index)
    assert alloc is not None
    nodes[index].acquire(alloc)


def where(allocs: list[Allocation] | None) -> list[int]:
    assert allocs is not None
    return [alloc.node_index for alloc in allocs]


def placed_validly(
    nodes: list[NodeResources], bundles: list[Request], allocs: list[Allocation]
) -> bool:
    """Each allocation grants its bundle, and together they fit (acquire on copies succeeds)."""
    copies = [node.copy() for node in nodes]
    for bundle, alloc in zip(bundles, allocs, strict=True):
        assert alloc.as_request() == bundle
        copies[alloc.node_index].acquire(alloc)
    return True


# -- Strategy -----------------------------------------------------------------------------------


def test_strategy_parse_accepts_members_and_names():
    assert Strategy.parse(Strategy.SPREAD) is Strategy.SPREAD
    assert [Strategy.parse(s.value) for s in Strategy] == list(Strategy)


def test_strategy_parse_rejects_unknown_names_listing_valid_ones():
    with pytest.raises(ValueError, match="strategy must be one of") as info:
        Strategy.parse("pack")
    message = str(info.value)
    assert all(repr(s.value) in message for s in Strategy)
    assert "did you mean 'PACK'" in message
    with pytest.raises(ValueError, match=r"got 'BALANCED'$"):
        Strategy.parse("BALANCED")
    with pytest.raises(TypeError, match=r"strategy must be a Strategy.*got int 3"):
        Strategy.parse(3)


def test_place_bundles_validates_its_arguments():
    nodes = cluster(1)
    with pytest.raises(ValueError, match="bundles must hold at least one bundle"):
        place_bundles(nodes, [], PACK)
    with pytest.raises(TypeError, match=r"bundles\[1\] must be a Request, got dict"):
        place_bundles(nodes, [R(CPU=1), {"CPU": 1}], PACK)
    with pytest.raises(ValueError, match="strategy"):
        place_bundles(nodes, [R(CPU=1)], "spread")
    assert where(place_bundles(nodes, [R(CPU=1)], "STRICT_SPREAD")) == [0]


# -- single requests ----------------------------------------------------------------------------


def test_place_request_takes_the_first_node_where_it_fits_now():
    nodes = cluster(3, cpus=4, gpus=2)
    use(nodes, 0, R(CPU=3))
    use(nodes, 1, R(GPU=2))
    before = state(nodes)
    assert place_request(nodes, R(CPU=1)).node_index == 0
    assert place_request(nodes, R(CPU=2)).node_index == 1
    assert place_request(nodes, R(CPU=1, GPU=1)).node_index == 0
    assert place_request(nodes, R(CPU=2, GPU=1)).node_index == 2
    assert place_request(nodes, R(CPU=5)) is None
    assert place_request([], R(CPU=1)) is None
    assert state(nodes) == before


def test_place_request_respects_custom_resources_and_gpu_devices():
    nodes = cluster(2, cpus=2, gpus=2) + cluster(1, cpus=2, gpus=2, tpu=1)
    nodes[2].node_id = "node2"
    use(nodes, 0, R(GPU=0.5))
    alloc = place_request(nodes, R(GPU=0.5))
    assert (alloc.node_index, alloc.gpus) == (0, ((0, UNIT // 2),))
    assert place_request(nodes, R(GPU=2)).node_index == 1
    assert place_request(nodes, R(tpu=1)).node_index == 2
    assert place_request(nodes, R(tpu=2)) is None
    assert place_request(nodes, R(other=1)) is None


def test_zero_request_fits_the_first_node():
    assert place_request(cluster(2), Request()).node_index == 0


# -- PACK and STRICT_PACK -----------------------------------------------------------------------


@pytest.mark.parametrize("strategy", [PACK, STRICT_PACK])
def test_pack_puts_everything_on_the_first_node_that_takes_it_all(strategy):
    nodes = cluster(3, cpus=4, gpus=4)
    use(nodes, 0, R(CPU=2))
    bundles = [R(CPU=1, GPU=1)] * 3
    assert where(place_bundles(nodes, bundles, strategy)) == [1, 1, 1]
    allocs = apply(nodes, place_bundles(nodes, [R(CPU=1, GPU=1)] * 2, strategy))
    assert where(allocs) == [0, 0]
    assert [alloc.gpu_ids for alloc in allocs] == [(0,), (1,)]


@pytest.mark.parametrize("strategy", [PACK, STRICT_PACK])
def test_bundles_on_one_node_see_each_others_gpu_use(strategy):
    nodes = cluster(1, cpus=8, gpus=2)
    allocs = apply(nodes, place_bundles(nodes, [R(GPU=0.5)] * 4, strategy))
    assert [alloc.gpu_ids for alloc in allocs] == [(0,), (0,), (1,), (1,)]
    assert all(alloc.gpus[0][1] == UNIT // 2 for alloc in allocs)
    assert nodes[0].avail_gpu == {0: 0, 1: 0}


def test_pack_within_a_node_places_the_largest_gpu_shares_first():
    # In bundle order, best fit would put both 0.3s on device 0 and then fail a 0.7.
    nodes = cluster(1, cpus=8, gpus=2)
    bundles = [R(GPU=0.3), R(GPU=0.3), R(GPU=0.7), R(GPU=0.7)]
    allocs = place_bundles(nodes, bundles, STRICT_PACK)
    assert [alloc.gpus for alloc in allocs] == [
        ((0, 3_000),),
        ((1, 3_000),),
        ((0, 7_000),),
        ((1, 7_000),),
    ]
    assert placed_validly(nodes, bundles, allocs)


def test_whole_gpu_bundles_get_distinct_free_devices_next_to_fractions():
    nodes = cluster(1, cpus=8, gpus=4)
    use(nodes, 0, R(GPU=0.5))
    allocs = place_bundles(nodes, [R(GPU=0.5), R(GPU=2), R(GPU=0.25)], STRICT_PACK)
    assert [alloc.gpus for alloc in allocs] == [
        ((0, 5_000),),
        ((1, UNIT), (2, UNIT)),
        ((3, 2_500),),
    ]


def test_strict_pack_fails_when_no_node_is_big_enough():
    nodes = cluster(3, cpus=4, gpus=2)
    before = state(nodes)
    assert place_bundles(nodes, [R(CPU=1, GPU=1)] * 3, STRICT_PACK) is None
    assert place_bundles(nodes, [R(CPU=3), R(CPU=2)], STRICT_PACK) is None
    assert state(nodes) == before


def test_fragmentation_pack_falls_back_to_several_nodes_but_strict_pack_fails():
    nodes = cluster(3, cpus=8, gpus=4)
    for index in range(3):
        use(nodes, index, R(GPU=2))  # every node has two free devices
    bundles = [R(CPU=1, GPU=1)] * 4
    before = state(nodes)
    assert place_bundles(nodes, bundles, STRICT_PACK) is None
    allocs = place_bundles(nodes, bundles, PACK)
    assert where(allocs) == [0, 0, 1, 1]
    assert [alloc.gpu_ids for alloc in allocs] == [(2,), (3,), (2,), (3,)]
    assert state(nodes) == before
    apply(nodes, allocs)
    assert place_bundles(nodes, bundles, PACK) is None  # only two devices left in the cluster


def test_pack_fallback_opens_the_node_that_takes_the_most_bundles():
    nodes = cluster(4, cpus=8, gpus=4)
    for index, busy in enumerate([3, 3, 1, 3]):
        use(nodes, index, R(GPU=busy))  # free devices: 1, 1, 3, 1
    allocs = place_bundles(nodes, [R(GPU=1)] * 4, PACK)
    assert sorted(where(allocs)) == [0, 2, 2, 2]  # two nodes, not first-fit's three


def test_pack_fallback_fails_atomically_when_the_cluster_is_short():
    nodes = cluster(3, cpus=2)
    use(nodes, 0, R(CPU=1))
    before = state(nodes)
    assert place_bundles(nodes, [R(CPU=2)] * 3, PACK) is None  # two of three would fit
    assert place_bundles(nodes, [R(CPU=2)] * 3, SPREAD) is None
    assert state(nodes) == before
    assert where(place_bundles(nodes, [R(CPU=2)] * 2, PACK)) == [1, 2]


# -- SPREAD and STRICT_SPREAD -------------------------------------------------------------------


@pytest.mark.parametrize("strategy", [SPREAD, STRICT_SPREAD])
def test_spread_puts_each_bundle_on_its_own_node(strategy):
    nodes = cluster(3, cpus=4, gpus=1)
    assert where(place_bundles(nodes, [R(CPU=1)] * 3, strategy)) == [0, 1, 2]
    use(nodes, 1, R(GPU=1))
    allocs = place_bundles(nodes, [R(CPU=1, GPU=1)] * 2, strategy)
    assert where(allocs) == [0, 2]
    assert [alloc.gpu_ids for alloc in allocs] == [(0,), (0,)]


def test_strict_spread_needs_as_many_nodes_as_bundles():
    nodes = cluster(3, cpus=4)
    before = state(nodes)
    assert place_bundles(nodes, [R(CPU=1)] * 4, STRICT_SPREAD) is None
    use(nodes, 2, R(CPU=4))
    assert place_bundles(nodes, [R(CPU=1)] * 3, STRICT_SPREAD) is None
    assert state(nodes)[:2] == before[:2]


def test_spread_reuses_nodes_evenly_when_there_are_too_few():
    nodes = cluster(3, cpus=4)
    allocs = place_bundles(nodes, [R(CPU=1)] * 7, SPREAD)
    assert sorted(where(allocs)) == [0, 0, 0, 1, 1, 2, 2]
    assert placed_validly(nodes, [R(CPU=1)] * 7, allocs)


def test_spread_falls_back_to_one_node_when_only_one_has_room():
    nodes = cluster(3, cpus=4)
    use(nodes, 0, R(CPU=4))
    use(nodes, 2, R(CPU=4))
    assert where(place_bundles(nodes, [R(CPU=2)] * 2, SPREAD)) == [1, 1]
    assert place_bundles(nodes, [R(CPU=2)] * 2, STRICT_SPREAD) is None


def test_spread_falls_back_to_pack_when_one_bundle_per_node_blocks_the_rest():
    # Spreading the two small bundles first would leave no node with 2 CPUs for the big one.
    nodes = cluster(2, cpus=2)
    bundles = [R(CPU=1), R(CPU=1), R(CPU=2)]
    allocs = place_bundles(nodes, bundles, SPREAD)
    assert placed_validly(nodes, bundles, allocs)
    assert where(allocs) == [1, 1, 0]


def test_strict_spread_finds_an_assignment_greedy_order_would_miss():
    # Bundle 0 fits both nodes, bundle 1 only node 0: first fit would give node 0 to bundle 0.
    nodes = cluster(1, cpus=2, gpus=1) + cluster(1, cpus=2)
    nodes[1].node_id = "node1"
    assert where(place_bundles(nodes, [R(CPU=1), R(GPU=1)], STRICT_SPREAD)) == [1, 0]
    # a longer augmenting path through three nodes
    nodes = [
        NodeResources.create("a", num_cpus=1, resources={"x": 1, "y": 1}),
        NodeResources.create("b", num_cpus=1, resources={"y": 1, "z": 1}),
        NodeResources.create("c", num_cpus=1, resources={"z": 1}),
    ]
    bundles = [R(CPU=1), R(CPU=1, y=1), R(CPU=1, x=1)]
    assert where(place_bundles(nodes, bundles, STRICT_SPREAD)) == [2, 1, 0]


# -- atomicity and purity -----------------------------------------------------------------------


@pytest.mark.parametrize("strategy", list(Strategy))
def test_failed_placement_changes_nothing_and_reserves_nothing(strategy):
    nodes = cluster(3, cpus=4, gpus=2)
    use(nodes, 1, R(CPU=1, GPU=0.5))
    before = state(nodes)
    # The first bundles fit somewhere, the last one fits nowhere.
    assert place_bundles(nodes, [R(CPU=1, GPU=0.5), R(CPU=1), R(CPU=1, GPU=3)], strategy) is None
    assert state(nodes) == before
    assert where(place_bundles(nodes, [R(CPU=4)], strategy)) == [0]  # everything still free


@pytest.mark.parametrize("strategy", list(Strategy))
def test_successful_placement_does_not_mutate_either(strategy):
    nodes = cluster(3, cpus=4, gpus=2)
    before = state(nodes)
    allocs = place_bundles(nodes, [R(CPU=1, GPU=0.5)] * 3, strategy)
    assert state(nodes) == before
    assert placed_validly(nodes, [R(CPU=1, GPU=0.5)] * 3, allocs)


def strict_spread_possible(nodes: list[NodeResources], bundles: list[Request]) -> bool:
    """Brute force: is there an assignment of bundles to distinct nodes where each fits now?"""
    return any(
        all(nodes[i].plan(bundle) is not None for i, bundle in zip(perm, bundles, strict=True))
        for perm in itertools.permutations(range(len(nodes)), len(bundles))
    )


def random_cluster(rng: random.Random) -> list[NodeResources]:
    nodes = []
    for i in range(rng.randint(1, 5)):
        node = NodeResources.create(
            f"node{i}",
            num_cpus=rng.choice([1, 2, 4]),
            num_gpus=rng.choice([0, 1, 2, 4]),
            resources=rng.choice([{}, {"x": 1}, {"x": 2}]),
        )
        for _ in range(rng.randint(0, 3)):
            alloc = node.plan(random_bundle(rng))
            if alloc is not None:
                node.acquire(alloc)
        nodes.append(node)
    return nodes


def random_bundle(rng: random.Random) -> Request:
    return R(
        CPU=rng.choice([0, 0.5, 1, 2]),
        GPU=rng.choice([0, 0, 0.25, 0.5, 0.7, 1, 2]),
        x=rng.choice([0, 0, 0, 1]),
    )


def test_random_clusters_obey_every_strategy():
    rng = random.Random(1234)
    outcomes = {strategy: [0, 0] for strategy in Strategy}
    for _ in range(600):
        nodes = random_cluster(rng)
        bundles = [random_bundle(rng) for _ in range(rng.randint(1, 4))]
        before = state(nodes)
        results = {s: place_bundles(nodes, bundles, s) for s in Strategy}
        assert state(nodes) == before
        for strategy, allocs in results.items():
            outcomes[strategy][allocs is None] += 1
            if allocs is not None:
                assert placed_validly(nodes, bundles, allocs)
        if results[STRICT_PACK] is not None:
            assert results[PACK] is not None
            assert len(set(where(results[STRICT_PACK]))) == 1
            assert len(set(where(results[PACK]))) == 1
        if results[STRICT_SPREAD] is not None:
            assert len(set(where(results[STRICT_SPREAD]))) == len(bundles)
            assert len(set(where(results[SPREAD]))) == len(bundles)
        assert (results[STRICT_SPREAD] is not None) == strict_spread_possible(nodes, bundles)
        if any(r is not None for r in results.values()):
            assert results[PACK] is not None
            assert results[SPREAD] is not None
    # the generator exercises both outcomes of every strategy
    assert all(ok > 50 and failed > 50 for ok, failed in outcomes.values()), outcomes


# -- large simulated clusters -------------------------------------------------------------------


def big_cluster() -> list[NodeResources]:
    return cluster(256, cpus=32, gpus=8)


def test_pack_fills_a_large_cluster_node_by_node_until_it_is_full():
    nodes = big_cluster()
    for k in range(512):
        allocs = apply(nodes, place_bundles(nodes, [R(CPU=1, GPU=1)] * 4, PACK))
        assert where(allocs) == [k // 2] * 4
        assert [alloc.gpu_ids[0] for alloc in allocs] == [4 * (k % 2) + j for j in range(4)]
    before = state(nodes)
    for strategy in Strategy:
        assert place_bundles(nodes, [R(CPU=1, GPU=1)], strategy) is None
    assert place_request(nodes, R(GPU=0.0001)) is None
    assert place_request(nodes, R(CPU=24)).node_index == 0
    assert state(nodes) == before


def test_spread_over_a_large_cluster():
    nodes = big_cluster()
    bundles = [R(CPU=1, GPU=0.5)] * 300
    assert place_bundles(nodes, bundles, STRICT_SPREAD) is None
    assert where(place_bundles(nodes, bundles[:256], STRICT_SPREAD)) == list(range(256))
    allocs = place_bundles(nodes, bundles, SPREAD)
    assert len(set(where(allocs))) == 256
    assert max(where(allocs).count(i) for i in range(256)) == 2
    assert placed_validly(nodes, bundles, allocs)
    # fill node 7's GPUs: strict spread of 256 GPU bundles is now impossible
    use(nodes, 7, R(GPU=8))
    assert place_bundles(nodes, bundles[:256], STRICT_SPREAD) is None
    assert 7 not in where(place_bundles(nodes, bundles[:255], STRICT_SPREAD))


@pytest.mark.parametrize("strategy", list(Strategy))
def test_thousand_placement_groups_on_256_nodes_are_fast(strategy):
    rng = random.Random(0)
    shapes = [0.1, 0.25, 0.3, 0.5, 0.75, 1]
    groups = [[R(CPU=1, GPU=rng.choice(shapes)) for _ in range(4)] for _ in range(500)]
    groups += [[R(CPU=1, GPU=1)] * 4 for _ in range(500)]  # more than fit: some must fail
    nodes = big_cluster()
    start = time.perf_counter()
    placed = 0
    for bundles in groups:
        allocs = place_bundles(nodes, bundles, strategy)
        if allocs is not None:
            apply(nodes, allocs)
            placed += 1
    elapsed = time.perf_counter() - start
    print(f"1000 groups of 4 bundles, {strategy.value}: {elapsed:.3f} s, {placed} placed")
    assert elapsed < 5
    assert 600 < placed < 1000
    assert all(avail >= 0 for node in nodes for avail in node.avail_gpu.values())


@pytest.mark.parametrize("req", [R(CPU=1), R(CPU=1, GPU=1)], ids=str)
def test_ten_thousand_requests_on_256_nodes_are_fast(req):
    nodes = big_cluster()
    start = time.perf_counter()
    placed = 0
    for _ in range(10_000):
        alloc = place_request(nodes, req)
        if alloc is not None:
            nodes[alloc.node_index].acquire(alloc)
            placed += 1
    elapsed = time.perf_counter() - start
    print(f"10000 requests {req}: {elapsed:.3f} s, {placed} placed")
    assert elapsed < 5
    assert placed == min(256 * 32 * UNIT // req.cpu, 2048 * UNIT // (req.gpu or 1))


# -- infeasible_reason --------------------------------------------------------------------------


def test_feasible_requests_have_no_reason_even_on_a_busy_cluster():
    nodes = cluster(2, cpus=4, gpus=2)
    use(nodes, 0, R(CPU=4, GPU=2))
    use(nodes, 1, R(CPU=4, GPU=2))
    assert infeasible_reason(nodes, [R(CPU=4, GPU=2)]) is None
    for strategy in Strategy:
        assert infeasible_reason(nodes, [R(CPU=2, GPU=1)] * 2, strategy) is None
    assert infeasible_reason(nodes, [R(CPU=2)] * 4, PACK) is None
    assert infeasible_reason(nodes, [R(CPU=2)] * 4, SPREAD) is None


def test_reason_for_too_much_cpu_shows_request_and_nodes():
    nodes = [NodeResources.create("node0", num_cpus=2, memory=1e9)]
    reason = infeasible_reason(nodes, [R(CPU=4)])
    assert reason == (
        "request {'CPU': 4.0} can never be satisfied: no node has enough CPU "
        "(needs 4.0, the most on one node is 2.0) "
        "(nodes: node0 {'CPU': 2.0, 'memory': 1000000000.0})"
    )


def test_reason_names_unknown_custom_resources():
    reason = infeasible_reason(cluster(2), [R(CPU=1, foo=1, bar=2)])
    assert "request {'CPU': 1.0, 'bar': 2.0, 'foo': 1.0}" in reason
    assert "no node has custom resources 'bar', 'foo'" in reason
    reason = infeasible_reason(cluster(1, foo=1), [R(foo=2)])
    assert "no node has enough foo (needs 2.0, the most on one node is 1.0)" in reason


def test_reason_for_gpus():
    nodes = cluster(2, cpus=4, gpus=2)
    reason = infeasible_reason(nodes, [R(GPU=3)])
    assert "{'GPU': 3.0}" in reason
    assert "no node has enough GPU (needs 3 whole devices, the most on one node is 2)" in reason
    assert "2 nodes like node0 {'CPU': 4.0, 'GPU': 2.0}" in reason
    assert "no node has enough GPU" in infeasible_reason(cluster(1), [R(GPU=0.5)])
    # a bundle ledger that owns half a device cannot give 0.6 of one
    grant = nodes[0].plan(R(CPU=1, GPU=0.5))
    bundle = [NodeResources.for_bundle("pg/0", grant)]
    reason = infeasible_reason(bundle, [R(GPU=0.6)])
    assert "no node has enough GPU (needs 0.6 of one device, the most on one device is 0.5)" in (
        reason
    )
    assert infeasible_reason(bundle, [R(GPU=0.5, CPU=1)]) is None


def test_reason_when_each_resource_exists_but_not_together():
    nodes = cluster(1, cpus=8) + cluster(1, cpus=1, gpus=1)
    reason = infeasible_reason(nodes, [R(CPU=4, GPU=1)])
    assert "no single node has enough CPU and GPU at once" in reason


def test_reason_on_an_empty_cluster():
    assert "the cluster has no nodes" in infeasible_reason([], [R(CPU=1)])
    assert "the cluster has no nodes" in infeasible_reason([], [R(CPU=1)], PACK)


def test_reason_for_strict_spread_with_too_few_nodes():
    reason = infeasible_reason(cluster(2), [R(CPU=1)] * 3, STRICT_SPREAD)
    assert "[{'CPU': 1.0}, {'CPU': 1.0}, {'CPU': 1.0}]" in reason
    assert "STRICT_SPREAD" in reason
    assert "needs 3 distinct nodes, the cluster has 2" in reason
    # enough nodes, but only one can hold the GPU bundles
    nodes = cluster(1, gpus=1) + cluster(2)
    reason = infeasible_reason(nodes, [R(GPU=1)] * 2, STRICT_SPREAD)
    assert "needs 2 distinct nodes, but at most 1 of its bundles" in reason


def test_reason_for_strict_pack_too_big_for_any_node():
    reason = infeasible_reason(cluster(3, cpus=4, gpus=2), [R(CPU=2, GPU=1)] * 3, STRICT_PACK)
    assert "STRICT_PACK" in reason
    assert "it needs {'CPU': 6.0, 'GPU': 3.0} on one node" in reason
    assert "no node has enough CPU and GPU for all of them" in reason
    # the same group can be packed or spread
    assert infeasible_reason(cluster(3, cpus=4, gpus=2), [R(CPU=2, GPU=1)] * 3, PACK) is None
    # 2 GPUs in total fit, but 0.7, 0.7 and 0.6 cannot share two devices
    bundles = [R(GPU=0.7), R(GPU=0.7), R(GPU=0.6)]
    reason = infeasible_reason(cluster(1, cpus=4, gpus=2), bundles, STRICT_PACK)
    assert "no node's GPU devices can hold all of their GPU shares at once" in reason


def test_reason_for_pack_more_than_the_cluster_has():
    reason = infeasible_reason(cluster(2, cpus=2), [R(CPU=2)] * 3, PACK)
    assert "more than the whole cluster has (CPU 6.0 > 4.0)" in reason
    assert "2 nodes like node0 {'CPU': 2.0}" in reason


def test_reason_names_the_bundle_that_fits_no_node():
    reason = infeasible_reason(cluster(2, cpus=2), [R(CPU=1), R(CPU=1, foo=1)], SPREAD)
    assert "bundle 1 {'CPU': 1.0, 'foo': 1.0} fits no node" in reason
    assert "no node has custom resource 'foo'" in reason


def test_reason_groups_a_large_cluster_into_sizes():
    nodes = big_cluster() + cluster(1, cpus=1)
    nodes[-1].node_id = "small"
    reason = infeasible_reason(nodes, [R(CPU=64)])
    assert reason.endswith(
        "(nodes: 256 nodes like node0 {'CPU': 32.0, 'GPU': 8.0}, small {'CPU': 1.0})"
    )


def test_reason_validates_its_arguments():
    with pytest.raises(ValueError, match="exactly one request"):
        infeasible_reason(cluster(1), [R(CPU=1)] * 2)
    with pytest.raises(ValueError, match="at least one bundle"):
        infeasible_reason(cluster(1), [])
    with pytest.raises(ValueError, match="strategy"):
        infeasible_reason(cluster(1), [R(CPU=1)], "packed")
