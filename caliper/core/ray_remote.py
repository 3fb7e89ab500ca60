"""What runs inside the Ray cluster for the Ray backend: the hub actor, the task wrapper and
the actor host.

Values travel as caliper's ``(Status, bytes)`` pairs, stored as Ray objects, so ``get`` turns
them into values or typed errors exactly as on the local runtime. Code running in a Ray worker
gets a :class:`~caliper.core.ray_backend.RayBackend` of its own (installed by the wrappers
below before any user code runs), so nested calls and ``tune.report`` work there too.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import types

import ray

from caliper.core import context, refs
from caliper.core.exceptions import ActorDiedError
from caliper.core.protocol import Status
from caliper.core.serialization import dumps, dumps_fast, error_text, loads, pack_exception
from caliper.core.specs import Dep
from caliper.core.worker import split_returns

_OK, _TASK_ERROR, _RAISED = int(Status.OK), int(Status.TASK_ERROR), int(Status.RAISED)
_PICKLE = pickle.HIGHEST_PROTOCOL


class Hub:
    """One async actor per driver: the inbox of the driver's channel (posts from workers and
    the driver's answers) and the registry of ids used by more than one process (pickled refs,
    placement groups, named actors)."""

    def __init__(self) -> None:
        self.posts: list[tuple[int, int, int, bytes]] = []  # (number, worker, request, data)
        self.numbered = 0
        self.counts: dict[int, int] = {}  # posts taken in per worker (all up to this number)
        self.early: dict[int, dict[int, tuple[int, bytes]]] = {}  # worker -> number -> post
        self.answers: dict[tuple[int, int], asyncio.Future] = {}
        self.ids: dict[int, list] = {}
        self.names: dict[str, tuple] = {}
        self._posted: asyncio.Event | None = None
        self._registered: asyncio.Condition | None = None

    def _event(self) -> asyncio.Event:
        if self._posted is None:
            self._posted = asyncio.Event()
        return self._posted

    def _push(self, worker: int, number: int, request: int, data: bytes) -> None:
        """Take in ``worker``'s ``number``-th post. Ray may run one caller's calls to an async
        actor out of order, so a post that comes before an earlier one waits for it: the
        driver sees each worker's posts in the order they were sent."""
        early = self.early.setdefault(worker, {})
        early[number] = (request, data)
        count = self.counts.get(worker, 0)
        while count + 1 in early:
            count += 1
            self.numbered += 1
            self.posts.append((self.numbered, worker, *early.pop(count)))
        self.counts[worker] = count
        if not early:
            del self.early[worker]
        self._event().set()

    # -- the channel -----

    async def post(self, worker: int, number: int, data: bytes) -> None:
        self._push(worker, number, 0, data)

    async def ask(self, worker: int, number: int, request: int, data: bytes) -> object:
        future = asyncio.get_running_loop().create_future()
        self.answers[(worker, request)] = future
        self._push(worker, number, request, data)
        return await future

    async def holds(self, worker: int, count: int) -> None:
        """Returns once ``worker``'s first ``count`` posts are all here."""
        event = self._event()
        while self.counts.get(worker, 0) < count:
            event.clear()
            await event.wait()

    async def forget(self, worker: int, request: int) -> None:
        future = self.answers.pop((worker, request), None)
        if future is not None and not future.done():
            future.cancel()

    def _after(self, seen: int) -> list[tuple[int, int, int, bytes]]:
        """The posts numbered above ``seen`` (the driver has those up to ``seen``: dropped)."""
        if self.posts and self.posts[0][0] <= seen:
            self.posts = [p for p in self.posts if p[0] > seen]
        return list(self.posts)

    async def take_now(self, seen: int) -> list[tuple[int, int, int, bytes]]:
        """The posts the driver has not seen (maybe none), at once."""
        return self._after(seen)

    async def take_from(
        self, seen: int, worker: int, count: int, timeout: float
    ) -> list[tuple[int, int, int, bytes]]:
        """The posts the driver has not seen, once ``worker``'s ``count``-th post is here
        (or ``timeout`` passed): a call's result said it posted that many before it ended."""
        event = self._event()
        deadline = asyncio.get_running_loop().time() + timeout
        while self.counts.get(worker, 0) < count:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), left)
            except asyncio.TimeoutError:
                break
        return self._after(seen)

    async def take(self, seen: int) -> list[tuple[int, int, int, bytes]]:
        """The posts the driver has not seen, oldest first; waits until there is one. A post
        stays until the driver says it saw it, so two takes in flight lose nothing."""
        event = self._event()
        while not self._after(seen):
            event.clear()
            await event.wait()
        return self._after(seen)

    async def answer(self, answers: list[tuple[int, int, object]]) -> None:
        for worker, request, value in answers:
            future = self.answers.pop((worker, request), None)
            if future is not None and not future.done():
                future.set_result(value)

    # -- the registry -----

    def _condition(self) -> asyncio.Condition:
        if self._registered is None:
            self._registered = asyncio.Condition()
        return self._registered

    async def register(self, obj_id: int, boxed: list) -> None:
        """``boxed``: ``[kind, ray object]`` (a list, so Ray does not resolve a ref in it)."""
        self.ids.setdefault(obj_id, boxed)
        async with self._condition():
            self._condition().notify_all()

    async def lookup(self, obj_id: int, timeout: float) -> list | None:
        """What ``obj_id`` stands for; waits up to ``timeout`` for its registration (the
        process that pickled it registers it as it sends it)."""
        condition = self._condition()
        try:
            async with condition:
                await asyncio.wait_for(
                    condition.wait_for(lambda: obj_id in self.ids), timeout=timeout
                )
        except asyncio.TimeoutError:
            return None
        return self.ids[obj_id]

    async def unregister(self, obj_ids: list[int]) -> None:
        for obj_id in obj_ids:
            self.ids.pop(obj_id, None)

    async def name_actor(self, name: str, info: tuple) -> bool:
        """Register a named actor; False if the name is taken by a live one."""
        if name in self.names:
            return False
        self.names[name] = info
        return True

    async def named(self, name: str) -> tuple | None:
        return self.names.get(name)

    async def drop_names(self, actor_id: int) -> None:
        for name in [n for n, info in self.names.items() if info[0] == actor_id]:
            del self.names[name]


