"""Messages from code in a worker to code in the driver, each answered by the driver.

A worker calls :func:`post` and blocks until the driver's code takes the message from its inbox
(:func:`receive`) and answers it (:func:`answer`). It rides on the worker's connection like a
nested ``get`` (no extra thread, one frame each way), which is how a trial reports a result and
learns at once whether to go on: the answer is the decision.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import NamedTuple

from caliper.core import context
from caliper.core.refs import ObjectRef
from caliper.core.serialization import dumps, loads


class Post(NamedTuple):
    """One message taken from the driver's inbox."""

    worker_id: int
    request_id: int
    data: bytes

    def value(self) -> object:
        """The posted object (unpickled here, so a bad one fails this post alone)."""
        return loads(self.data)

    @property
    def wants_answer(self) -> bool:
        """False for a :func:`post_nowait` message (answering it is a no-op)."""
        return self.request_id != 0


def _pickled(value: object) -> bytes:
    try:
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)  # plain data: the fast path
    except Exception:
        return dumps(value)


def post(value: object, timeout: float | None = None) -> object:
    """From a worker: send ``value`` to the driver and return the driver's answer."""
    return context.current().post(_pickled(value), timeout)


def post_nowait(value: object) -> None:
    """From a worker: send ``value`` to the driver and go on at once (no answer comes).
    Posts of one worker arrive in the order they were sent, also mixed with :func:`post`."""
    context.current().post_nowait(_pickled(value))


def receive(
    refs: Sequence[ObjectRef] = (), timeout: float | None = None
) -> tuple[list[Post], list[ObjectRef]]:
    """In the driver: wait until posts arrived or one of ``refs`` is ready (at most
    ``timeout`` seconds); returns the posts taken (oldest first) and the ready refs."""
    ids = [ref.id for ref in refs]
    posts, done = context.current().receive(ids, timeout)
    return [Post(*p) for p in posts], [ref for ref in refs if ref.id in done]


def answer(answers: Sequence[tuple[Post, object]]) -> None:
    """In the driver: reply to posts; each ``post()`` call returns its value."""
    wanted = [(p.worker_id, p.request_id, value) for p, value in answers if p.request_id]
    if wanted:
        context.current().answer(wanted)
