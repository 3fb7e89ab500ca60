"""The driver's side of :mod:`caliper.core.channel` in the local backend: taking posts from
the inbox the state machine fills, and answering them."""

from __future__ import annotations

import time


class LocalInbox:
    """Mixin of :class:`~caliper.core.local_backend.LocalBackend` (uses its ``lock``,
    ``state``, ``_watch``, ``_unwatch``, ``_block_until`` and ``_apply``)."""

    def receive(self, ids: list[int], timeout: float | None) -> tuple[list[tuple], set[int]]:
        state = self.state
        inbox = state.inbox
        deadline = None if timeout is None else time.monotonic() + timeout
        watch = self._watch(ids, 1) if ids else None
        try:
            self._block_until(lambda: inbox or (watch is not None and watch.needed <= 0), deadline)
        finally:
            if watch is not None:
                self._unwatch(watch)
        with self.lock:
            posts = list(inbox)
            inbox.clear()
            return posts, {i for i in ids if state.is_done(i)}

    def answer(self, answers: list[tuple[int, int, object]]) -> None:
        with self.lock:
            for worker_id, req_id, value in answers:
                self.state.reply(worker_id, req_id, value)
            self._apply()
