"""Runs upload rounds in one background thread: at most one round at a time, rounds at least
``min_period`` seconds (and a few times the last round's cost) apart, the newest request
replacing one that has not started. :meth:`Syncer.run_now` runs a round in the caller's thread
(the first upload, so bad storage fails before any trial starts; the last one, at the end).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any


class Syncer:
    """See the module docstring.

    Args:
        round_fn: ``round_fn(job)`` uploads; its exceptions are kept in :attr:`error` (and
            said once) when it runs in the background.
        describe: where the uploads go, for the message about a failed round.
        min_period: seconds between the starts of two background rounds, at least.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        round_fn: Callable[[Any], None],
        describe: str,
        min_period: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._round = round_fn
        self._describe = describe
        self._min_period = min_period
        self._clock = clock
        self._cond = threading.Condition()
        self._lock = threading.Lock()  # one round at a time
        self._pending: Any = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._last_start = -1e18
        self._last_cost = 0.0
        self.error: BaseException | None = None
        self._said: set[str] = set()

    def request(self, job: Any) -> None:
        """Have ``job`` uploaded in the background (soon, not at once)."""
        with self._cond:
            self._pending = job
            if self._closed:
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="caliper-storage-sync", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def run_now(self, job: Any) -> None:
        """Upload ``job`` in this thread (exceptions propagate)."""
        with self._cond:
            self._pending = None  # ``job`` is newer
        self._run(job)

    def close(self) -> Any:
        """Stop the thread (a round under way ends first); returns the job that was waiting
        (``None`` if none), for a last :meth:`run_now`."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join()
        with self._cond:
            job, self._pending = self._pending, None
            self._closed, self._thread = False, None
        return job

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                period = max(self._min_period, 3 * self._last_cost)
                delay = self._last_start + period - self._clock()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                job, self._pending = self._pending, None
            try:
                self._run(job)
            except Exception as exc:
                self._say(exc)

    def _run(self, job: Any) -> None:
        with self._lock:
            started = self._clock()
            self._last_start = started
            try:
                self._round(job)
                self.error = None
            except BaseException as exc:
                self.error = exc
                raise
            finally:
                self._last_cost = self._clock() - started

    def _say(self, exc: BaseException) -> None:
        text = " ".join(str(exc).split())[:300]
        key = type(exc).__name__ + text[:60]
        if key not in self._said:
            self._said.add(key)
            print(
                f"caliper: uploading to {self._describe} failed ({type(exc).__name__}: {text}); "
                "trying again at the next snapshot",
                file=sys.stderr,
            )
