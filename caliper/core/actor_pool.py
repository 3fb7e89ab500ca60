"""``ActorPool``: spread work over a fixed set of actors, one call per actor at a time.

Same names and behaviour as Ray's ``ray.util.ActorPool``: ``fn(actor, value)`` must start one
call on ``actor`` and return its ref, e.g. ``lambda a, v: a.predict.remote(v)``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

from caliper.core.actor import ActorHandle
from caliper.core.api import get, wait
from caliper.core.exceptions import GetTimeoutError
from caliper.core.refs import ObjectRef


class ActorPool:
    """A pool of actors handing out work in submission order.

    Args:
        actors: the actors to use; each runs at most one of the pool's calls at a time.
    """

    def __init__(self, actors: Iterable[ActorHandle]) -> None:
        self._idle: list[ActorHandle] = list(actors)
        for actor in self._idle:
            if not isinstance(actor, ActorHandle):
                raise TypeError(f"ActorPool needs actor handles, got {type(actor).__name__}")
        self._running: dict[ObjectRef, tuple[int, ActorHandle]] = {}  # ref -> (index, actor)
        self._by_index: dict[int, ObjectRef] = {}
        self._backlog: deque[tuple[Callable, object]] = deque()
        self._next_submit = 0
        self._next_return = 0

    def submit(self, fn: Callable[[ActorHandle, object], ObjectRef], value: object) -> None:
        """Start ``fn(actor, value)`` on an idle actor, or queue it until one is free."""
        if not self._idle:
            self._backlog.append((fn, value))
            return
        actor = self._idle.pop()
        try:
            ref = fn(actor, value)
        except BaseException:
            self._idle.append(actor)
            raise
        if not isinstance(ref, ObjectRef):
            self._idle.append(actor)
            raise TypeError(
                "fn(actor, value) must return the ObjectRef of one call, e.g. "
                f"lambda a, v: a.method.remote(v); got {type(ref).__name__}"
            )
        self._running[ref] = (self._next_submit, actor)
        self._by_index[self._next_submit] = ref
        self._next_submit += 1

    def has_next(self) -> bool:
        """Whether results are still to be collected."""
        return bool(self._running)

    def has_free(self) -> bool:
        """Whether an actor is idle and nothing waits for one."""
        return bool(self._idle) and not self._backlog

    def _finish(self, ref: ObjectRef) -> object:
        index, actor = self._running.pop(ref)
        del self._by_index[index]
        self._idle.append(actor)
        if self._backlog:
            self.submit(*self._backlog.popleft())
        return get(ref)

    def get_next(self, timeout: float | None = None, ignore_if_timedout: bool = False) -> object:
        """The next result in submission order (raises ``GetTimeoutError`` after ``timeout``)."""
        if not self.has_next():
            raise StopIteration("no more results to get")
        while self._next_return not in self._by_index:  # taken by get_next_unordered
            self._next_return += 1
        ref = self._by_index[self._next_return]
        ready, _ = wait([ref], timeout=timeout)
        if not ready:
            if ignore_if_timedout:
                self._next_return += 1
            raise GetTimeoutError(f"the next result was not ready within {timeout} s")
        self._next_return += 1
        return self._finish(ref)

    def get_next_unordered(
        self, timeout: float | None = None, ignore_if_timedout: bool = False
    ) -> object:
        """Whichever result is ready first."""
        if not self.has_next():
            raise StopIteration("no more results to get")
        ready, _ = wait(list(self._running), num_returns=1, timeout=timeout)
        if not ready:
            raise GetTimeoutError(f"no result was ready within {timeout} s")
        index = self._running[ready[0]][0]
        if index == self._next_return:
            self._next_return += 1
        return self._finish(ready[0])

    def map(self, fn: Callable[[ActorHandle, object], ObjectRef], values: Iterable) -> Iterator:
        """Results of ``fn`` over ``values``, in the order of ``values``."""
        self._drain()
        for value in values:
            self.submit(fn, value)
        while self.has_next():
            yield self.get_next()

    def map_unordered(
        self, fn: Callable[[ActorHandle, object], ObjectRef], values: Iterable
    ) -> Iterator:
        """Results of ``fn`` over ``values``, as they finish."""
        self._drain()
        for value in values:
            self.submit(fn, value)
        while self.has_next():
            yield self.get_next_unordered()

    def _drain(self) -> None:
        while self.has_next():
            self.get_next_unordered()

    def push(self, actor: ActorHandle) -> None:
        """Add an idle actor to the pool."""
        if actor in self._idle or any(a == actor for _, a in self._running.values()):
            raise ValueError("this actor is already in the pool")
        self._idle.append(actor)
        if self._backlog:
            self.submit(*self._backlog.popleft())

    def pop_idle(self) -> ActorHandle | None:
        """Remove and return an idle actor, or ``None`` if all are busy."""
        return self._idle.pop() if self.has_free() else None
