"""Records the runtime state machine keeps: objects, workers, tasks, actors, placement groups,
and the instructions it hands to the I/O side."""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

from caliper.core.resources import Allocation, NodeResources, Request
from caliper.core.specs import ActorSpec, CallSpec, TaskSpec


class WorkerState(enum.Enum):
    STARTING = "STARTING"
    IDLE = "IDLE"
    BUSY = "BUSY"  # running a task
    ACTOR = "ACTOR"  # dedicated to an actor
    DEAD = "DEAD"


class TaskState(enum.Enum):
    WAITING_DEPS = "WAITING_DEPS"
    QUEUED = "QUEUED"  # waiting for resources
    ASSIGNED = "ASSIGNED"  # resources held, waiting for its worker to start
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"


class ActorState(enum.Enum):
    WAITING_DEPS = "WAITING_DEPS"
    QUEUED = "QUEUED"
    STARTING = "STARTING"  # resources held, constructor not finished
    ALIVE = "ALIVE"
    RESTARTING = "RESTARTING"
    DEAD = "DEAD"


class PGState(enum.Enum):
    PENDING = "PENDING"
    CREATED = "CREATED"
    REMOVED = "REMOVED"


class ObjectEntry:
    """A value slot: ``status`` is ``None`` until the producer finishes."""

    __slots__ = ("data", "holds", "released", "status")

    def __init__(self) -> None:
        self.status: int | None = None
        self.data: bytes | None = None
        self.holds = 0  # pending consumers (tasks, calls, actor constructors, remote waits)
        self.released = False  # the driver holds no ObjectRef to it any more


@dataclass(eq=False)
class WorkerEntry:
    worker_id: int
    cuda: str
    state: WorkerState = WorkerState.STARTING
    pid: int | None = None
    known_fns: set[int] = field(default_factory=set)
    task: TaskEntry | None = None
    actor: ActorEntry | None = None
    held: tuple[NodeResources, Allocation] | None = None  # released when the process is gone


@dataclass(eq=False)
class TaskEntry:
    spec: TaskSpec
    retries_left: int
    state: TaskState = TaskState.WAITING_DEPS
    alloc: Allocation | None = None
    ledger: NodeResources | None = None
    worker: WorkerEntry | None = None
    lent_cpu: bool = False  # CPUs handed back while the task blocks in a nested get/wait
    cancelled: bool = False  # caliper.cancel() was called while it ran


@dataclass(eq=False)
class ActorEntry:
    spec: ActorSpec
    restarts_left: int
    state: ActorState = ActorState.WAITING_DEPS
    alloc: Allocation | None = None
    ledger: NodeResources | None = None
    worker: WorkerEntry | None = None
    queue: deque[CallSpec] = field(default_factory=deque)  # not yet sent, in order
    inflight: dict[int, CallSpec] = field(default_factory=dict)  # sent, in order
    handles_released: bool = False


@dataclass(eq=False)
class PGEntry:
    pg_id: int
    bundles: list[Request]
    strategy: object
    ready_obj: int
    state: PGState = PGState.PENDING
    allocs: list[Allocation] = field(default_factory=list)
    ledgers: list[NodeResources] = field(default_factory=list)


@dataclass(eq=False)
class RemoteWait:
    """A worker blocked in ``get``/``wait`` on objects the driver holds."""

    worker_id: int
    req_id: int
    ids: tuple[int, ...]
    needed: int  # how many must be done before replying
    is_get: bool
    fired: bool = False


# -- instructions for the I/O side ---------------------------------------------------------


@dataclass(slots=True)
class Send:
    worker_id: int
    msg: tuple


@dataclass(slots=True)
class StartWorker:
    worker_id: int
    cuda: str


@dataclass(slots=True)
class KillWorker:
    worker_id: int


@dataclass(slots=True)
class InterruptWorker:
    """Interrupt the task running in the worker (it raises ``TaskCancelledError``)."""

    worker_id: int
