"""The interface between the public API and whatever runs the work.

:class:`~caliper.core.local_backend.LocalBackend` runs it in worker processes of this machine;
:class:`~caliper.core.worker.WorkerBackend` forwards calls made inside a worker to the driver;
a Ray-cluster backend can implement the same methods later. Ids are integers handed out by
:meth:`Backend.new_id`; values travel as ``(Status, bytes)`` pairs.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

from caliper.core.refs import RefTracker
from caliper.core.resources import Request
from caliper.core.specs import ActorSpec, CallSpec, TaskSpec


class Backend(abc.ABC):
    """Contract: submissions return at once; ``get`` and ``wait`` block at most ``timeout``."""

    actor_tracker: RefTracker | None = None  # counts the handles of actors created here
    counts_actor_handles = False  # the driver counts every handle it holds, also get_actor's

    @abc.abstractmethod
    def new_id(self) -> int:
        """A fresh id for an object, actor or placement group, unique in this runtime."""

    @abc.abstractmethod
    def submit_task(self, spec: TaskSpec) -> None: ...

    @abc.abstractmethod
    def create_actor(self, spec: ActorSpec) -> None: ...

    @abc.abstractmethod
    def submit_call(self, spec: CallSpec) -> None: ...

    @abc.abstractmethod
    def put(self, obj_id: int, data: bytes, status: int = 0) -> None:
        """Store a finished object (``status`` a :class:`Status`; errors are raised at get)."""

    @abc.abstractmethod
    def kill_actor(self, actor_id: int, no_restart: bool) -> None: ...

    @abc.abstractmethod
    def cancel(self, obj_id: int, force: bool) -> None:
        """Cancel the task or queued actor call producing ``obj_id`` (see ``caliper.cancel``)."""

    @abc.abstractmethod
    def release_actor(self, actor_id: int) -> None:
        """Every handle to the actor is gone."""

    @abc.abstractmethod
    def lookup_actor(self, name: str) -> tuple[int, str, dict[str, int]] | None:
        """``(actor id, class name, method names)`` of the live actor registered as ``name``."""

    @abc.abstractmethod
    def create_placement_group(
        self, pg_id: int, bundles: list[Request], strategy, ready_obj: int
    ) -> None: ...

    @abc.abstractmethod
    def remove_placement_group(self, pg_id: int) -> None: ...

    @abc.abstractmethod
    def get(self, ids: list[int], timeout: float | None) -> list[tuple[int, bytes]]:
        """``(status, data)`` of every id once all are done; ``GetTimeoutError`` otherwise."""

    @abc.abstractmethod
    def wait(self, ids: list[int], num_returns: int, timeout: float | None) -> set[int]:
        """The ids done once ``num_returns`` of them are, or when ``timeout`` runs out."""

    @abc.abstractmethod
    def resources(self) -> tuple[dict[str, float], dict[str, float]]:
        """``(cluster total, available now)`` as Ray-style dicts."""

    @abc.abstractmethod
    def gpu_ids(self) -> list[int | str]:
        """GPU ids assigned to the calling process."""

    @abc.abstractmethod
    def shutdown(self) -> None: ...

    def nodes(self) -> list[dict] | None:
        """The cluster's nodes as ``ray.nodes()`` lists them; ``None``: only this machine."""
        return None

    def after_reply(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once the reply to the call running now has been sent, before the next
        call (in a worker: work the caller need not wait for). Elsewhere it runs at once."""
        fn()

    def preload(self, modules: list[str]) -> None:  # noqa: B027 (optional)
        """Import ``modules`` in workers started from now on, ahead of time (if supported)."""

    # -- the channel from workers to the driver's code (caliper.core.channel) ---------------

    def post(self, data: bytes, timeout: float | None) -> object:
        """Send ``data`` to the driver's inbox and block until the driver answers it."""
        raise RuntimeError("channel.post is for code running in a worker; this is the driver")

    def post_nowait(self, data: bytes) -> None:
        """Send ``data`` to the driver's inbox without waiting (its request id is 0)."""
        raise RuntimeError("channel.post is for code running in a worker; this is the driver")

    def flush_posts(self) -> None:  # noqa: B027 (optional)
        """Block until every :meth:`post_nowait` of this process reached the driver's inbox
        (a backend whose posts and results share one ordered connection has nothing to do)."""

    def receive(self, ids: list[int], timeout: float | None) -> tuple[list[tuple], set[int]]:
        """Block until the inbox holds posts or one of ``ids`` is done (at most ``timeout``);
        returns the posts ``(worker_id, request_id, data)`` taken and the done ids."""
        raise RuntimeError("channel.receive is for the driver; this is a worker")

    def answer(self, answers: list[tuple[int, int, object]]) -> None:
        """Reply ``(worker_id, request_id, value)`` to posts taken by :meth:`receive`."""
        raise RuntimeError("channel.answer is for the driver; this is a worker")
