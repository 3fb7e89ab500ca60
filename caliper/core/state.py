"""The runtime's state machine: events in, instructions out, no I/O.

The I/O side (:mod:`caliper.core.local_backend`) calls one method per event (a submission from
user code, a message or the death of a worker) while holding the runtime lock, then carries
out what accumulated in :attr:`RuntimeState.out` (send a message, start or kill a worker).
Because nothing here touches a process or a socket, the whole lifecycle (retries, restarts,
ordering, resource accounting) is tested with plain method calls.
"""

from __future__ import annotations

import pickle
from collections import deque

from caliper.core import placement
from caliper.core.cancellation import Cancellation, cancelled_error
from caliper.core.entities import (
    ActorEntry,
    ActorState,
    KillWorker,
    ObjectEntry,
    PGEntry,
    PGState,
    Send,
    StartWorker,
    TaskEntry,
    TaskState,
    WorkerEntry,
    WorkerState,
)
from caliper.core.exceptions import (
    ActorDiedError,
    InfeasibleRequestError,
    WorkerCrashedError,
    describe_exit,
)
from caliper.core.feasibility import check_in_group, infeasible_reason
from caliper.core.group_events import PlacementGroupEvents
from caliper.core.nested import NestedRequests
from caliper.core.objects import ObjectTable
from caliper.core.protocol import Msg, Status
from caliper.core.resources import NodeResources, Request, from_units
from caliper.core.serialization import dumps, error_text
from caliper.core.specs import ActorSpec, CallSpec, Placement, TaskSpec
from caliper.core.worker_pool import WorkerPool

_TASK, _CREATE, _CALL, _EXIT = Msg.TASK, Msg.CREATE_ACTOR, Msg.CALL, Msg.EXIT
_IDLE_SPIN_S = 0.005  # longest an actor's worker polls for its next call, with a CPU to spare
_OK, _RAISED, _TASK_ERROR = int(Status.OK), int(Status.RAISED), int(Status.TASK_ERROR)


