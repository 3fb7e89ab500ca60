"""``ObjectRef``: a handle to a value that a task, an actor call or ``put`` produces.

The driver counts the live ``ObjectRef`` objects for every id; once none is left (and no
pending task needs the value) the runtime frees the stored bytes. A ref that is pickled (sent
to a worker inside a container, or stored by the user) pins its value for the runtime's life.
"""

from __future__ import annotations

import threading
from collections import deque


class RefTracker:
    """Counts live refs per id in the driver; releases are queued lock-free from ``__del__``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[int, int] = {}
        self.pinned: set[int] = set()
        self.released: deque[int] = deque()

    def add(self, obj_id: int) -> None:
        with self._lock:
            self.counts[obj_id] = self.counts.get(obj_id, 0) + 1

    def pin(self, obj_id: int) -> None:
        self.pinned.add(obj_id)

    def drain(self) -> list[int]:
        """Ids whose last ref went away since the previous call (pinned ids excluded)."""
        freed = []
        released = self.released
        with self._lock:
            while released:
                obj_id = released.popleft()
                left = self.counts.get(obj_id, 0) - 1
                if left > 0:
                    self.counts[obj_id] = left
                    continue
                self.counts.pop(obj_id, None)
                if obj_id not in self.pinned:
                    freed.append(obj_id)
        return freed


_tracker: RefTracker | None = None


def set_tracker(tracker: RefTracker | None) -> None:
    """Install (driver) or remove (shutdown, workers) the process's ref tracker."""
    global _tracker
    _tracker = tracker


class ObjectRef:
    """A reference to a (possibly not yet computed) value. Pass it to ``caliper.get``."""

    __slots__ = ("__weakref__", "_tracked", "id")

    def __init__(self, obj_id: int) -> None:
        self.id = obj_id
        tracker = _tracker
        self._tracked = tracker is not None
        if tracker is not None:
            tracker.add(obj_id)

    def __del__(self) -> None:
        if self._tracked:
            tracker = _tracker
            if tracker is not None:
                tracker.released.append(self.id)

    def __reduce__(self):
        if _tracker is not None:
            _tracker.pin(self.id)
        return (_unpickled_ref, (self.id,))

    def hex(self) -> str:
        return f"{self.id:016x}"

    def future(self):
        """A ``concurrent.futures.Future`` that completes with the value (or its error)."""
        import concurrent.futures
        import threading

        from caliper.core.api import get

        fut: concurrent.futures.Future = concurrent.futures.Future()

        def fetch() -> None:
            try:
                fut.set_result(get(self))
            except BaseException as exc:
                fut.set_exception(exc)

        threading.Thread(target=fetch, name="caliper-future", daemon=True).start()
        return fut

    def __await__(self):
        """``await ref`` in asyncio code waits for the value without blocking the loop."""
        import asyncio

        return asyncio.wrap_future(self.future()).__await__()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectRef) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("ObjectRef", self.id))

    def __repr__(self) -> str:
        return f"ObjectRef({self.hex()})"


def _unpickled_ref(obj_id: int) -> ObjectRef:
    """A ref that arrived pickled (inside a result, an actor's state...): other copies may
    live in other processes, which the driver does not count, so its value stays pinned."""
    pin(obj_id)
    return ObjectRef(obj_id)


def pin(obj_id: int) -> None:
    """Keep ``obj_id`` alive for the runtime's life (no-op outside the driver)."""
    if _tracker is not None:
        _tracker.pin(obj_id)
