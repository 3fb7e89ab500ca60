"""The driver's side of :mod:`caliper.core.channel` in the local backend: taking posts from
the inbox the state machine fills, and answering them."""

from __future__ import annotations

import time

from caliper.core.protocol import SpinBudget

_BATCH = 256  # posts taken at once without waiting longer
_GATHER_S = 0.002  # how long posts nobody waits for may wait for more to come
_SPIN_CAP_S = 0.001  # longest the driver polls for posts before sleeping


class LocalInbox:
    """Mixin of :class:`~caliper.core.local_backend.LocalBackend` (uses its ``lock``,
    ``state``, ``_watch``, ``_unwatch``, ``_block_until`` and ``_apply``)."""

    def _init_inbox(self) -> None:
        # While what runs holds at least one CPU fewer than this machine has (see
        # RuntimeState.cpu_to_spare), the driver polls briefly for posts instead of sleeping,
        # as long as recent posts came that quickly: a sleeping driver costs a wake-up per post
        # (more than a short trial's whole turn) and comes back to colder caches. With every
        # CPU taken it sleeps at once, not to slow the trials down. The two waits of a
        # receive take different times: each learns its own budget.
        self._post_spin = SpinBudget(_SPIN_CAP_S)
        self._gather_spin = SpinBudget(_SPIN_CAP_S)

    def receive(self, ids: list[int], timeout: float | None) -> tuple[list[tuple], set[int]]:
        state = self.state
        inbox = state.inbox
        deadline = None if timeout is None else time.monotonic() + timeout
        watch = self._watch(ids, 1) if ids else None

        def done() -> bool:
            return watch is not None and watch.needed <= 0

        def urgent() -> bool:  # a post awaits its answer, a ref is done, or the batch is big
            return state.inbox_waiting > 0 or done() or len(inbox) >= _BATCH

        spin = bool(ids) and self.state.cpu_to_spare()  # read without the lock: a hint
        post_spin, gather_spin = (self._post_spin, self._gather_spin) if spin else (None, None)
        try:
            if self._block_until(lambda: inbox or done(), deadline, post_spin) and not urgent():
                # posts nobody waits for: take a moment to gather more, one batch costs less
                gather = time.monotonic() + _GATHER_S
                self._block_until(
                    urgent,
                    gather if deadline is None else min(gather, deadline),
                    gather_spin,
                )
        finally:
            if watch is not None:
                self._unwatch(watch)
        with self.lock:
            posts = list(inbox)
            inbox.clear()
            state.inbox_waiting = 0
            return posts, {i for i in ids if state.is_done(i)}

    def answer(self, answers: list[tuple[int, int, object]]) -> None:
        with self.lock:
            for worker_id, req_id, value in answers:
                self.state.reply(worker_id, req_id, value)
            self._apply()