def worker_backend(hub) -> None:
    """Install this Ray worker's backend (once per process)."""
    if context.peek() is None:
        from caliper.core.ray_backend import RayBackend

        backend = RayBackend(hub, driver=False)
        context.set_backend(backend)
        refs.set_tracker(backend.tracker)


def _arguments(args_blob: bytes, deps: tuple) -> tuple[tuple, dict] | tuple[int, bytes]:
    """The call's arguments with dependency values in place, or the ``(status, data)`` of a
    dependency that failed (the call fails with it, as on the local runtime)."""
    args, kwargs = loads(args_blob)
    if deps:
        for status, data in deps:
            if status != _OK:
                return status, data
        values = [loads(data) for _, data in deps]
        args = tuple(values[a.index] if type(a) is Dep else a for a in args)
        kwargs = {k: values[v.index] if type(v) is Dep else v for k, v in kwargs.items()}
    return args, kwargs


def _finish(name: str, result: object, n: int) -> object:
    """``(status, data)`` of a result (``n`` of them for ``num_returns=n``)."""
    try:
        if n == 1:
            return _OK, dumps_fast(result)
        values = split_returns(result, n, name)
        return tuple((_OK, dumps_fast(v)) for v in values)
    except Exception as exc:
        return _failed(name, exc, n)


def _failed(name: str, exc: BaseException, n: int) -> object:
    pair = (_TASK_ERROR, pack_exception(name, exc))
    return pair if n == 1 else (pair,) * n


def _call(name: str, fn, args_blob: bytes, deps: tuple, n: int, loop_of=None) -> object:
    backend = context.current()
    before = backend.posted
    try:
        out = _run(name, fn, args_blob, deps, n, loop_of)
    except BaseException:
        backend.flush_posts()
        raise
    return _mark(backend, before, out, n)


def _mark(backend, before: int, out: object, n: int) -> object:
    """What the call posted must reach the driver before its result does: a single result
    carries this worker's post count, and the driver collects posts up to it from the hub
    before it reports the call done (no wait here); several results wait for the hub."""
    if backend.posted == before:
        return out
    if n == 1:
        return (*out, backend.worker_key, backend.posted)
    backend.flush_posts()
    return out


def _run(name: str, fn, args_blob: bytes, deps: tuple, n: int, loop_of=None) -> object:
    try:
        prepared = _arguments(args_blob, deps)
        if isinstance(prepared[0], int):  # a dependency failed
            return prepared if n == 1 else (prepared,) * n
        args, kwargs = prepared
        result = fn(*args, **kwargs)
        if isinstance(result, types.CoroutineType):
            result = loop_of().run_until_complete(result)
    except Exception as exc:
        return _failed(name, exc, n)
    return _finish(name, result, n)


def run_task(hub, name: str, fn_blob: bytes, args_blob: bytes, n: int, reraise: bool, *deps):
    """The Ray task behind every caliper task. With ``reraise`` (``retry_exceptions``) a
    raised exception propagates, so that Ray retries the task."""
    worker_backend(hub)
    fn = loads(fn_blob)
    if reraise:
        prepared = _arguments(args_blob, deps)
        if isinstance(prepared[0], int):
            return prepared if n == 1 else (prepared,) * n
        args, kwargs = prepared
        backend = context.current()
        before = backend.posted
        try:
            return _mark(backend, before, _finish(name, fn(*args, **kwargs), n), n)
        except BaseException:
            backend.flush_posts()
            raise
    return _call(name, fn, args_blob, deps, n)


class Host:
    """The Ray actor behind every caliper actor: builds the user's instance and runs its
    methods, in submission order, returning ``(status, data)`` pairs."""

    def __init__(self, hub, name: str, cls_blob: bytes, args_blob: bytes, *deps) -> None:
        worker_backend(hub)
        self._name = name
        self._instance = None
        self._loop = None
        holder: dict = {}

        def construct(*args, **kwargs):
            holder["instance"] = loads(cls_blob)(*args, **kwargs)

        self._started = _call(f"{name}.__init__", construct, args_blob, deps, 1)
        self._instance = holder.get("instance")

    def _event_loop(self):
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop

    def caliper_ready(self) -> tuple[int, bytes]:
        return self._started

    def caliper_call(self, method: str, args_blob: bytes, n: int, *deps) -> object:
        name = f"{self._name}.{method}"
        if self._started[0] != _OK:
            head = error_text(*self._started).split("\n\n", 1)[0]
            err = ActorDiedError(self._name, f"its constructor raised {head}")
            pair = (_RAISED, dumps(err))
            return pair if n == 1 else (pair,) * n
        fn = getattr(self._instance, method, None)
        if fn is None:
            return _failed(method, AttributeError(f"{self._name} has no method {method!r}"), n)
        return _call(name, fn, args_blob, deps, n, self._event_loop)

    def caliper_pid(self) -> int:
        return os.getpid()


def remote_task():
    return ray.remote(run_task)


def remote_host():
    return ray.remote(Host)


def remote_hub():
    return ray.remote(Hub)
