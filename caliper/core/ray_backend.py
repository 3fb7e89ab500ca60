"""The backend that runs caliper's tasks, actors and placement groups on a Ray cluster.

Every caliper id maps to a Ray object in the process that made it: an ObjectRef, an actor
handle or a placement group. An id pickled into another process (a ref inside a list, an actor
handle or a placement group passed to a trial) is registered with the driver's hub actor as it
is pickled, and looked up there by the process that receives it. The channel from trials to
the driver (``tune.report``) goes through the same hub. The tuning code above is unchanged:
it cannot tell this backend from the local one.
"""

from __future__ import annotations

import itertools
import secrets

import ray
import ray.exceptions as rex
from ray.util.placement_group import placement_group as ray_placement_group
from ray.util.placement_group import remove_placement_group as ray_remove_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from caliper.core import ray_remote
from caliper.core.backend import Backend
from caliper.core.exceptions import (
    ActorDiedError,
    CaliperError,
    GetTimeoutError,
    SerializationError,
    TaskCancelledError,
    WorkerCrashedError,
)
from caliper.core.protocol import Status
from caliper.core.refs import RefTracker
from caliper.core.resources import Request
from caliper.core.serialization import dumps, pack_exception
from caliper.core.specs import ActorSpec, CallSpec, Placement, TaskSpec

_OK, _RAISED = int(Status.OK), int(Status.RAISED)
_READY = (_OK, dumps(True))  # what a placement group's ready() resolves to
LOOKUP_TIMEOUT_S = 30.0

# what a registered id stands for
_OBJECT, _ACTOR, _GROUP = "object", "actor", "group"


class _Tracker(RefTracker):
    """Counts refs like the local runtime; a ref pickled out of this process is registered
    with the hub so that the receiving process can find it."""

    def __init__(self, on_pin) -> None:
        super().__init__()
        self._on_pin = on_pin

    def pin(self, obj_id: int) -> None:
        if obj_id not in self.pinned:
            super().pin(obj_id)
            self._on_pin(obj_id)


def _options(request: Request, placement: Placement | None, groups) -> dict:
    amounts = request.as_dict()
    options: dict = {
        "num_cpus": amounts.pop("CPU", 0),
        "num_gpus": amounts.pop("GPU", 0),
    }
    if "memory" in amounts:
        options["memory"] = amounts.pop("memory")
    if amounts:
        options["resources"] = amounts
    if placement is not None:
        options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
            groups(placement.pg_id),
            placement_group_bundle_index=placement.bundle_index,
            placement_group_capture_child_tasks=False,
        )
    return options


def ray_error(what: str, exc: BaseException) -> BaseException:
    """The caliper error a Ray error stands for (as the local runtime would raise it)."""
    if isinstance(exc, rex.GetTimeoutError):
        return GetTimeoutError(str(exc))
    if isinstance(exc, rex.TaskCancelledError):
        return TaskCancelledError(f"{what} was cancelled")
    if isinstance(exc, rex.RayActorError):
        return ActorDiedError(what.split(".")[0], f"its Ray actor died ({_first_line(exc)})")
    if isinstance(exc, rex.RayTaskError):  # a task with retry_exceptions raised every time
        cause = getattr(exc, "cause", None) or exc
        return _TaskErrorOf(what, cause)
    if isinstance(exc, rex.RayError):
        return WorkerCrashedError(f"{what} ({_first_line(exc)})", None, None)
    return exc


class _TaskErrorOf(CaliperError):
    """Marks a user exception that must become a TaskError (see :func:`_pair_of_error`)."""

    def __init__(self, what: str, cause: BaseException) -> None:
        super().__init__(what)
        self.what, self.cause = what, cause


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _pair_of_error(what: str, exc: BaseException) -> tuple[int, bytes]:
    err = ray_error(what, exc)
    if isinstance(err, _TaskErrorOf):
        return int(Status.TASK_ERROR), pack_exception(err.what, err.cause)
    try:
        return _RAISED, dumps(err)
    except Exception:
        return _RAISED, dumps(CaliperError(f"{what}: {_first_line(err)}"))


