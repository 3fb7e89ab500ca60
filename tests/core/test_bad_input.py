"""Bad input to the core API raises ValueError/TypeError naming the argument; impossible
requests fail at once with InfeasibleRequestError; requests that fit later wait."""

from __future__ import annotations

import os
import sys
import time

import cloudpickle
import pytest

import caliper
from caliper.core.refs import ObjectRef
from caliper.exceptions import InfeasibleRequestError
from caliper.util import PlacementGroupSchedulingStrategy, placement_group

pytestmark = pytest.mark.timeout(30)

# Ship this module's functions and classes by value, as if they were defined in __main__:
# workers then need not import this test module (and pytest with it) before running them.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@caliper.remote
def task():
    return "ran"


@caliper.remote
class Actor:
    def ping(self):
        return "pong"


@pytest.fixture
def no_start(no_runtime):
    """For bad input that must be rejected before a runtime is started."""
    yield
    assert not caliper.is_initialized(), "the bad call started a runtime"


BAD_OPTIONS = [
    pytest.param({"num_cpus": -1}, ValueError, "num_cpus", id="num_cpus=-1"),
    pytest.param({"num_cpus": "2"}, TypeError, "num_cpus", id="num_cpus=str"),
    pytest.param({"num_cpus": float("nan")}, ValueError, "num_cpus", id="num_cpus=nan"),
    pytest.param({"num_gpus": "x"}, TypeError, "num_gpus", id="num_gpus=str"),
    pytest.param({"num_gpus": 1.5}, ValueError, "num_gpus", id="num_gpus=1.5"),
    pytest.param({"num_gpus": -0.5}, ValueError, "num_gpus", id="num_gpus=-0.5"),
    pytest.param({"num_gpus": True}, TypeError, "num_gpus", id="num_gpus=True"),
    pytest.param({"resources": {"CPU": 1}}, ValueError, "resources", id="resources=CPU"),
    pytest.param({"resources": {"GPU": 1}}, ValueError, "resources", id="resources=GPU"),
    pytest.param({"resources": {"foo": -1}}, ValueError, "foo", id="resources=negative"),
    pytest.param({"resources": [("foo", 1)]}, TypeError, "resources", id="resources=list"),
    pytest.param({"memory": -5}, ValueError, "memory", id="memory=-5"),
    pytest.param({"num_cpu": 1}, TypeError, "num_cpu", id="unknown-option"),
    pytest.param(
        {"placement_group_bundle_index": 0}, ValueError, "placement_group", id="index-without-pg"
    ),
    pytest.param({"placement_group": "pg"}, TypeError, "placement_group", id="pg=str"),
    pytest.param({"scheduling_strategy": "FAST"}, ValueError, "scheduling_strategy", id="strat"),
    pytest.param({"name": 3}, TypeError, "name", id="name=int"),
]

TASK_ONLY = [
    pytest.param({"max_retries": -2}, ValueError, "max_retries", id="max_retries=-2"),
    pytest.param({"max_retries": 1.0}, TypeError, "max_retries", id="max_retries=float"),
    pytest.param({"retry_exceptions": "yes"}, TypeError, "retry_exceptions", id="retry_exc"),
    pytest.param({"max_restarts": 1}, TypeError, "max_restarts", id="task-max_restarts"),
]

ACTOR_ONLY = [
    pytest.param({"max_restarts": -2}, ValueError, "max_restarts", id="max_restarts=-2"),
    pytest.param({"max_retries": 1}, TypeError, "max_retries", id="actor-max_retries"),
]


@pytest.mark.parametrize(("options", "error", "name"), BAD_OPTIONS + TASK_ONLY)
def test_bad_task_options(no_start, options, error, name):
    with pytest.raises(error, match=name):
        task.options(**options)
    with pytest.raises(error, match=name):
        caliper.remote(**options)(lambda: None)


@pytest.mark.parametrize(("options", "error", "name"), BAD_OPTIONS + ACTOR_ONLY)
def test_bad_actor_options(no_start, options, error, name):
    with pytest.raises(error, match=name):
        Actor.options(**options)

    class Local:
        pass

    with pytest.raises(error, match=name):
        caliper.remote(**options)(Local)


