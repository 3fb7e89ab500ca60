"""``caliper.cancel`` as Ray's ``ray.cancel``: queued work is dropped, running work is
interrupted (or its worker killed with ``force=True``), finished work keeps its result."""

from __future__ import annotations

import sys
import time

import cloudpickle
import pytest

import caliper
from caliper.exceptions import TaskCancelledError

pytestmark = pytest.mark.timeout(30)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def sleeper(seconds):
    time.sleep(seconds)
    return "finished"


def busy_loop(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "finished"


class Slow:
    def wait(self, seconds):
        time.sleep(seconds)
        return "waited"


def started(ref, timeout=5.0):
    """Wait until the task behind ref holds its CPU (so it is running)."""
    deadline = time.monotonic() + timeout
    while caliper.available_resources().get("CPU", 0) > 0 and time.monotonic() < deadline:
        time.sleep(0.01)


def test_running_task_is_interrupted_quickly(runtime_factory):
    runtime_factory(num_cpus=1)
    for fn in (sleeper, busy_loop):
        ref = caliper.remote(fn).remote(30)
        started(ref)
        time.sleep(0.1)
        start = time.monotonic()
        caliper.cancel(ref)
        with pytest.raises(TaskCancelledError):
            caliper.get(ref, timeout=10)
        assert time.monotonic() - start < 3
    assert caliper.get(caliper.remote(sleeper).remote(0)) == "finished"  # worker still usable


def test_force_kills_the_worker_and_does_not_retry(runtime_factory):
    runtime_factory(num_cpus=1)
    ref = caliper.remote(sleeper).options(max_retries=3).remote(30)
    started(ref)
    caliper.cancel(ref, force=True)
    with pytest.raises(TaskCancelledError):
        caliper.get(ref, timeout=10)
    assert caliper.available_resources()["CPU"] == 1.0


def test_queued_task_is_dropped_and_never_runs(runtime_factory):
    runtime_factory(num_cpus=1)
    blocker = caliper.remote(sleeper).remote(0.5)
    queued = caliper.remote(sleeper).remote(0)
    caliper.cancel(queued)
    with pytest.raises(TaskCancelledError):
        caliper.get(queued, timeout=5)
    assert caliper.get(blocker) == "finished"


def test_finished_task_keeps_its_result(runtime_factory):
    runtime_factory(num_cpus=1)
    ref = caliper.remote(sleeper).remote(0)
    assert caliper.get(ref) == "finished"
    caliper.cancel(ref)
    assert caliper.get(ref) == "finished"


def test_queued_actor_call_is_dropped_the_rest_run(runtime_factory):
    runtime_factory(num_cpus=1)
    actor = caliper.remote(Slow).remote()
    first = actor.wait.remote(0.3)
    second = actor.wait.remote(0)
    third = actor.wait.remote(0)
    caliper.cancel(second)
    with pytest.raises(TaskCancelledError):
        caliper.get(second, timeout=5)
    assert caliper.get([first, third]) == ["waited", "waited"]


def test_cancel_needs_a_ref(no_runtime):
    with pytest.raises(TypeError, match="ObjectRef"):
        caliper.cancel("ref")


def waits_on_child(seconds):
    return caliper.get(caliper.remote(sleeper).remote(seconds))


def test_cancel_a_task_blocked_in_a_nested_get_frees_its_cpus(runtime_factory):
    runtime_factory(num_cpus=2)
    parent = caliper.remote(waits_on_child).remote(1.0)
    deadline = time.monotonic() + 5
    while caliper.available_resources().get("CPU", 0) != 1.0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the child holds one CPU, the blocked parent lent its own
    caliper.cancel(parent)
    with pytest.raises(TaskCancelledError):
        caliper.get(parent, timeout=10)
    deadline = time.monotonic() + 5
    while caliper.available_resources().get("CPU", 0) != 2.0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert caliper.available_resources()["CPU"] == 2.0  # no CPU lost or counted twice
    assert caliper.get(caliper.remote(sleeper).remote(0)) == "finished"