class RuntimeState(NestedRequests, Cancellation, PlacementGroupEvents):
    """All control state of one runtime (see the module docstring).

    Args:
        nodes: the nodes' ledgers (the local runtime has one).
        gpu_names: for each device index of node 0, the id to put in ``CUDA_VISIBLE_DEVICES``.
        max_idle_workers: idle task workers kept for reuse; more are stopped.
    """

    def __init__(
        self,
        nodes: list[NodeResources],
        gpu_names: list[str],
        max_idle_workers: int,
        cores: float = 0.0,
    ) -> None:
        self.nodes = nodes
        self.cores = cores  # the machine's CPUs (not the logical ones scheduled on)
        self.gpu_names = gpu_names
        self.objs = ObjectTable()
        self.tasks: dict[int, TaskEntry] = {}
        self.actors: dict[int, ActorEntry] = {}
        self.pgs: dict[int, PGEntry] = {}
        self.named_actors: dict[str, int] = {}
        # work waiting for resources, one FIFO per (request, placement) shape
        self.queues: dict[tuple, deque[TaskEntry | ActorEntry]] = {}
        self.pg_queue: deque[PGEntry] = deque()
        self.out: list[Send | StartWorker | KillWorker] = []
        self.pool = WorkerPool(self.out, max_idle_workers)
        self.workers = self.pool.workers
        self.completed = False  # set when any object finished; the I/O side clears it
        self.inbox: deque[tuple[int, int, bytes]] = deque()  # posts: (worker, request, data)
        self.inbox_waiting = 0  # posts in the inbox whose workers wait for an answer
        self._scheduling = False
        self._reschedule = False
        self._feasible: set[Request] = set()
        self.dead_actors: dict[int, tuple[str, str]] = {}  # id -> (name, death reason)

    def cpu_to_spare(self) -> bool:
        """Whether the tasks and actors running (and placement groups) hold at least one CPU
        fewer than the machine has: then the driver and an actor waiting for its next call
        may poll instead of sleeping (a wake-up costs 0.05-0.3 ms on a virtual machine, and
        a CPU that went idle comes back slower), without taking time from what runs."""
        held = sum(node.cpu - node.avail_cpu for node in self.nodes)
        return from_units(held) + 1 <= self.cores

    # -- objects ---------------------------------------------------------------------------

    @property
    def objects(self) -> dict[int, ObjectEntry]:
        return self.objs.entries

    def _finish(self, obj_id: int, status: int, data: bytes | None) -> None:
        told = self.objs.finish(obj_id, status, data)
        if told is None:
            return
        self.completed = True
        waiters, satisfied = told
        for waiter in waiters:
            self._dep_done(waiter)
        for wait in satisfied:
            self._reply_wait(wait)

    def _fail(self, obj_id: int, error: BaseException) -> None:
        self._finish(obj_id, _RAISED, dumps(error))

    def _end(self, spec: TaskSpec | CallSpec, status: int, data: bytes) -> None:
        """Finish every object a task or call returns: with ``num_returns`` > 1 a success
        carries one pickled value per object; an error ends them all."""
        if not spec.extra_ids:
            self._finish(spec.obj_id, status, data)
            return
        ids = (spec.obj_id, *spec.extra_ids)
        parts = pickle.loads(data) if status == _OK else [data] * len(ids)
        for obj_id, part in zip(ids, parts, strict=True):
            self._finish(obj_id, status, part)

    def fail(self, obj_id: int, error: BaseException) -> None:
        """End ``obj_id`` with ``error`` (raised as is at ``get``)."""
        self.objs.new(obj_id)
        self._fail(obj_id, error)

    def is_done(self, obj_id: int) -> bool:
        return self.objs.is_done(obj_id)

    def result(self, obj_id: int) -> tuple[int, bytes]:
        return self.objs.result(obj_id)

    def put(self, obj_id: int, data: bytes, status: int = _OK) -> None:
        self.objs.new(obj_id)
        self._finish(obj_id, status, data)

    def release_objects(self, obj_ids: list[int]) -> None:
        """The driver dropped its last ref to these ids: free them once nothing needs them."""
        self.objs.release(obj_ids)

    def _dep_done(self, waiter: object) -> None:
        if isinstance(waiter, TaskEntry):
            if waiter.state is TaskState.WAITING_DEPS and self.objs.all_done(waiter.spec.deps):
                self._enqueue(waiter)
        elif isinstance(waiter, ActorEntry):
            if waiter.state is ActorState.WAITING_DEPS and self.objs.all_done(waiter.spec.deps):
                self._enqueue(waiter)
            elif waiter.state is ActorState.ALIVE:
                self._pump(waiter)

    # -- feasibility -----------------------------------------------------------------------

    def check_feasible(self, request: Request, where: Placement | None) -> None:
        """Raise at submission for a request that could never be satisfied."""
        if where is None:
            if request in self._feasible:  # node totals never change
                return
            reason = infeasible_reason(self.nodes, [request])
            if not reason:
                self._feasible.add(request)
        else:
            pg = self.pgs.get(where.pg_id)
            if pg is None:
                raise ValueError("placement_group: this placement group has been removed")
            reason = check_in_group(pg.bundles, request, where.bundle_index)
        if reason:
            raise InfeasibleRequestError(reason)

    # -- tasks -----------------------------------------------------------------------------

    def submit_task(self, spec: TaskSpec) -> None:
        self.check_feasible(spec.request, spec.placement)
        for obj_id in (spec.obj_id, *spec.extra_ids):
            self.objs.new(obj_id)
        task = TaskEntry(spec=spec, retries_left=spec.max_retries)
        self.tasks[spec.obj_id] = task
        if self.objs.await_deps(task, spec.deps):
            self._enqueue(task)

    def _enqueue(self, item: TaskEntry | ActorEntry) -> None:
        if isinstance(item, TaskEntry):
            item.state = TaskState.QUEUED
        else:
            item.state = ActorState.QUEUED
        key = _shape(item)
        queue = self.queues.get(key)
        if queue is None:
            if self._try_place(item):
                return
            queue = self.queues[key] = deque()
        queue.append(item)

    def _dequeue(self, item: TaskEntry | ActorEntry) -> None:
        key = _shape(item)
        queue = self.queues[key]
        queue.remove(item)
        if not queue:
            del self.queues[key]

    def _start_task(self, task: TaskEntry, worker: WorkerEntry) -> None:
        spec = task.spec
        deps = self.objs.values(spec.deps)
        if isinstance(deps, tuple):  # a dependency failed: so does this task
            self._end_task(task)
            self.pool.make_idle(worker)
            self._end(spec, *deps)
            self.schedule()
            return
        task.state = TaskState.RUNNING
        task.worker = worker
        worker.state = WorkerState.BUSY
        worker.task = task
        blob = None
        if spec.fn_id not in worker.known_fns:
            worker.known_fns.add(spec.fn_id)
            blob = spec.fn_blob
        n_returns = 1 + len(spec.extra_ids)
        msg = (_TASK, spec.obj_id, spec.fn_id, blob, spec.args_blob, deps, n_returns)
        self.out.append(Send(worker.worker_id, msg))

    def _end_task(self, task: TaskEntry) -> None:
        task.state = TaskState.FINISHED
        self.tasks.pop(task.spec.obj_id, None)
        self._release(task)
        self.objs.unhold(task.spec.deps)

    def _release(self, item: TaskEntry | ActorEntry) -> None:
        if isinstance(item, TaskEntry):
            self._reclaim_cpu(item)
        if item.alloc is not None:
            item.ledger.release(item.alloc)
            item.alloc = item.ledger = None

    # -- actors ----------------------------------------------------------------------------

    def create_actor(self, spec: ActorSpec) -> None:
        self.check_feasible(spec.request, spec.placement)
        if spec.registered_name is not None:
            if spec.registered_name in self.named_actors:
                raise ValueError(f"name: an actor named {spec.registered_name!r} already exists")
            self.named_actors[spec.registered_name] = spec.actor_id
        self.objs.new(spec.obj_id)
        actor = ActorEntry(spec=spec, restarts_left=spec.max_restarts)
        self.actors[spec.actor_id] = actor
        if self.objs.await_deps(actor, spec.deps):
            self._enqueue(actor)

    def _start_actor(self, actor: ActorEntry, worker: WorkerEntry) -> None:
        spec = actor.spec
        deps = self.objs.values(spec.deps)
        if isinstance(deps, tuple):
            actor.worker = None
            self._finish(spec.obj_id, *deps)
            self._actor_dead(actor, "a constructor argument failed")
            self.pool.make_idle(worker)
            return
        actor.state = ActorState.STARTING
        actor.worker = worker
        worker.state = WorkerState.ACTOR
        worker.actor = actor
        self.out.append(
            Send(worker.worker_id, (_CREATE, spec.obj_id, spec.cls_blob, spec.args_blob, deps))
        )

    def submit_call(self, spec: CallSpec) -> None:
        for obj_id in (spec.obj_id, *spec.extra_ids):
            self.objs.new(obj_id)
        actor = self.actors.get(spec.actor_id)
        if actor is None:
            name, reason = self.dead_actors.get(spec.actor_id, (f"#{spec.actor_id}", "unknown"))
            self._end(spec, _RAISED, dumps(ActorDiedError(name, reason)))
            return
        if spec.deps:
            self.objs.await_deps(actor, spec.deps)
        actor.queue.append(spec)
        if actor.state is ActorState.ALIVE:
            self._pump(actor)

    def _pump(self, actor: ActorEntry) -> None:
        """Send queued calls in order, stopping at the first whose arguments are not ready."""
        if actor.state is not ActorState.ALIVE:
            return
        queue = actor.queue
        wid = actor.worker.worker_id
        spin = _IDLE_SPIN_S if queue and self.cpu_to_spare() else 0.0
        while queue:
            call = queue[0]
            deps: list | tuple = []
            if call.deps:
                if not self.objs.all_done(call.deps):
                    return
                deps = self.objs.values(call.deps)
                self.objs.unhold(call.deps)
            queue.popleft()
            if isinstance(deps, tuple):
                self._end(call, *deps)
                continue
            actor.inflight[call.obj_id] = call
            n = 1 + len(call.extra_ids)
            self.out.append(
                Send(wid, (_CALL, call.obj_id, call.method, call.args_blob, deps, n, spin))
            )
        if actor.handles_released and not actor.inflight:
            self._retire(actor, "all handles to it went out of scope")

    def _actor_done(self, actor: ActorEntry, obj_id: int, status: int, data: bytes) -> None:
        if obj_id == actor.spec.obj_id and actor.state is ActorState.STARTING:
            if status != _OK:
                self._actor_dead(actor, f"its constructor raised {error_text(status, data)}")
                self.pool.kill(actor.worker)
                self._finish(obj_id, status, data)
                return
            actor.state = ActorState.ALIVE
            self._finish(obj_id, status, data)
            self._pump(actor)
            return
        call = actor.inflight.pop(obj_id, None)
        if call is not None:
            self._end(call, status, data)
            if actor.handles_released and not actor.inflight and not actor.queue:
                self._retire(actor, "all handles to it went out of scope")

    def _actor_dead(self, actor: ActorEntry, reason: str) -> None:
        """Mark ``actor`` dead for good and fail every call it still owes."""
        if actor.state is ActorState.DEAD:
            return
        self.objs.unhold(actor.spec.deps)  # held until now: a restart needs them again
        if actor.state is ActorState.QUEUED:
            self._dequeue(actor)
        actor.state = ActorState.DEAD
        self.actors.pop(actor.spec.actor_id, None)
        self.dead_actors[actor.spec.actor_id] = (actor.spec.name, reason)
        worker = actor.worker
        if worker is not None and worker.worker_id in self.workers and actor.alloc is not None:
            # the process may still hold memory on its devices: free them when it is gone
            worker.held = (actor.ledger, actor.alloc)
            actor.alloc = actor.ledger = None
        self._release(actor)
        if self.named_actors.get(actor.spec.registered_name) == actor.spec.actor_id:
            del self.named_actors[actor.spec.registered_name]
        error = dumps(ActorDiedError(actor.spec.name, reason))
        self._finish(actor.spec.obj_id, _RAISED, error)
        for call in actor.inflight.values():
            self._end(call, _RAISED, error)
        for call in actor.queue:
            if call.deps:
                self.objs.unhold(call.deps)
            self._end(call, _RAISED, error)
        actor.inflight.clear()
        actor.queue.clear()
        self.schedule()

    def _retire(self, actor: ActorEntry, reason: str) -> None:
        worker = actor.worker
        self._actor_dead(actor, reason)
        if worker is not None and worker.state is not WorkerState.DEAD:
            self.out.append(Send(worker.worker_id, (_EXIT,)))

    def kill_actor(self, actor_id: int, no_restart: bool = True) -> None:
        actor = self.actors.get(actor_id)
        if actor is None:
            return
        worker = actor.worker
        if no_restart:
            self._actor_dead(actor, "it was killed by caliper.kill()")
        elif worker is not None:
            self._actor_lost(actor, "it was killed by caliper.kill(no_restart=False)")
        if worker is not None:
            self.pool.kill(worker)

    def lookup_actor(self, name: str) -> tuple[int, str, dict[str, int]] | None:
        actor_id = self.named_actors.get(name)
        if actor_id is None:
            return None
        spec = self.actors[actor_id].spec
        return actor_id, spec.name, spec.methods

    def release_actor(self, actor_id: int) -> None:
        """Every handle to the actor is gone: it ends once the calls it owes are answered."""
        actor = self.actors.get(actor_id)
        if actor is None:
            return
        actor.handles_released = True
        if actor.state is ActorState.ALIVE and not actor.inflight and not actor.queue:
            self._retire(actor, "all handles to it went out of scope")
        elif actor.state in (ActorState.WAITING_DEPS, ActorState.QUEUED) and not actor.queue:
            self._actor_dead(actor, "all handles to it went out of scope")

    # -- scheduling ------------------------------------------------------------------------

    def schedule(self) -> None:
        """Reserve pending placement groups, then start whatever queued work now fits.

        Re-entrant calls (placing one item can end another) only ask for one more pass.
        """
        if self._scheduling:
            self._reschedule = True
            return
        if not self.queues and not self.pg_queue:
            return
        self._scheduling = True
        try:
            self._reschedule = True
            while self._reschedule:
                self._reschedule = False
                self._schedule_pass()
        finally:
            self._scheduling = False

    def _schedule_pass(self) -> None:
        while self.pg_queue:
            pg = self.pg_queue[0]
            allocs = placement.place_bundles(self.nodes, pg.bundles, pg.strategy)
            if allocs is None:
                break
            self.pg_queue.popleft()
            for alloc in allocs:
                self.nodes[alloc.node_index].acquire(alloc)
            pg.allocs = allocs
            pg.ledgers = [NodeResources.for_bundle(f"bundle {i}", a) for i, a in enumerate(allocs)]
            pg.state = PGState.CREATED
            self._finish(pg.ready_obj, _OK, dumps(True))
        for key, queue in list(self.queues.items()):
            while queue and self._try_place(queue[0]):
                queue.popleft()
            if not queue:
                del self.queues[key]

    def _try_place(self, item: TaskEntry | ActorEntry) -> bool:
        where = item.spec.placement
        request = item.spec.request
        if where is None:
            alloc = placement.place_request(self.nodes, request)
            if alloc is None:
                return False
            ledger = self.nodes[alloc.node_index]
        else:
            pg = self.pgs.get(where.pg_id)
            if pg is None or pg.state is not PGState.CREATED:
                return False
            indexes = range(len(pg.ledgers)) if where.bundle_index == -1 else [where.bundle_index]
            alloc = ledger = None
            for i in indexes:
                alloc = pg.ledgers[i].plan(request)
                if alloc is not None:
                    ledger = pg.ledgers[i]
                    break
            if alloc is None:
                return False
        ledger.acquire(alloc)
        item.alloc = alloc
        item.ledger = ledger
        item.worker = None
        cuda = ",".join(self.gpu_names[d] for d in alloc.gpu_ids) if alloc.gpus else ""
        worker = self.pool.take(cuda)
        if isinstance(item, TaskEntry):
            item.state = TaskState.ASSIGNED
            if worker.state is WorkerState.IDLE:
                self._start_task(item, worker)
            else:
                worker.task = item
                item.worker = worker
        else:
            item.state = ActorState.STARTING
            if worker.state is WorkerState.IDLE:
                self._start_actor(item, worker)
            else:
                worker.actor = item
                item.worker = worker
        return True

    # -- workers ---------------------------------------------------------------------------

    def worker_connected(self, worker_id: int, pid: int) -> None:
        worker = self.workers.get(worker_id)
        if worker is None:
            return
        worker.pid = pid
        if worker.state is not WorkerState.STARTING:
            return
        task, actor = worker.task, worker.actor
        if task is not None and task.state is TaskState.ASSIGNED:
            self._start_task(task, worker)
        elif actor is not None and actor.state is ActorState.STARTING and actor.worker is worker:
            self._start_actor(actor, worker)
        else:
            self.pool.make_idle(worker)
            self.schedule()

    def worker_done(self, worker_id: int, obj_id: int, status: int, data: bytes) -> None:
        worker = self.workers.get(worker_id)
        if worker is None:
            return
        actor = worker.actor
        if actor is not None:
            self._actor_done(actor, obj_id, status, data)
            return
        task = worker.task
        if task is None or task.spec.obj_id != obj_id:
            return
        if worker.state is WorkerState.BUSY:
            self.pool.make_idle(worker)  # first, so work this result unblocks can reuse it
        if status != _OK and task.cancelled:
            status, data = _RAISED, dumps(cancelled_error(task.spec.name))
        if status == _TASK_ERROR and task.spec.retry_exceptions and task.retries_left != 0:
            task.retries_left -= 1
            self._requeue(task)
        else:
            self._end_task(task)
            self._end(task.spec, status, data)
        self.schedule()

    def _requeue(self, task: TaskEntry) -> None:
        self._release(task)
        task.worker = None
        task.state = TaskState.QUEUED
        self.queues.setdefault(_shape(task), deque()).appendleft(task)

    def worker_died(self, worker_id: int, exitcode: int | None) -> None:
        """The worker's process is gone (``exitcode`` negative: killed by that signal)."""
        worker = self.pool.gone(worker_id)
        if worker is None:
            return
        if worker.held is not None:
            ledger, alloc = worker.held
            worker.held = None
            ledger.release(alloc)
        self.objs.drop_waits_of(worker_id)
        task, actor = worker.task, worker.actor
        if task is not None and task.state is not TaskState.FINISHED:
            if task.cancelled:
                self._end_task(task)
                self._end(task.spec, _RAISED, dumps(cancelled_error(task.spec.name)))
            elif task.retries_left != 0:
                task.retries_left -= 1
                self._requeue(task)
            else:
                self._end_task(task)
                crash = WorkerCrashedError(task.spec.name, worker.pid, exitcode)
                self._end(task.spec, _RAISED, dumps(crash))
        if actor is not None and actor.worker is worker and actor.state is not ActorState.DEAD:
            self._actor_lost(
                actor, f"its worker (pid {worker.pid}) died: {describe_exit(exitcode)}"
            )
        self.schedule()

    def _actor_lost(self, actor: ActorEntry, reason: str) -> None:
        """The actor's process is gone or going: fail the calls it was running, then start a
        fresh instance if restarts are left (queued calls go to it), else it is dead."""
        error = dumps(ActorDiedError(actor.spec.name, reason))
        for call in actor.inflight.values():
            self._end(call, _RAISED, error)
        actor.inflight.clear()
        if actor.restarts_left == 0:
            self._actor_dead(actor, reason)
            return
        actor.restarts_left -= 1
        actor.state = ActorState.STARTING
        replacement = self.pool.take(actor.worker.cuda)
        actor.worker = replacement
        if replacement.state is WorkerState.IDLE:
            self._start_actor(actor, replacement)
        else:
            replacement.actor = actor


def _shape(item: TaskEntry | ActorEntry) -> tuple:
    where = item.spec.placement
    return (item.spec.request, None if where is None else (where.pg_id, where.bundle_index))