def test_bad_bundle_index_with_a_group(runtime):
    pg = placement_group([{"CPU": 1}])
    with pytest.raises(TypeError, match="placement_group_bundle_index"):
        task.options(placement_group=pg, placement_group_bundle_index="0")
    with pytest.raises(TypeError, match="placement_group_bundle_index"):
        Actor.options(placement_group=pg, placement_group_bundle_index="0")
    with pytest.raises((TypeError, ValueError), match="placement_group_bundle_index"):
        task.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, "0"))
    with pytest.raises(ValueError, match="scheduling_strategy"):
        task.options(placement_group=pg, scheduling_strategy=PlacementGroupSchedulingStrategy(pg))


@pytest.mark.parametrize(
    ("bundles", "strategy", "error", "name"),
    [
        pytest.param([{"CPU": 1}], "PAKC", ValueError, "strategy", id="strategy=PAKC"),
        pytest.param([{"CPU": 1}], "pack", ValueError, "PACK", id="strategy=lowercase"),
        pytest.param([{"CPU": 1}], 1, TypeError, "strategy", id="strategy=int"),
        pytest.param([], "PACK", TypeError, "bundles", id="bundles=[]"),
        pytest.param([{}], "PACK", ValueError, "bundles", id="bundles=[{}]"),
        pytest.param([{"CPU": -1}], "PACK", ValueError, "bundles", id="bundles=negative"),
        pytest.param([{"CPU": 0}], "PACK", ValueError, "bundles", id="bundles=zero"),
        pytest.param([{"GPU": 1.5}], "PACK", ValueError, "bundles", id="bundles=1.5gpu"),
        pytest.param({"CPU": 1}, "PACK", TypeError, "bundles", id="bundles=dict"),
        pytest.param([1], "PACK", TypeError, "bundles", id="bundles=[int]"),
    ],
)
def test_bad_placement_group(no_start, bundles, strategy, error, name):
    with pytest.raises(error, match=name):
        placement_group(bundles, strategy=strategy)


def test_bad_placement_group_reserves_nothing(runtime):
    with pytest.raises(ValueError, match="bundles"):
        placement_group([{"CPU": 1}, {"CPU": -1}])
    assert caliper.available_resources()["CPU"] == 4.0


@pytest.mark.parametrize(
    ("num_returns", "error"),
    [(0, ValueError), (3, ValueError), (-1, ValueError), (1.0, TypeError), ("1", TypeError)],
)
def test_wait_bad_num_returns(no_start, num_returns, error):
    refs = [ObjectRef(2**60 + 1), ObjectRef(2**60 + 2)]
    with pytest.raises(error, match="num_returns"):
        caliper.wait(refs, num_returns=num_returns)


@pytest.mark.parametrize(
    ("timeout", "error"),
    [(-1, ValueError), ("1", TypeError), (float("nan"), ValueError), (True, TypeError)],
)
def test_bad_timeout(no_start, timeout, error):
    ref = ObjectRef(2**60 + 1)
    with pytest.raises(error, match="timeout"):
        caliper.get(ref, timeout=timeout)
    with pytest.raises(error, match="timeout"):
        caliper.get([ref], timeout=timeout)
    with pytest.raises(error, match="timeout"):
        caliper.wait([ref], timeout=timeout)


def test_get_of_not_a_ref(no_start):
    ref = ObjectRef(2**60 + 1)
    with pytest.raises(TypeError, match="ObjectRef"):
        caliper.get("not a ref")
    with pytest.raises(TypeError, match="item 1"):
        caliper.get([ref, "not a ref"])
    with pytest.raises(TypeError, match="ObjectRef"):
        caliper.get({"a": ref})


def test_wait_needs_a_list(no_start):
    ref = ObjectRef(2**60 + 1)
    with pytest.raises(TypeError, match="list"):
        caliper.wait(ref)
    with pytest.raises(TypeError, match="ObjectRef"):
        caliper.wait([ref, 5])
    with pytest.raises(ValueError, match="more than once"):
        caliper.wait([ref, ref])
    with pytest.raises(ValueError, match="more than once"):
        caliper.wait([ref, ObjectRef(ref.id)], num_returns=2)


def test_put_of_a_ref(no_start):
    with pytest.raises(TypeError, match="ObjectRef"):
        caliper.put(ObjectRef(2**60 + 1))


