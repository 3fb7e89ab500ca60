"""Exact resource arithmetic: requests, per-node ledgers and allocations.

Every quantity is held as an integer count of ``1 / UNIT`` of a resource, so granting and
releasing ``0.1`` GPU ten thousand times leaves exactly what was there. GPUs are tracked per
device (each device has a capacity of ``UNIT``); CPU, memory and custom resources are scalar
pools.

Rules for GPUs (the packing policy the placement functions rely on):

* a fractional request (``0 < num_gpus < 1``) takes a share of one device, choosing the device
  with the *least* free capacity that still fits (best fit), so partly used devices fill up
  before a new one is opened; ties go to the lowest device index;
* a whole request (``num_gpus`` a positive integer) takes that many *entirely free* devices,
  lowest indices first;
* ``num_gpus`` above one must be a whole number.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

UNIT = 10_000
"""Resolution of every resource quantity (Ray uses the same 1e-4 granularity)."""

CPU = "CPU"
GPU = "GPU"
MEMORY = "memory"
_RESERVED = (CPU, GPU, MEMORY)


def to_units(value: float, name: str) -> int:
    """Convert a user-facing amount to integer units, validating it.

    Args:
        value: The amount, e.g. ``0.5`` GPUs.
        name: The argument's name, used in error messages.

    Returns:
        ``value * UNIT`` as an exact integer.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: ``value`` is negative, not finite, too large, or finer than ``1 / UNIT``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if isinstance(value, numbers.Integral):
        value = int(value)
        if value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        return value * UNIT
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    scaled = value * UNIT
    if not math.isfinite(scaled):
        raise ValueError(f"{name} is too large, got {value!r}")
    units = round(scaled)
    # The tolerance only absorbs float representation error (about 1e-16 relative), so an
    # amount such as 100.00005 is rejected instead of being silently rounded.
    if abs(units - scaled) > 1e-9 * max(1.0, scaled):
        raise ValueError(f"{name} must be a multiple of {1 / UNIT}, got {value!r}")
    return units


def from_units(units: int) -> float:
    """Convert integer units back to the float users see."""
    return units / UNIT


class Request(NamedTuple):
    """An amount of resources asked for by one task, actor or placement-group bundle.

    All amounts are integer units (see :data:`UNIT`). Build one from user-facing numbers with
    :meth:`from_amounts`. A named tuple: cheap to build, hash and compare on the hot path.
    """

    cpu: int = 0
    gpu: int = 0
    memory: int = 0
    custom: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_amounts(
        cls,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory: float | None = None,
        resources: Mapping[str, float] | None = None,
    ) -> Request:
        """Validate user-facing amounts (``None`` means zero) and build a request."""
        cpu = to_units(0 if num_cpus is None else num_cpus, "num_cpus")
        gpu = to_units(0 if num_gpus is None else num_gpus, "num_gpus")
        if gpu > UNIT and gpu % UNIT:
            raise ValueError(
                f"num_gpus above 1 must be a whole number of devices, got {num_gpus!r} "
                "(use e.g. num_gpus=0.5 to share one device, or num_gpus=2 for two devices)"
            )
        mem = to_units(0 if memory is None else memory, "memory")
        custom: dict[str, int] = {}
        if resources is not None:
            if not isinstance(resources, Mapping):
                raise TypeError(
                    f"resources must be a dict of name -> amount, got {type(resources).__name__}"
                )
            for key, amount in resources.items():
                if not isinstance(key, str) or not key:
                    raise TypeError(f"resources keys must be non-empty strings, got {key!r}")
                if key in _RESERVED:
                    raise ValueError(
                        f"resources[{key!r}] is not allowed: use the "
                        f"{'num_cpus' if key == CPU else 'num_gpus' if key == GPU else 'memory'}"
                        " argument instead"
                    )
                units = to_units(amount, f"resources[{key!r}]")
                if units:
                    custom[key] = units
        return cls(cpu=cpu, gpu=gpu, memory=mem, custom=tuple(sorted(custom.items())))

    @classmethod
    def from_dict(cls, amounts: Mapping[str, float]) -> Request:
        """Build a request from a Ray-style dict such as ``{"CPU": 1, "GPU": 0.5, "foo": 2}``."""
        if not isinstance(amounts, Mapping):
            raise TypeError(f"a bundle must be a dict of resource -> amount, got {amounts!r}")
        rest = {k: v for k, v in amounts.items() if k not in _RESERVED}
        return cls.from_amounts(
            num_cpus=amounts.get(CPU),
            num_gpus=amounts.get(GPU),
            memory=amounts.get(MEMORY),
            resources=rest,
        )

    def as_dict(self) -> dict[str, float]:
        """Ray-style dict of the non-zero amounts."""
        out: dict[str, float] = {}
        if self.cpu:
            out[CPU] = from_units(self.cpu)
        if self.gpu:
            out[GPU] = from_units(self.gpu)
        if self.memory:
            out[MEMORY] = from_units(self.memory)
        for key, units in self.custom:
            out[key] = from_units(units)
        return out

    @property
    def is_empty(self) -> bool:
        return not (self.cpu or self.gpu or self.memory or self.custom)

    def __str__(self) -> str:
        return str(self.as_dict() or {CPU: 0})


