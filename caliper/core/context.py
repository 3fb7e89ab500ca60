"""Which backend this process talks to: the process-wide runtime, as ``ray.init`` has one.

The driver installs a :class:`~caliper.core.local_backend.LocalBackend` at ``init``; a worker
installs its :class:`~caliper.core.worker.WorkerBackend` when it starts. Everything else reads
it through :func:`current`.
"""

from __future__ import annotations

import threading

from caliper.core.backend import Backend

_backend: Backend | None = None
init_lock = threading.RLock()  # one init at a time, also for implicit inits from many threads


def set_backend(backend: Backend | None) -> None:
    global _backend
    _backend = backend


def peek() -> Backend | None:
    """The installed backend, or ``None`` before ``init``."""
    return _backend


def current() -> Backend:
    """The installed backend, starting a local runtime with defaults on first use."""
    if _backend is None:
        from caliper.core.api import init

        with init_lock:
            if _backend is None:
                init()
    return _backend
