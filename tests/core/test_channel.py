"""Worker code posts messages to the driver's code and gets its answer (how trials report)."""

from __future__ import annotations

import sys
import time

import cloudpickle
import pytest

import caliper
from caliper.core import channel, context

pytestmark = pytest.mark.timeout(30)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def ask(n):
    return [channel.post({"i": i}) for i in range(n)]


def test_each_post_returns_the_drivers_answer_and_the_task_result_follows(runtime):
    ref = caliper.remote(ask).remote(5)
    seen = []
    deadline = time.monotonic() + 10
    ready = []
    while not ready and time.monotonic() < deadline:
        posts, ready = channel.receive([ref], timeout=5)
        seen += [p.value()["i"] for p in posts]
        channel.answer([(p, p.value()["i"] * 10) for p in posts])
    assert seen == [0, 1, 2, 3, 4]
    assert caliper.get(ref) == [0, 10, 20, 30, 40]


def test_receive_times_out_empty_and_reports_refs_already_done(runtime):
    started = time.monotonic()
    posts, ready = channel.receive([], timeout=0.1)
    assert posts == [] and ready == []
    assert time.monotonic() - started >= 0.09
    ref = caliper.put(1)
    assert channel.receive([ref], timeout=5) == ([], [ref])


def test_posts_of_many_workers_each_reach_the_right_caller(runtime):
    refs = [caliper.remote(ask).remote(20) for _ in range(3)]
    pending = set(refs)
    while pending:
        posts, ready = channel.receive(list(pending), timeout=5)
        channel.answer([(p, (p.worker_id, p.value()["i"])) for p in posts])
        pending -= set(ready)
    for answers in caliper.get(refs):
        worker_ids = {w for w, _ in answers}
        assert len(worker_ids) == 1 and [i for _, i in answers] == list(range(20))


def test_post_in_the_driver_says_it_is_for_workers(runtime):
    with pytest.raises(RuntimeError, match="worker"):
        channel.post(1)


def tell(n):
    for i in range(n):
        channel.post_nowait(i)
    return channel.post("last")


def test_nowait_posts_arrive_in_order_before_a_later_post(runtime):
    ref = caliper.remote(tell).remote(100)
    got = []
    while "last" not in got:
        posts, _ = channel.receive([], timeout=5)
        got += [p.value() for p in posts]
        assert all(p.wants_answer == (p.value() == "last") for p in posts)
        channel.answer([(p, "ok") for p in posts])
    assert got == [*range(100), "last"]
    assert caliper.get(ref, timeout=5) == "ok"


class Holder:
    def ping(self):
        return True

    def idle_poll_cap(self) -> float:
        """How long this actor's worker may poll for its next call (seconds)."""
        return context.peek().mailbox._spin.cap


def exchange(n: int) -> None:
    """A task posts ``n`` times; the driver answers each post with its number."""
    ref = caliper.remote(ask).options(num_cpus=0).remote(n)
    seen, ready = [], []
    deadline = time.monotonic() + 10
    while not ready and time.monotonic() < deadline:
        posts, ready = channel.receive([ref], timeout=5)
        seen += [p.value()["i"] for p in posts]
        channel.answer([(p, p.value()["i"]) for p in posts])
    assert seen == list(range(n)) and caliper.get(ref) == list(range(n))


def test_driver_polls_for_posts_only_while_a_cpu_is_to_spare(runtime, monkeypatch):
    """While what runs holds every CPU of the machine, receive() sleeps at once rather than
    poll (a polling driver would take CPU time from the trials); with a CPU to spare it polls
    and learns how long from the waits. Posts come and go the same either way."""
    backend = context.peek()
    monkeypatch.setattr(backend.state, "cores", 2.0)  # as on a 2-CPU machine
    assert backend.state.cpu_to_spare()  # nothing runs
    actors = []
    for expected in (True, False):  # 1 CPU held of 2, then 2 of 2
        actors.append(caliper.remote(Holder).options(num_cpus=1).remote())
        assert caliper.get(actors[-1].ping.remote())
        assert backend.state.cpu_to_spare() is expected
    budget = backend._post_spin.budget
    exchange(3)
    assert backend._post_spin.budget == budget  # every CPU taken: no polling, nothing learnt
    for actor in actors:
        caliper.kill(actor)
    deadline = time.monotonic() + 10
    while not backend.state.cpu_to_spare() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert backend.state.cpu_to_spare()  # their CPUs are free again once they are gone
    exchange(3)
    assert backend._post_spin.budget != budget  # it polled, and learnt from the waits


def test_an_actor_polls_for_its_next_call_only_while_a_cpu_is_to_spare(runtime, monkeypatch):
    """Between calls an actor's worker polls for the next one (up to a few ms, learned from
    its waits) while what runs leaves a CPU of the machine free, as the call it ran said; with
    every CPU taken it polls no longer than for a quick reply, then sleeps."""
    backend = context.peek()
    monkeypatch.setattr(backend.state, "cores", 2.0)  # as on a 2-CPU machine
    first = caliper.remote(Holder).options(num_cpus=1).remote()
    caliper.get(first.ping.remote())
    assert caliper.get(first.idle_poll_cap.remote()) > 1e-3  # 1 CPU held of 2
    second = caliper.remote(Holder).options(num_cpus=1).remote()
    caliper.get(second.ping.remote())
    caliper.get(first.ping.remote())  # each call says how to wait for the next one
    assert caliper.get(first.idle_poll_cap.remote()) < 1e-3  # 2 of 2: the short default
    caliper.kill(second)
    deadline = time.monotonic() + 10
    while not backend.state.cpu_to_spare() and time.monotonic() < deadline:
        time.sleep(0.01)
    caliper.get(first.ping.remote())
    assert caliper.get(first.idle_poll_cap.remote()) > 1e-3


class Deferring:
    def __init__(self) -> None:
        self.done: list[str] = []

    def work(self, mark: str) -> list[str]:
        context.current().after_reply(lambda: self.done.append(mark))
        return list(self.done)  # the reply: before the work left for after it

    def seen(self) -> list[str]:
        return list(self.done)


def test_work_left_for_after_a_reply_runs_before_the_next_call(runtime):
    """An actor method may leave work for after its reply (the caller does not wait for it);
    it is done before the actor's next call runs."""
    actor = caliper.remote(Deferring).remote()
    assert caliper.get(actor.work.remote("a")) == []
    assert caliper.get(actor.work.remote("b")) == ["a"]
    assert caliper.get(actor.seen.remote()) == ["a", "b"]