class Allocation(NamedTuple):
    """Resources granted on one node: scalars plus ``(device index, units)`` per GPU share."""

    node_index: int
    cpu: int = 0
    memory: int = 0
    custom: tuple[tuple[str, int], ...] = ()
    gpus: tuple[tuple[int, int], ...] = ()

    @property
    def gpu_ids(self) -> tuple[int, ...]:
        """Device indices this allocation touches, in ascending order."""
        return tuple(sorted(dev for dev, _ in self.gpus))

    def as_request(self) -> Request:
        """The request this allocation satisfies (used to turn a bundle into a sub-ledger)."""
        return Request(
            cpu=self.cpu,
            gpu=sum(units for _, units in self.gpus),
            memory=self.memory,
            custom=self.custom,
        )


@dataclass
class NodeResources:
    """Mutable ledger of one node (or of one reserved placement-group bundle).

    ``gpu_capacity`` maps a device index to how many units of it this ledger owns: a whole
    node owns ``UNIT`` of each device; a bundle may own only a share of one.
    """

    node_id: str
    cpu: int = 0
    memory: int = 0
    custom: dict[str, int] = field(default_factory=dict)
    gpu_capacity: dict[int, int] = field(default_factory=dict)
    avail_cpu: int = -1
    avail_memory: int = -1
    avail_custom: dict[str, int] = field(default_factory=dict)
    avail_gpu: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.avail_cpu < 0:
            self.avail_cpu = self.cpu
        if self.avail_memory < 0:
            self.avail_memory = self.memory
        for key, units in self.custom.items():
            self.avail_custom.setdefault(key, units)
        for dev, units in self.gpu_capacity.items():
            self.avail_gpu.setdefault(dev, units)

    @classmethod
    def create(
        cls,
        node_id: str,
        num_cpus: float = 0,
        num_gpus: int = 0,
        memory: float = 0,
        resources: Mapping[str, float] | None = None,
    ) -> NodeResources:
        """A fresh, fully free node with ``num_gpus`` whole devices numbered from 0."""
        if isinstance(num_gpus, bool) or not isinstance(num_gpus, int) or num_gpus < 0:
            raise ValueError(f"num_gpus of a node must be a whole number >= 0, got {num_gpus!r}")
        req = Request.from_amounts(num_cpus=num_cpus, memory=memory, resources=resources)
        return cls(
            node_id=node_id,
            cpu=req.cpu,
            memory=req.memory,
            custom=dict(req.custom),
            gpu_capacity={dev: UNIT for dev in range(num_gpus)},
        )

    @classmethod
    def for_bundle(cls, node_id: str, alloc: Allocation) -> NodeResources:
        """A ledger holding exactly what a reserved bundle was granted."""
        return cls(
            node_id=node_id,
            cpu=alloc.cpu,
            memory=alloc.memory,
            custom=dict(alloc.custom),
            gpu_capacity=dict(alloc.gpus),
        )

    @classmethod
    def for_request(cls, bundle: Request) -> NodeResources:
        """The ledger a bundle will own once reserved, before knowing where: a fractional
        GPU share is one device holding that share, whole GPUs are whole devices."""
        if bundle.gpu < UNIT:
            gpus = ((0, bundle.gpu),) if bundle.gpu else ()
        else:
            gpus = tuple((i, UNIT) for i in range(bundle.gpu // UNIT))
        return cls.for_bundle(
            "bundle", Allocation(0, bundle.cpu, bundle.memory, bundle.custom, gpus)
        )

    def fresh(self) -> NodeResources:
        """A copy of this ledger with everything free."""
        return NodeResources(
            node_id=self.node_id,
            cpu=self.cpu,
            memory=self.memory,
            custom=dict(self.custom),
            gpu_capacity=dict(self.gpu_capacity),
        )

    def copy(self) -> NodeResources:
        """A copy of this ledger in its current state."""
        clone = self.fresh()
        clone.avail_cpu, clone.avail_memory = self.avail_cpu, self.avail_memory
        clone.avail_custom, clone.avail_gpu = dict(self.avail_custom), dict(self.avail_gpu)
        return clone

    # -- planning (no mutation) ------------------------------------------------------------

    def _choose_gpus(
        self, gpu: int, avail: Mapping[int, int]
    ) -> tuple[tuple[int, int], ...] | None:
        if gpu == 0:
            return ()
        if gpu < UNIT:
            best = None
            for dev in sorted(avail):
                free = avail[dev]
                if free >= gpu and (best is None or free < avail[best]):
                    best = dev
            return None if best is None else ((best, gpu),)
        wanted = gpu // UNIT
        free_devs = [dev for dev in sorted(avail) if avail[dev] == UNIT]
        if len(free_devs) < wanted:
            return None
        return tuple((dev, UNIT) for dev in free_devs[:wanted])

    def _plan(
        self,
        req: Request,
        node_index: int,
        cpu: int,
        memory: int,
        custom: Mapping[str, int],
        gpus: Mapping[int, int],
    ) -> Allocation | None:
        if req.cpu > cpu or req.memory > memory:
            return None
        for key, units in req.custom:
            if custom.get(key, 0) < units:
                return None
        chosen = self._choose_gpus(req.gpu, gpus)
        if chosen is None:
            return None
        return Allocation(
            node_index=node_index, cpu=req.cpu, memory=req.memory, custom=req.custom, gpus=chosen
        )

    def plan(self, req: Request, node_index: int = 0) -> Allocation | None:
        """Where ``req`` would go on this node now, or ``None`` if it does not fit now."""
        return self._plan(
            req, node_index, self.avail_cpu, self.avail_memory, self.avail_custom, self.avail_gpu
        )

    def could_ever_fit(self, req: Request) -> bool:
        """Whether ``req`` fits this node when it is entirely free."""
        return self._plan(req, 0, self.cpu, self.memory, self.custom, self.gpu_capacity) is not None

    # -- mutation --------------------------------------------------------------------------

    def acquire(self, alloc: Allocation) -> None:
        """Take ``alloc`` from this ledger (it must come from :meth:`plan` on this state)."""
        if alloc.cpu > self.avail_cpu or alloc.memory > self.avail_memory:
            raise RuntimeError(f"allocation {alloc} exceeds what {self.node_id} has free")
        for key, units in alloc.custom:
            if self.avail_custom.get(key, 0) < units:
                raise RuntimeError(f"allocation {alloc} exceeds what {self.node_id} has free")
        for dev, units in alloc.gpus:
            if self.avail_gpu.get(dev, 0) < units:
                raise RuntimeError(f"allocation {alloc} exceeds GPU {dev} of {self.node_id}")
        self.avail_cpu -= alloc.cpu
        self.avail_memory -= alloc.memory
        for key, units in alloc.custom:
            self.avail_custom[key] -= units
        for dev, units in alloc.gpus:
            self.avail_gpu[dev] -= units

    def release(self, alloc: Allocation) -> None:
        """Give ``alloc`` back to this ledger.

        Raises:
            RuntimeError: the release would leave more free than this ledger holds (checked
                before anything changes, so a bad release leaves the ledger as it was).
        """
        over = self.avail_cpu + alloc.cpu > self.cpu
        over = over or self.avail_memory + alloc.memory > self.memory
        over = over or (
            bool(alloc.custom)
            and any(
                self.avail_custom.get(key, 0) + units > self.custom.get(key, 0)
                for key, units in alloc.custom
            )
        )
        over = over or (
            bool(alloc.gpus)
            and any(
                self.avail_gpu.get(dev, 0) + units > self.gpu_capacity.get(dev, 0)
                for dev, units in alloc.gpus
            )
        )
        if over:
            raise RuntimeError(f"released more than {self.node_id} holds: {alloc}")
        self.avail_cpu += alloc.cpu
        self.avail_memory += alloc.memory
        for key, units in alloc.custom:
            self.avail_custom[key] += units
        for dev, units in alloc.gpus:
            self.avail_gpu[dev] += units

    # -- reporting -------------------------------------------------------------------------

    def total_dict(self) -> dict[str, float]:
        out = {CPU: from_units(self.cpu)}
        if self.gpu_capacity:
            out[GPU] = from_units(sum(self.gpu_capacity.values()))
        if self.memory:
            out[MEMORY] = from_units(self.memory)
        out.update({k: from_units(v) for k, v in self.custom.items()})
        return out

    def available_dict(self) -> dict[str, float]:
        """Available amounts; like Ray, resources with nothing free are left out."""
        out = {
            CPU: from_units(self.avail_cpu),
            GPU: from_units(sum(self.avail_gpu.values())),
            MEMORY: from_units(self.avail_memory),
        }
        out.update({k: from_units(v) for k, v in self.avail_custom.items()})
        return {k: v for k, v in out.items() if v > 0}

    def describe(self) -> str:
        """Short human text of the node's totals, for error messages."""
        return f"{self.node_id} {self.total_dict()}"
