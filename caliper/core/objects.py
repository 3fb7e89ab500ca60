"""The object table: every value slot the runtime knows, who waits for it, who still needs it.

Pure bookkeeping with no I/O. :meth:`ObjectTable.finish` returns who must be told that a value
is ready (local consumers waiting for arguments, and nested ``get``/``wait`` calls of workers);
the state machine acts on that.
"""

from __future__ import annotations

from caliper.core.entities import ObjectEntry, RemoteWait
from caliper.core.protocol import Status

_OK = int(Status.OK)


class Watch:
    """A driver thread waiting in ``get``/``wait``: how many more of its ids must finish."""

    __slots__ = ("ids", "needed")

    def __init__(self, ids: list[int], needed: int) -> None:
        self.ids = ids
        self.needed = needed


class ObjectTable:
    """Objects by id. An entry is deleted once it is done, the driver holds no ref to it
    (``released``) and no pending consumer holds it (``holds == 0``)."""

    def __init__(self) -> None:
        self.entries: dict[int, ObjectEntry] = {}
        self.dep_waiters: dict[int, list[object]] = {}
        self.remote_waits: dict[int, list[RemoteWait]] = {}
        self.watches: dict[int, list[Watch]] = {}

    def new(self, obj_id: int) -> ObjectEntry:
        entry = self.entries.get(obj_id)
        if entry is None:
            entry = self.entries[obj_id] = ObjectEntry()
        return entry

    def finish(
        self, obj_id: int, status: int, data: bytes | None
    ) -> tuple[list[object], list[RemoteWait]] | None:
        """Record the value; ``None`` if it was already done, else who to tell:
        ``(consumers that waited for it, remote waits now satisfied)``."""
        entry = self.entries.get(obj_id)
        if entry is None or entry.status is not None:
            return None
        entry.status = status
        entry.data = data
        for watch in self.watches.pop(obj_id, ()):
            watch.needed -= 1
        if entry.released and entry.holds == 0:
            del self.entries[obj_id]
            return [], []
        satisfied = []
        for wait in self.remote_waits.pop(obj_id, ()):
            if not wait.fired:
                wait.needed -= 1
                if wait.needed <= 0:
                    satisfied.append(wait)
        return self.dep_waiters.pop(obj_id, []), satisfied

    def is_done(self, obj_id: int) -> bool:
        entry = self.entries.get(obj_id)
        return entry is not None and entry.status is not None

    def result(self, obj_id: int) -> tuple[int, bytes]:
        entry = self.entries[obj_id]
        return entry.status, entry.data

    def release(self, obj_ids: list[int]) -> None:
        """The driver dropped its last ref to these ids: free them once nothing needs them."""
        for obj_id in obj_ids:
            entry = self.entries.get(obj_id)
            if entry is None:
                continue
            entry.released = True
            if entry.status is not None and entry.holds == 0:
                del self.entries[obj_id]

    def hold(self, deps: tuple[int, ...]) -> int:
        """Register a consumer of ``deps``; returns how many are not done yet."""
        missing = 0
        for dep in deps:
            entry = self.new(dep)
            entry.holds += 1
            if entry.status is None:
                missing += 1
        return missing

    def unhold(self, deps: tuple[int, ...]) -> None:
        for dep in deps:
            entry = self.entries.get(dep)
            if entry is None:
                continue
            entry.holds -= 1
            if entry.holds <= 0 and entry.released and entry.status is not None:
                del self.entries[dep]

    def await_deps(self, waiter: object, deps: tuple[int, ...]) -> bool:
        """Hold ``deps`` for ``waiter``; True when all are done already, else ``waiter`` is
        returned by :meth:`finish` of each missing one."""
        if not deps or self.hold(deps) == 0:
            return True
        for dep in deps:
            if self.entries[dep].status is None:
                self.dep_waiters.setdefault(dep, []).append(waiter)
        return False

    def all_done(self, deps: tuple[int, ...]) -> bool:
        entries = self.entries
        return all(entries[d].status is not None for d in deps)

    def values(self, deps: tuple[int, ...]) -> list[bytes] | tuple[int, bytes]:
        """Values of ``deps``, or the first failed dependency's ``(status, data)``."""
        values = []
        for dep in deps:
            entry = self.entries[dep]
            if entry.status != _OK:
                return (entry.status, entry.data)
            values.append(entry.data)
        return values

    def watch(self, ids: list[int], needed: int) -> Watch:
        """Count down as ``ids`` finish: done once ``needed`` of them are (a driver ``get``
        needs all, a ``wait`` its ``num_returns``), without rescanning the ids."""
        missing = [i for i in ids if not self.is_done(i)]
        watch = Watch(missing, needed - (len(ids) - len(missing)))
        if watch.needed > 0:
            for obj_id in missing:
                self.watches.setdefault(obj_id, []).append(watch)
        return watch

    def unwatch(self, watch: Watch) -> None:
        """Forget a watch that gave up (timeout) before it was done."""
        for obj_id in watch.ids:
            watchers = self.watches.get(obj_id)
            if watchers and watch in watchers:
                watchers.remove(watch)
                if not watchers:
                    del self.watches[obj_id]

    def add_remote_wait(self, wait: RemoteWait) -> None:
        """Register a worker's nested get/wait on the ids of ``wait`` that are not done."""
        for obj_id in wait.ids:
            if not self.is_done(obj_id):
                self.new(obj_id)
                self.remote_waits.setdefault(obj_id, []).append(wait)

    def waits_of(self, worker_id: int) -> list[RemoteWait]:
        """The pending nested waits of one worker."""
        return [
            wait
            for waits in self.remote_waits.values()
            for wait in waits
            if wait.worker_id == worker_id and not wait.fired
        ]

    def drop_waits_of(self, worker_id: int) -> None:
        """Forget the nested waits of a worker that died."""
        for wait in self.waits_of(worker_id):
            wait.fired = True
