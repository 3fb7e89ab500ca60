"""Explaining requests that could never be placed, and checking a request against a group.

Used at submission so that an impossible request fails at once with a message that shows the
request and what exists, instead of waiting forever.
"""

from __future__ import annotations

from collections.abc import Sequence

from caliper.core.placement import (
    Strategy,
    check_bundles,
    match_distinct,
    place_bundles,
    total_of,
)
from caliper.core.resources import (
    CPU,
    GPU,
    MEMORY,
    UNIT,
    NodeResources,
    Request,
    from_units,
)

__all__ = ["check_in_group", "infeasible_reason"]


def check_in_group(bundles: Sequence[Request], request: Request, bundle_index: int) -> str | None:
    """Why ``request`` could never run in bundle ``bundle_index`` (-1: any) of a group made of
    ``bundles``, or ``None`` if it fits once that bundle is free.

    Raises:
        ValueError: ``bundle_index`` is out of range.
    """
    n = len(bundles)
    if not -1 <= bundle_index < n:
        raise ValueError(
            f"placement_group_bundle_index must be -1 (any bundle) or in [0, {n - 1}] "
            f"for a group of {n} bundles, got {bundle_index}"
        )
    indexes = range(n) if bundle_index == -1 else [bundle_index]
    if any(NodeResources.for_request(bundles[i]).could_ever_fit(request) for i in indexes):
        return None
    shown = [bundles[i].as_dict() for i in indexes]
    return f"request {request} can never fit in placement group bundle(s) {list(indexes)} {shown}"


# -- explaining what can never fit --------------------------------------------------------------


def infeasible_reason(
    nodes: Sequence[NodeResources],
    bundles: Sequence[Request],
    strategy: Strategy | str | None = None,
) -> str | None:
    """Explain why a request could never be placed, even on an idle cluster.

    Args:
        nodes: The cluster's ledgers (only their totals are used); not modified.
        bundles: A placement group's bundles, or with ``strategy=None`` a single task or actor
            request as a one-element list.
        strategy: The placement group's strategy, or ``None`` for a task or actor.

    Returns:
        ``None`` if the request can be placed once enough is released (so it should wait);
        otherwise a one-line message naming the request, what is short and the node sizes.

    Raises:
        TypeError: as :func:`place_bundles`.
        ValueError: ``bundles`` is empty, or has more than one element with ``strategy=None``.
    """
    bundles = check_bundles(bundles)
    if strategy is None:
        if len(bundles) != 1:
            raise ValueError(
                "with strategy=None, bundles must hold exactly one request (a task or actor), "
                f"got {len(bundles)}"
            )
        req = bundles[0]
        if any(node.could_ever_fit(req) for node in nodes):
            return None
        return f"request {req} can never be satisfied: {_shortfall(nodes, req)}{_sizes(nodes)}"

    strategy = Strategy.parse(strategy)
    idle = [node.fresh() for node in nodes]
    if place_bundles(idle, bundles, strategy) is not None:
        return None
    group = (
        f"placement group {[bundle.as_dict() for bundle in bundles]} "
        f"with strategy {strategy.value} can never be satisfied: "
    )
    for i, bundle in enumerate(bundles):
        if not any(node.could_ever_fit(bundle) for node in nodes):
            why = _shortfall(nodes, bundle)
            return f"{group}bundle {i} {bundle} fits no node: {why}{_sizes(nodes)}"
    if strategy is Strategy.STRICT_SPREAD:
        if len(bundles) > len(nodes):
            why = f"it needs {len(bundles)} distinct nodes, the cluster has {len(nodes)}"
        else:
            most = len(match_distinct(idle, bundles))
            why = (
                f"it needs {len(bundles)} distinct nodes, but at most {most} of its bundles "
                "can be put on distinct nodes at once"
            )
        return f"{group}{why}{_sizes(nodes)}"
    total = total_of(bundles)
    if strategy is Strategy.STRICT_PACK:
        why = f"it needs {total} on one node: {_pack_shortfall(nodes, total)}"
    else:
        why = _cluster_shortfall(nodes, total)
    return f"{group}{why}{_sizes(nodes)}"