class RayBackend(Backend):
    """See the module docstring. ``driver``: this is the process that called ``init``."""

    counts_actor_handles = True
    owns_ray = False  # the driver called ray.init (and calls ray.shutdown at the end)

    def __init__(self, hub, driver: bool) -> None:
        self.hub = hub
        self.driver = driver
        self._prefix = secrets.randbits(30) << 32
        self._ids = itertools.count(1)
        self._objects: dict[int, ray.ObjectRef] = {}
        self._names: dict[int, str] = {}  # object id -> what produces it (for errors)
        self._actors: dict[int, tuple] = {}  # id -> (ray handle, class name)
        self._groups: dict[int, object] = {}
        self._group_ready: set[int] = set()
        self._killed: set[int] = set()  # actors killed for good from this process
        self._fn_refs: dict[int, ray.ObjectRef] = {}
        self._registered: set[int] = set()
        self._task = ray_remote.remote_task()
        self._host = ray_remote.remote_host()
        self._take = None  # the hub's outstanding take() (driver)
        self._seen = 0  # the number of the last post taken from the hub (driver)
        self._flushed = 0  # posts the hub is known to hold (worker)
        self.posted = 0  # posts this process sent (worker)
        self._received: dict[int, int] = {}  # posts taken per worker (driver)
        self._request_ids = itertools.count(1)
        self.worker_key = self._prefix >> 32
        self.tracker = _Tracker(self._register)
        self.actor_tracker = _Tracker(self._register)

    # -- ids -----

    def new_id(self) -> int:
        return self._prefix | next(self._ids)

    def _register(self, obj_id: int) -> None:
        """``obj_id`` leaves this process pickled: let other processes find it."""
        if obj_id in self._registered:
            return
        if obj_id in self._objects:
            boxed = [_OBJECT, self._objects[obj_id], obj_id in self._group_ready]
        elif obj_id in self._actors:
            boxed = [_ACTOR, *self._actors[obj_id]]
        elif obj_id in self._groups:
            boxed = [_GROUP, self._groups[obj_id]]
        else:
            return
        self._registered.add(obj_id)
        self.hub.register.remote(obj_id, boxed)

    def _lookup(self, obj_id: int, kind: str):
        boxed = ray.get(self.hub.lookup.remote(obj_id, LOOKUP_TIMEOUT_S))
        if boxed is None or boxed[0] != kind:
            raise ValueError(
                f"caliper {kind} {obj_id:016x} is unknown in this process and was never "
                "shared by another (refs, actor handles and placement groups reach other "
                "processes as arguments, inside pickled values, or from get_actor)"
            )
        if kind == _OBJECT:
            self._objects[obj_id] = boxed[1]
            if boxed[2]:
                self._group_ready.add(obj_id)
        elif kind == _ACTOR:
            self._actors[obj_id] = (boxed[1], boxed[2])
        else:
            self._groups[obj_id] = boxed[1]
        self._registered.add(obj_id)
        return boxed[1]

    def _ref(self, obj_id: int) -> ray.ObjectRef:
        ref = self._objects.get(obj_id)
        return ref if ref is not None else self._lookup(obj_id, _OBJECT)

    def _actor(self, actor_id: int):
        entry = self._actors.get(actor_id)
        return entry[0] if entry is not None else self._lookup(actor_id, _ACTOR)

    def _group(self, pg_id: int):
        group = self._groups.get(pg_id)
        return group if group is not None else self._lookup(pg_id, _GROUP)

    def _release(self) -> None:
        if self.tracker.released:
            freed = self.tracker.drain()
            for obj_id in freed:
                self._objects.pop(obj_id, None)
                self._names.pop(obj_id, None)
                self._group_ready.discard(obj_id)
        if self.actor_tracker.released:
            for actor_id in self.actor_tracker.drain():
                self.release_actor(actor_id)

    # -- submissions -----

    def _deps(self, deps: tuple[int, ...]) -> list:
        return [self._ref(d) for d in deps]

    def submit_task(self, spec: TaskSpec) -> None:
        self._release()
        fn_ref = self._fn_refs.get(spec.fn_id)
        if fn_ref is None:
            fn_ref = self._fn_refs[spec.fn_id] = ray.put(spec.fn_blob)
        n = 1 + len(spec.extra_ids)
        options = _options(spec.request, spec.placement, self._group)
        options.update(name=spec.name, num_returns=n, max_retries=spec.max_retries)
        if spec.retry_exceptions:
            options["retry_exceptions"] = True
        out = self._task.options(**options).remote(
            self.hub, spec.name, fn_ref, spec.args_blob, n, spec.retry_exceptions,
            *self._deps(spec.deps),
        )  # fmt: skip
        self._store((spec.obj_id, *spec.extra_ids), out, spec.name)

    def _store(self, ids: tuple[int, ...], out, name: str) -> None:
        outs = out if len(ids) > 1 else [out]
        for obj_id, ref in zip(ids, outs, strict=True):
            self._objects[obj_id] = ref
            self._names[obj_id] = name

    def create_actor(self, spec: ActorSpec) -> None:
        self._release()
        options = _options(spec.request, spec.placement, self._group)
        options["max_restarts"] = spec.max_restarts
        handle = self._host.options(**options).remote(
            self.hub, spec.name, spec.cls_blob, spec.args_blob, *self._deps(spec.deps)
        )
        self._actors[spec.actor_id] = (handle, spec.name)
        self._store((spec.obj_id,), handle.caliper_ready.remote(), f"{spec.name}.__init__")
        if spec.registered_name is not None:
            info = (spec.actor_id, spec.name, dict(spec.methods))
            if not ray.get(self.hub.name_actor.remote(spec.registered_name, info)):
                ray.kill(handle)
                del self._actors[spec.actor_id]
                raise ValueError(f"an actor named {spec.registered_name!r} already exists")
            self._register(spec.actor_id)

    def submit_call(self, spec: CallSpec) -> None:
        self._release()
        n = 1 + len(spec.extra_ids)
        handle = self._actor(spec.actor_id)
        if spec.actor_id in self._killed:
            name = self._actors[spec.actor_id][1]
            died = dumps(ActorDiedError(name, "it was killed with caliper.kill()"))
            for obj_id in (spec.obj_id, *spec.extra_ids):
                self._objects[obj_id] = ray.put((_RAISED, died))
            return
        out = handle.caliper_call.options(num_returns=n).remote(
            spec.method, spec.args_blob, n, *self._deps(spec.deps)
        )
        name = f"{self._actors[spec.actor_id][1]}.{spec.method}"
        self._store((spec.obj_id, *spec.extra_ids), out, name)

    def put(self, obj_id: int, data: bytes, status: int = 0) -> None:
        self._release()
        self._objects[obj_id] = ray.put((status, data))

    def kill_actor(self, actor_id: int, no_restart: bool) -> None:
        ray.kill(self._actor(actor_id), no_restart=no_restart)
        if no_restart:  # Ray kills asynchronously: calls made from now on fail here
            self._killed.add(actor_id)
            self.hub.drop_names.remote(actor_id)

    def cancel(self, obj_id: int, force: bool) -> None:
        ref = self._objects.get(obj_id)
        if ref is None:
            return
        try:
            ray.cancel(ref, force=force)
        except Exception:  # e.g. force=True on an actor call: Ray refuses, nothing to do
            if force:
                ray.cancel(ref, force=False)

    def release_actor(self, actor_id: int) -> None:
        # Ray ends an actor once no process holds its handle; registered ones stay alive
        if actor_id not in self._registered:
            self._actors.pop(actor_id, None)

    def lookup_actor(self, name: str) -> tuple[int, str, dict[str, int]] | None:
        info = ray.get(self.hub.named.remote(name))
        if info is None:
            return None
        if info[0] not in self._actors:
            self._lookup(info[0], _ACTOR)
        return info

    def create_placement_group(self, pg_id, bundles: list[Request], strategy, ready_obj) -> None:
        group = ray_placement_group([b.as_dict() for b in bundles], strategy=strategy.value)
        self._groups[pg_id] = group
        self._objects[ready_obj] = group.ready()
        self._group_ready.add(ready_obj)
        self._names[ready_obj] = "placement group"
        self._register(pg_id)  # trials get their group inside their spec

    def remove_placement_group(self, pg_id: int) -> None:
        group = self._groups.pop(pg_id, None) if self.driver else self._group(pg_id)
        if group is not None:
            ray_remove_group(group)

    # -- results -----

    def _pair(self, obj_id: int, value) -> tuple[int, bytes]:
        if obj_id in self._group_ready:
            return _READY
        if not (isinstance(value, tuple) and len(value) in (2, 4) and type(value[1]) is bytes):
            return _RAISED, dumps(SerializationError("not a caliper value"))
        return value[:2]

    def get(self, ids: list[int], timeout: float | None) -> list[tuple[int, bytes]]:
        self._release()
        ray_refs = [self._ref(i) for i in ids]
        if timeout is not None:
            _, pending = ray.wait(ray_refs, num_returns=len(ray_refs), timeout=timeout)
            if pending:
                raise GetTimeoutError(f"get timed out after {timeout} s")
        try:
            values = ray.get(ray_refs)
            return [self._pair(i, v) for i, v in zip(ids, values, strict=True)]
        except rex.RayError:
            pass
        out = []
        for obj_id, ref in zip(ids, ray_refs, strict=True):
            try:
                out.append(self._pair(obj_id, ray.get(ref)))
            except rex.RayError as exc:
                out.append(_pair_of_error(self._names.get(obj_id, "a remote call"), exc))
        return out

    def wait(self, ids: list[int], num_returns: int, timeout: float | None) -> set[int]:
        self._release()
        by_ref = {self._ref(i): i for i in ids}
        ready, _ = ray.wait(list(by_ref), num_returns=num_returns, timeout=timeout)
        return {by_ref[r] for r in ready}

    def resources(self) -> tuple[dict[str, float], dict[str, float]]:
        return ray.cluster_resources(), ray.available_resources()

    def gpu_ids(self) -> list[int | str]:
        return list(ray.get_gpu_ids())

    # -- the channel -----

    def post(self, data: bytes, timeout: float | None) -> object:
        self.posted += 1
        request = next(self._request_ids)
        ref = self.hub.ask.remote(self.worker_key, self.posted, request, data)
        try:
            return ray.get(ref, timeout=timeout)
        except rex.GetTimeoutError:
            self.hub.forget.remote(self.worker_key, request)
            raise GetTimeoutError(f"no answer from the driver within {timeout} s") from None

    def post_nowait(self, data: bytes) -> None:
        self.posted += 1
        self.hub.post.remote(self.worker_key, self.posted, data)

    def flush_posts(self) -> None:
        """Wait until the hub holds every post this process sent."""
        if self._flushed < self.posted:
            ray.get(self.hub.holds.remote(self.worker_key, self.posted))
            self._flushed = self.posted

    def receive(self, ids: list[int], timeout: float | None) -> tuple[list[tuple], set[int]]:
        self._release()
        if self._take is None:
            self._take = self.hub.take.remote(self._seen)
        by_ref = {self._ref(i): i for i in ids}
        waiting = [self._take, *by_ref]
        ready, _ = ray.wait(waiting, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(waiting, num_returns=len(waiting), timeout=0)
        posts: list[tuple] = []
        if self._take in ready:
            posts = self._unseen(ray.get(self._take))
            self._take = None
        done_refs = [r for r in ready if r in by_ref]
        if done_refs:  # what an ended call posted is taken before its end is reported
            for value in self._values(done_refs):
                if isinstance(value, tuple) and len(value) == 4:
                    worker, count = value[2], value[3]
                    if self._received.get(worker, 0) < count:
                        more = self.hub.take_from.remote(self._seen, worker, count, 60.0)
                        posts += self._unseen(ray.get(more))
        return posts, {by_ref[r] for r in done_refs}

    @staticmethod
    def _values(done_refs: list) -> list:
        """The values of finished refs; ``None`` for those that failed in Ray."""
        try:
            return ray.get(done_refs)
        except rex.RayError:
            pass
        out = []
        for ref in done_refs:
            try:
                out.append(ray.get(ref))
            except rex.RayError:
                out.append(None)
        return out

    def _unseen(self, numbered: list[tuple]) -> list[tuple]:
        fresh = [p[1:] for p in numbered if p[0] > self._seen]
        if numbered:
            self._seen = max(self._seen, numbered[-1][0])
        received = self._received
        for post in fresh:
            received[post[0]] = received.get(post[0], 0) + 1
        return fresh

    def answer(self, answers: list[tuple[int, int, object]]) -> None:
        self.hub.answer.remote(answers)

    # -- the end -----

    def shutdown(self) -> None:
        if not self.driver:
            raise RuntimeError("caliper.shutdown() can only be called in the driver process")
        for handle, _ in list(self._actors.values()):
            try:
                ray.kill(handle)
            except Exception:
                pass
        for group in list(self._groups.values()):
            try:
                ray_remove_group(group)
            except Exception:
                pass
        try:
            ray.kill(self.hub)
        except Exception:
            pass
        self._actors.clear()
        self._groups.clear()
        self._objects.clear()
        self._take = None
        from caliper.core import refs

        refs.set_tracker(None)
        if self.owns_ray:
            ray.shutdown()

    def nodes(self) -> list[dict]:
        return ray.nodes()


def start_hub():
    """Start the driver's hub actor (no CPU, on the driver's node: it lives and dies with the
    driver's own node, never with a node that runs trials). Returns at once: the first call
    that needs it waits for it, so it starts while the experiment gets ready."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    # hard affinity: Ray places an actor that asks for no CPU anywhere when the affinity is soft
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return (
        ray_remote.remote_hub()
        .options(num_cpus=0, max_concurrency=10_000, scheduling_strategy=here)
        .remote()
    )
