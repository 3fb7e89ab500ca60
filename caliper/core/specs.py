"""What the API layer hands to a backend: plain data describing one submission."""

from __future__ import annotations

from dataclasses import dataclass, field

from caliper.core.resources import Request


@dataclass(slots=True)
class Placement:
    """Where a task or actor must run: a placement-group bundle (-1: any bundle of the group)."""

    pg_id: int
    bundle_index: int = -1


@dataclass(slots=True)
class TaskSpec:
    obj_id: int
    fn_id: int
    fn_blob: bytes
    name: str
    args_blob: bytes
    deps: tuple[int, ...]
    request: Request
    placement: Placement | None = None
    max_retries: int = 3
    retry_exceptions: bool = False
    extra_ids: tuple[int, ...] = ()  # objects 2..n of num_returns=n


@dataclass(slots=True)
class ActorSpec:
    actor_id: int
    obj_id: int  # resolved when the constructor has run
    cls_blob: bytes
    name: str
    args_blob: bytes
    deps: tuple[int, ...]
    request: Request
    placement: Placement | None = None
    max_restarts: int = 0
    registered_name: str | None = None
    methods: dict[str, int] = field(default_factory=dict)  # name -> num_returns


@dataclass(slots=True)
class CallSpec:
    obj_id: int
    actor_id: int
    method: str
    args_blob: bytes
    deps: tuple[int, ...]
    extra_ids: tuple[int, ...] = ()  # objects 2..n of num_returns=n


class Dep:
    """Stands in the pickled arguments for a top-level ``ObjectRef`` argument; the worker puts
    the value of dependency number ``index`` in its place."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __reduce__(self):
        return (Dep, (self.index,))