def _shortfall(nodes: Sequence[NodeResources], req: Request) -> str:
    """Why ``req`` fits no node even when idle, e.g. ``no node has enough CPU (...)``."""
    if not nodes:
        return "the cluster has no nodes"
    unknown = [key for key, _ in req.custom if all(key not in node.custom for node in nodes)]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        return f"no node has custom resource{plural} {', '.join(map(repr, unknown))}"
    parts = []
    for name, need in _dimensions(req):
        if name == GPU:
            if any(node.could_ever_fit(Request(gpu=need)) for node in nodes):
                continue
            if need < UNIT:
                most = max((max(n.gpu_capacity.values(), default=0) for n in nodes), default=0)
                detail = f"needs {from_units(need)} of one device, the most on one device is"
                parts.append(f"no node has enough GPU ({detail} {from_units(most)})")
            else:
                most = max(list(n.gpu_capacity.values()).count(UNIT) for n in nodes)
                detail = f"needs {need // UNIT} whole devices, the most on one node is {most}"
                parts.append(f"no node has enough GPU ({detail})")
            continue
        most = max(_amount(_capacity(node), name) for node in nodes)
        if most < need:
            detail = f"needs {from_units(need)}, the most on one node is {from_units(most)}"
            parts.append(f"no node has enough {name} ({detail})")
    if parts:
        return "; ".join(parts)
    names = " and ".join(name for name, _ in _dimensions(req))
    return f"no single node has enough {names} at once"


def _pack_shortfall(nodes: Sequence[NodeResources], total: Request) -> str:
    """Why the summed bundles of a ``STRICT_PACK`` group fit no single idle node."""
    if not nodes:
        return "the cluster has no nodes"
    capacities = [_capacity(node) for node in nodes]
    short = [
        name
        for name, need in _dimensions(total)
        if all(_amount(cap, name) < need for cap in capacities)
    ]
    if short:
        return f"no node has enough {' and '.join(short)} for all of them"
    if any(_covers(cap, total) for cap in capacities):
        return "no node's GPU devices can hold all of their GPU shares at once"
    names = " and ".join(name for name, _ in _dimensions(total))
    return f"no single node has enough {names} at once"


def _cluster_shortfall(nodes: Sequence[NodeResources], total: Request) -> str:
    """Why the bundles of a ``PACK`` or ``SPREAD`` group fit no idle cluster."""
    have = total_of([_capacity(node) for node in nodes])
    short = [
        f"{name} {from_units(need)} > {from_units(_amount(have, name))}"
        for name, need in _dimensions(total)
        if need > _amount(have, name)
    ]
    if short:
        return f"it needs more than the whole cluster has ({', '.join(short)})"
    return "its bundles cannot be fitted onto the nodes together (per-node or per-GPU sizes)"


def _capacity(node: NodeResources) -> Request:
    """A node's totals as a request (``gpu`` summed over its devices)."""
    return Request(
        cpu=node.cpu,
        gpu=sum(node.gpu_capacity.values()),
        memory=node.memory,
        custom=tuple(sorted(node.custom.items())),
    )


def _dimensions(req: Request) -> list[tuple[str, int]]:
    """The non-zero ``(resource name, units)`` pairs of ``req``."""
    pairs = [(CPU, req.cpu), (GPU, req.gpu), (MEMORY, req.memory), *req.custom]
    return [(name, units) for name, units in pairs if units]


def _amount(req: Request, name: str) -> int:
    if name == CPU:
        return req.cpu
    if name == GPU:
        return req.gpu
    if name == MEMORY:
        return req.memory
    return dict(req.custom).get(name, 0)


def _covers(have: Request, need: Request) -> bool:
    return all(_amount(have, name) >= units for name, units in _dimensions(need))


_MAX_SHAPES = 4


def _sizes(nodes: Sequence[NodeResources]) -> str:
    """`` (nodes: node0 {...}, 255 nodes like node1 {...})``: node sizes, identical ones grouped."""
    if not nodes:
        return ""
    groups: dict[str, list[str]] = {}
    for node in nodes:
        groups.setdefault(str(node.total_dict()), []).append(node.node_id)
    shown = [
        f"{ids[0]} {shape}" if len(ids) == 1 else f"{len(ids)} nodes like {ids[0]} {shape}"
        for shape, ids in list(groups.items())[:_MAX_SHAPES]
    ]
    if len(groups) > _MAX_SHAPES:
        shown.append(f"and {len(groups) - _MAX_SHAPES} other sizes")
    return f" (nodes: {', '.join(shown)})"
