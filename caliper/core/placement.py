"""Pure placement: which node a task, an actor or a placement group's bundles go to.

Every function here takes a list of :class:`~caliper.core.resources.NodeResources` ledgers and
returns :class:`~caliper.core.resources.Allocation` objects whose ``node_index`` is an index into
that list. Nothing is mutated: the caller applies a result with ``nodes[a.node_index].acquire(a)``.
Inside a node the GPU device is chosen by :meth:`NodeResources.plan` (best fit for fractions,
entirely free devices for whole GPUs); bundles that share a node are planned one after another
on a copy of it, so each sees what the previous ones took.

Policies:

* a single request goes to the first node (lowest index) on which it fits now;
* ``PACK`` puts every bundle on the first node that can take them all; failing that it opens,
  one at a time, the node that can take the most of the remaining bundles; failing that it
  tries the ``SPREAD`` heuristic;
* ``STRICT_PACK`` puts every bundle on one node or nothing;
* ``SPREAD`` puts as many bundles as possible on distinct nodes (a maximum bipartite matching,
  lowest indices first) and the rest on the nodes holding the fewest of its bundles; failing
  that it tries the ``PACK`` heuristic (so ``PACK`` and ``SPREAD`` succeed on the same inputs);
* ``STRICT_SPREAD`` puts each bundle on its own node or nothing (the matching is exact, so it
  fails only when no assignment to distinct nodes exists).

Within one node bundles are planned largest GPU share first (first-fit decreasing), which packs
fractional shares better than bundle order; the result is still returned in bundle order.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence

from caliper.core.resources import (
    Allocation,
    NodeResources,
    Request,
)

__all__ = ["Strategy", "place_bundles", "place_request"]


class Strategy(enum.Enum):
    """How the bundles of a placement group are laid out over the nodes (as in Ray)."""

    PACK = "PACK"
    SPREAD = "SPREAD"
    STRICT_PACK = "STRICT_PACK"
    STRICT_SPREAD = "STRICT_SPREAD"

    @classmethod
    def parse(cls, value: str | Strategy) -> Strategy:
        """Return ``value`` as a :class:`Strategy`, accepting Ray's strings such as ``"PACK"``.

        Raises:
            TypeError: ``value`` is neither a string nor a :class:`Strategy`.
            ValueError: ``value`` is not one of the strategy names.
        """
        if isinstance(value, cls):
            return value
        valid = ", ".join(repr(member.value) for member in cls)
        if not isinstance(value, str):
            raise TypeError(
                f"strategy must be a Strategy or one of {valid}, "
                f"got {type(value).__name__} {value!r}"
            )
        try:
            return cls(value)
        except ValueError:
            hint = f" (did you mean {value.upper()!r}?)" if value.upper() in cls.__members__ else ""
            raise ValueError(f"strategy must be one of {valid}, got {value!r}{hint}") from None


# -- single requests ----------------------------------------------------------------------------


def place_request(nodes: Sequence[NodeResources], req: Request) -> Allocation | None:
    """Choose a node for one task or actor.

    Args:
        nodes: The cluster's ledgers; not modified.
        req: What the task or actor asks for.

    Returns:
        The allocation on the first node (lowest index) where ``req`` fits now, or ``None`` if
        it fits nowhere now.
    """
    # The hot loop of the runtime: the cheap total checks of _may_fit are inlined so that full
    # nodes are skipped in a fraction of a microsecond each.
    cpu, memory, gpu, custom = req.cpu, req.memory, req.gpu, req.custom
    for index, node in enumerate(nodes):
        if cpu > node.avail_cpu or memory > node.avail_memory:
            continue
        if gpu and sum(node.avail_gpu.values()) < gpu:
            continue
        if custom and not _may_fit(node, req):
            continue
        alloc = node.plan(req, index)
        if alloc is not None:
            return alloc
    return None


# -- placement groups ---------------------------------------------------------------------------


def place_bundles(
    nodes: Sequence[NodeResources], bundles: Sequence[Request], strategy: Strategy | str
) -> list[Allocation] | None:
    """Choose nodes for every bundle of a placement group, all or nothing.

    Args:
        nodes: The cluster's ledgers; not modified (planning happens on copies).
        bundles: The bundles' requests, at least one.
        strategy: A :class:`Strategy` (or its name).

    Returns:
        One allocation per bundle, in bundle order, or ``None`` if the group cannot be placed
        now. Applying all of them with ``acquire`` always succeeds.

    Raises:
        TypeError: ``bundles`` holds something other than :class:`Request` objects, or
            ``strategy`` is not a strategy.
        ValueError: ``bundles`` is empty or ``strategy`` is an unknown name.
    """
    strategy = Strategy.parse(strategy)
    bundles = check_bundles(bundles)
    if strategy is Strategy.STRICT_PACK:
        return _pack_one_node(nodes, bundles)
    if strategy is Strategy.STRICT_SPREAD:
        return _spread(nodes, bundles, strict=True)
    # The best-effort strategies try the same heuristics in their own order of preference, so
    # PACK and SPREAD succeed on exactly the same inputs.
    if strategy is Strategy.PACK:
        attempts = (_pack_one_node, _pack_greedy, _spread)
    else:
        attempts = (_spread, _pack_greedy)
    for attempt in attempts:
        placed = attempt(nodes, bundles)
        if placed is not None:
            return placed
    return None


def check_bundles(bundles: Sequence[Request]) -> list[Request]:
    bundles = list(bundles)
    if not bundles:
        raise ValueError("bundles must hold at least one bundle, got an empty list")
    for i, bundle in enumerate(bundles):
        if not isinstance(bundle, Request):
            raise TypeError(f"bundles[{i}] must be a Request, got {type(bundle).__name__}")
    return bundles


def _largest_first(bundles: Sequence[Request]) -> list[int]:
    """Bundle indices, largest GPU share (then CPU, then memory) first; ties keep bundle order."""
    return sorted(
        range(len(bundles)),
        key=lambda i: (-bundles[i].gpu, -bundles[i].cpu, -bundles[i].memory),
    )


def _pack_one_node(
    nodes: Sequence[NodeResources], bundles: list[Request]
) -> list[Allocation] | None:
    """All bundles on the first node that can take them together, or ``None``."""
    total = total_of(bundles)
    order = _largest_first(bundles)
    for index, node in enumerate(nodes):
        if not _may_fit(node, total):
            continue
        work = node.copy()
        placed: dict[int, Allocation] = {}
        for i in order:
            alloc = work.plan(bundles[i], index)
            if alloc is None:
                break
            work.acquire(alloc)
            placed[i] = alloc
        else:
            return _in_order(placed)
    return None


def _pack_greedy(nodes: Sequence[NodeResources], bundles: list[Request]) -> list[Allocation] | None:
    """Bundles over as few nodes as the greedy can manage, or ``None`` if some bundle is left.

    Each round opens the unused node that takes the most of the remaining bundles (lowest index
    on ties) and fills it; a node, once filled, cannot take a bundle it refused earlier, so it is
    never revisited.
    """
    placed: dict[int, Allocation] = {}
    remaining = _largest_first(bundles)
    used: set[int] = set()
    while remaining:
        smallest = _minimum([bundles[i] for i in remaining])
        best: dict[int, Allocation] = {}
        for index, node in enumerate(nodes):
            if index in used or not _may_fit(node, smallest):
                continue
            got = _fill(node, index, bundles, remaining)
            if len(got) > len(best):
                best = got
                if len(best) == len(remaining):
                    break
        if not best:
            return None
        placed.update(best)
        used.add(next(iter(best.values())).node_index)
        remaining = [i for i in remaining if i not in best]
    return _in_order(placed)


def _fill(
    node: NodeResources, index: int, bundles: list[Request], order: list[int]
) -> dict[int, Allocation]:
    """Plan the bundles ``order`` on ``node`` in turn, keeping each that fits; copy lazily."""
    work: NodeResources | None = None
    got: dict[int, Allocation] = {}
    for i in order:
        ledger = node if work is None else work
        if not _may_fit(ledger, bundles[i]):
            continue
        alloc = ledger.plan(bundles[i], index)
        if alloc is None:
            continue
        if work is None:
            work = node.copy()
        work.acquire(alloc)
        got[i] = alloc
    return got


def _spread(
    nodes: Sequence[NodeResources], bundles: list[Request], *, strict: bool = False
) -> list[Allocation] | None:
    """Bundles on distinct nodes where possible (all of them if ``strict``), else ``None``."""
    if strict and len(bundles) > len(nodes):
        return None
    owner = match_distinct(nodes, bundles)
    if strict and len(owner) < len(bundles):
        return None
    placed: dict[int, Allocation] = {}
    for index, i in owner.items():
        alloc = nodes[index].plan(bundles[i], index)
        if alloc is None:  # the matching only pairs bundles with nodes they fit
            raise RuntimeError(f"bundle {bundles[i]} was matched to {nodes[index].node_id}")
        placed[i] = alloc
    if len(placed) == len(bundles):
        return _in_order(placed)
    # An unmatched bundle fits no unused node (else the matching would not be maximum), so the
    # rest go onto the used nodes, fewest of this group's bundles first.
    work = {index: nodes[index].copy() for index in sorted(owner)}
    count = dict.fromkeys(work, 1)
    for index, i in owner.items():
        work[index].acquire(placed[i])
    unmatched = [i for i in _largest_first(bundles) if i not in placed]
    for i in unmatched:
        for index in sorted(work, key=lambda index: (count[index], index)):
            alloc = work[index].plan(bundles[i], index)
            if alloc is not None:
                work[index].acquire(alloc)
                count[index] += 1
                placed[i] = alloc
                break
        else:
            return None
    return _in_order(placed)


def _in_order(placed: dict[int, Allocation]) -> list[Allocation]:
    """``{bundle index: allocation}`` for every bundle, as a list in bundle order."""
    return [placed[i] for i in range(len(placed))]


def match_distinct(nodes: Sequence[NodeResources], bundles: list[Request]) -> dict[int, int]:
    """A maximum matching of bundles to distinct nodes that can each hold one now.

    Kuhn's augmenting-path algorithm. Each bundle first takes the lowest-index free node it
    fits, scanning each node at most once per distinct request; only when none is left does it
    search for an augmenting path, which needs every bundle's full candidate list.

    Returns:
        ``{node index: bundle index}``.
    """
    kinds: dict[Request, int] = {}
    kind_of = [kinds.setdefault(bundle, len(kinds)) for bundle in bundles]
    fits: dict[tuple[int, int], bool] = {}

    requests = list(kinds)  # kind -> request

    def fit(kind: int, index: int) -> bool:
        key = (kind, index)
        if key not in fits:
            req, node = requests[kind], nodes[index]
            fits[key] = _may_fit(node, req) and node.plan(req, index) is not None
        return fits[key]

    full: dict[int, list[int]] = {}

    def candidates(i: int) -> list[int]:
        kind = kind_of[i]
        if kind not in full:
            full[kind] = [index for index in range(len(nodes)) if fit(kind, index)]
        return full[kind]

    owner: dict[int, int] = {}
    scan = [0] * len(kinds)  # per kind: nodes before it are taken or do not fit
    for i, kind in enumerate(kind_of):
        index = scan[kind]
        while index < len(nodes) and (index in owner or not fit(kind, index)):
            index += 1
        scan[kind] = index
        if index < len(nodes):
            owner[index] = i
        else:
            _augment(i, candidates, owner)
    return owner


def _augment(start: int, candidates: Callable[[int], list[int]], owner: dict[int, int]) -> bool:
    """Find an augmenting path from bundle ``start`` and flip it into ``owner`` (iteratively)."""
    seen: set[int] = set()
    stack: list[tuple[int, Iterator[int]]] = [(start, iter(candidates(start)))]
    path: list[int] = []  # path[k]: the node that level k takes
    while stack:
        _, options = stack[-1]
        for index in options:
            if index in seen:
                continue
            seen.add(index)
            path.append(index)
            if index not in owner:
                for (bundle, _), node_index in zip(stack, path, strict=True):
                    owner[node_index] = bundle
                return True
            stack.append((owner[index], iter(candidates(owner[index]))))
            break
        else:
            stack.pop()
            if path:
                path.pop()
    return False


# -- fast checks and request arithmetic --------------------------------------------------------


def _may_fit(node: NodeResources, req: Request) -> bool:
    """A cheap necessary condition for ``req`` fitting ``node`` now, to skip full nodes fast.

    It compares totals only; :meth:`NodeResources.plan` makes the real (per-device) decision.
    """
    if req.cpu > node.avail_cpu or req.memory > node.avail_memory:
        return False
    for key, units in req.custom:
        if node.avail_custom.get(key, 0) < units:
            return False
    return not req.gpu or sum(node.avail_gpu.values()) >= req.gpu


def total_of(requests: Sequence[Request]) -> Request:
    """The element-wise sum of ``requests`` (its ``gpu`` is a total, not a device count)."""
    custom: dict[str, int] = {}
    for req in requests:
        for key, units in req.custom:
            custom[key] = custom.get(key, 0) + units
    return Request(
        cpu=sum(req.cpu for req in requests),
        gpu=sum(req.gpu for req in requests),
        memory=sum(req.memory for req in requests),
        custom=tuple(sorted(custom.items())),
    )


def _minimum(requests: Sequence[Request]) -> Request:
    """The element-wise minimum of ``requests``: whatever fits none of it fits none of them."""
    common = set.intersection(*(set(dict(req.custom)) for req in requests))
    return Request(
        cpu=min(req.cpu for req in requests),
        gpu=min(req.gpu for req in requests),
        memory=min(req.memory for req in requests),
        custom=tuple(
            sorted((key, min(dict(req.custom)[key] for req in requests)) for key in common)
        ),
    )