def test_kill_needs_an_actor(runtime):
    with pytest.raises(TypeError, match="actor"):
        caliper.kill("x")
    with pytest.raises(TypeError, match="no_restart"):
        caliper.kill(Actor.remote(), no_restart="yes")


def test_remote_functions_and_actor_classes_are_not_called_directly(no_start):
    with pytest.raises(TypeError, match=r"task\.remote"):
        task()
    with pytest.raises(TypeError, match=r"Actor\.remote"):
        Actor()


def test_unknown_actor_method(runtime):
    actor = Actor.remote()
    with pytest.raises(AttributeError, match="nope"):
        actor.nope.remote()


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"num_cpus": -1}, ValueError, "num_cpus"),
        ({"num_gpus": 1.5}, ValueError, "num_gpus"),
        ({"num_gpus": "4"}, TypeError, "num_gpus"),
        ({"memory": -5}, ValueError, "memory"),
        ({"resources": {"CPU": 2}}, ValueError, "resources"),
        ({"address": "ray://head"}, ValueError, "address"),  # no port
        ({"address": 6379}, TypeError, "address"),
    ],
)
def test_bad_init_arguments(no_runtime, kwargs, error, name):
    with pytest.raises(error, match=name):
        caliper.init(**kwargs)
    assert not caliper.is_initialized()


# -- requests that can never fit, and requests that fit later ------------------------------------


def test_task_needing_more_cpus_than_exist_fails_at_once(runtime):
    started = time.monotonic()
    with pytest.raises(InfeasibleRequestError) as info:
        task.options(num_cpus=100).remote()
    assert time.monotonic() - started < 1
    message = str(info.value)
    assert "100" in message and "CPU" in message  # the request
    assert "4" in message  # what the node has
    assert isinstance(info.value, ValueError)


def test_unknown_custom_resource_fails_at_once(runtime):
    with pytest.raises(InfeasibleRequestError, match="accelerator") as info:
        task.options(resources={"accelerator": 1}).remote()
    assert "CPU" in str(info.value)  # shows what exists
    with pytest.raises(InfeasibleRequestError, match="accelerator"):
        Actor.options(resources={"accelerator": 1}).remote()


@pytest.mark.parametrize(
    "options",
    [{"num_gpus": 5}, {"num_cpus": 4.5}, {"memory": 10**18}, {"num_cpus": 1, "num_gpus": 8}],
    ids=["gpus", "cpus", "memory", "mixed"],
)
def test_actor_that_can_never_fit_fails_at_once(runtime, options):
    with pytest.raises(InfeasibleRequestError, match="never"):
        Actor.options(**options).remote()
    assert caliper.available_resources()["CPU"] == 4.0


def test_infeasible_nested_submission_fails_its_ref(runtime):
    @caliper.remote
    def submit_impossible():
        try:
            ref = task.options(num_cpus=100).remote()
        except InfeasibleRequestError as exc:
            return f"raised at remote(): {exc}"
        try:
            caliper.get(ref, timeout=10)
        except InfeasibleRequestError as exc:
            return f"raised at get(): {exc}"
        return "ran"

    outcome = caliper.get(submit_impossible.remote(), timeout=20)
    assert outcome.startswith("raised at") and "100" in outcome


def test_request_that_fits_later_waits_then_runs(runtime, tmp_path):
    gate, started = str(tmp_path / "gate"), str(tmp_path / "started")

    @caliper.remote(num_cpus=3)
    def hold():
        open(started, "w").close()
        while not os.path.exists(gate):
            time.sleep(0.005)
        return "held"

    holder = hold.remote()
    deadline = time.monotonic() + 10
    while not os.path.exists(started) and time.monotonic() < deadline:
        time.sleep(0.005)
    waiting = task.options(num_cpus=2).remote()  # fits once `hold` is done: no error
    waiting_actor = Actor.options(num_cpus=2).remote()
    ping = waiting_actor.ping.remote()
    ready, not_ready = caliper.wait([waiting, ping], num_returns=2, timeout=0.3)
    assert ready == [] and not_ready == [waiting, ping]
    assert caliper.get(task.options(num_cpus=1).remote(), timeout=10) == "ran"  # 1 CPU is free
    open(gate, "w").close()
    assert caliper.get([holder, waiting, ping], timeout=10) == ["held", "ran", "pong"]
