"""Unit tests of the runtime's state machine, ``RuntimeState``: events in, instructions out.

No process is started: each test plays the I/O side by hand. It calls the event methods the
local backend calls (``submit_task``, ``worker_connected``, ``worker_done``, ``worker_died``...),
then checks the instructions that accumulated in ``state.out`` (``Send``, ``StartWorker``,
``KillWorker``), the objects (``is_done``/``result``) and the node's resource ledger.

Worker ids are handed out by the state from 1 upwards, so a test can name them; object, actor
and placement-group ids are chosen by the test.
"""

from __future__ import annotations

import pickle

import pytest

from caliper.core.entities import KillWorker, Send, StartWorker
from caliper.core.exceptions import (
    ActorDiedError,
    InfeasibleRequestError,
    TaskCancelledError,
    TaskError,
    WorkerCrashedError,
)
from caliper.core.placement import Strategy
from caliper.core.protocol import Msg, Status
from caliper.core.resources import NodeResources, Request
from caliper.core.serialization import dumps, pack_exception, value_for
from caliper.core.specs import ActorSpec, CallSpec, Placement, TaskSpec
from caliper.core.state import RuntimeState

ARGS = pickle.dumps(((), {}))
CLS = b"class blob"
NO_DEPS: list = []  # what the state sends for a task or call without dependencies


# -- helpers ---------------------------------------------------------------------------------


def make_state(num_cpus: float = 2, num_gpus: int = 2, max_idle_workers: int = 2) -> RuntimeState:
    node = NodeResources.create("local", num_cpus=num_cpus, num_gpus=num_gpus, memory=1e9)
    return RuntimeState([node], [str(i) for i in range(num_gpus)], max_idle_workers)


@pytest.fixture
def state() -> RuntimeState:
    """2 CPUs, 2 GPUs named "0" and "1", 1 GB of memory, at most 2 idle workers."""
    return make_state()


def fn_blob(fn_id: int) -> bytes:
    return b"function %d" % fn_id


def task(
    obj_id: int,
    *,
    cpus: float = 1,
    gpus: float = 0,
    deps: tuple[int, ...] = (),
    fn_id: int = 1,
    pg: Placement | None = None,
    max_retries: int = 0,
    retry_exceptions: bool = False,
) -> TaskSpec:
    return TaskSpec(
        obj_id=obj_id,
        fn_id=fn_id,
        fn_blob=fn_blob(fn_id),
        name=f"task{obj_id}",
        args_blob=ARGS,
        deps=deps,
        request=Request.from_amounts(num_cpus=cpus, num_gpus=gpus),
        placement=pg,
        max_retries=max_retries,
        retry_exceptions=retry_exceptions,
    )


def actor(
    actor_id: int,
    obj_id: int,
    *,
    cpus: float = 1,
    gpus: float = 0,
    deps: tuple[int, ...] = (),
    pg: Placement | None = None,
    max_restarts: int = 0,
) -> ActorSpec:
    return ActorSpec(
        actor_id=actor_id,
        obj_id=obj_id,
        cls_blob=CLS,
        name=f"Actor{actor_id}",
        args_blob=ARGS,
        deps=deps,
        request=Request.from_amounts(num_cpus=cpus, num_gpus=gpus),
        placement=pg,
        max_restarts=max_restarts,
    )


def call(obj_id: int, actor_id: int, method: str = "f", deps: tuple[int, ...] = ()) -> CallSpec:
    return CallSpec(obj_id=obj_id, actor_id=actor_id, method=method, args_blob=ARGS, deps=deps)


def take(state: RuntimeState) -> list:
    """The instructions emitted since the last call (the I/O side carries them out)."""
    out = list(state.out)
    state.out.clear()
    return out


def connect(state: RuntimeState, *worker_ids: int) -> list:
    """Answer ``StartWorker`` instructions: the workers say HELLO (pid = 1000 + id)."""
    for wid in worker_ids:
        state.worker_connected(wid, 1000 + wid)
    return take(state)


def finish(state: RuntimeState, wid: int, obj_id: int, value: object = None) -> list:
    """The worker ``wid`` reports ``obj_id`` done with ``value``."""
    state.worker_done(wid, obj_id, Status.OK, pickle.dumps(value))
    return take(state)


def raise_in(state: RuntimeState, wid: int, obj_id: int, exc: BaseException) -> list:
    """The worker ``wid`` reports that user code raised ``exc`` while computing ``obj_id``."""
    state.worker_done(wid, obj_id, Status.TASK_ERROR, pack_exception(f"fn{obj_id}", exc))
    return take(state)


def task_msg(obj_id: int, fn_id: int = 1, blob: bool = True, deps: list | None = None) -> tuple:
    return (Msg.TASK, obj_id, fn_id, fn_blob(fn_id) if blob else None, ARGS, deps or NO_DEPS, 1)


def create_msg(obj_id: int, deps: list | None = None) -> tuple:
    return (Msg.CREATE_ACTOR, obj_id, CLS, ARGS, deps or NO_DEPS)


def call_msg(obj_id: int, method: str = "f", deps: list | None = None) -> tuple:
    return (Msg.CALL, obj_id, method, ARGS, deps or NO_DEPS, 1, 0.0)


def value(state: RuntimeState, obj_id: int) -> object:
    assert state.is_done(obj_id), f"object {obj_id} is not done"
    return value_for(*state.result(obj_id))


def error(state: RuntimeState, obj_id: int) -> BaseException:
    """The exception ``get`` would raise for ``obj_id`` (which must have failed)."""
    assert state.is_done(obj_id), f"object {obj_id} is not done"
    with pytest.raises(Exception) as info:
        value_for(*state.result(obj_id))
    return info.value


def ledger(node: NodeResources) -> tuple:
    """Everything a ledger holds, for exact before/after comparisons."""
    return (
        node.avail_cpu,
        node.avail_memory,
        dict(node.avail_custom),
        dict(node.avail_gpu),
        node.cpu,
        node.memory,
        dict(node.custom),
        dict(node.gpu_capacity),
    )


def run_task(state: RuntimeState, spec: TaskSpec) -> int:
    """Submit ``spec`` on an idle machine, start its worker; returns the worker id."""
    state.submit_task(spec)
    (start,) = take(state)
    assert isinstance(start, StartWorker)
    connect(state, start.worker_id)
    return start.worker_id


def alive_actor(state: RuntimeState, spec: ActorSpec) -> int:
    """Create the actor, start its worker, run the constructor; returns the worker id."""
    state.create_actor(spec)
    (start,) = take(state)
    assert connect(state, start.worker_id) == [Send(start.worker_id, create_msg(spec.obj_id))]
    assert finish(state, start.worker_id, spec.obj_id) == []
    return start.worker_id


# -- tasks ---------------------------------------------------------------------------------


def test_task_starts_a_worker_then_is_sent_to_it(state):
    state.submit_task(task(10))
    assert take(state) == [StartWorker(1, "")]
    assert not state.is_done(10)

    assert connect(state, 1) == [Send(1, task_msg(10))]

    assert finish(state, 1, 10, 42) == []
    assert value(state, 10) == 42
    assert state.completed


def test_task_resources_are_held_while_running_and_released_when_done(state):
    node = state.nodes[0]
    before = ledger(node)
    state.submit_task(task(10, cpus=1.5, gpus=0.25))
    take(state)
    assert node.avail_cpu == 5_000
    assert node.avail_gpu == {0: 7_500, 1: 10_000}
    connect(state, 1)
    assert node.avail_cpu == 5_000  # held while running too

    finish(state, 1, 10)
    assert ledger(node) == before


def test_second_task_reuses_the_idle_worker(state):
    wid = run_task(state, task(10))
    finish(state, wid, 10)

    state.submit_task(task(11))
    assert take(state) == [Send(wid, task_msg(11, blob=False))]
    finish(state, wid, 11, "b")
    assert value(state, 11) == "b"


def test_function_blob_is_sent_only_the_first_time_to_a_worker(state):
    state.submit_task(task(10, fn_id=7))
    take(state)
    assert connect(state, 1) == [Send(1, task_msg(10, fn_id=7))]
    finish(state, 1, 10)
    state.submit_task(task(11, fn_id=7))
    assert take(state) == [Send(1, task_msg(11, fn_id=7, blob=False))]
    finish(state, 1, 11)
    state.submit_task(task(12, fn_id=8))  # another function: its blob goes along
    assert take(state) == [Send(1, task_msg(12, fn_id=8))]


def test_function_blob_goes_with_the_first_task_of_each_worker(state):
    state.submit_task(task(10, fn_id=7))
    state.submit_task(task(11, fn_id=7))
    assert take(state) == [StartWorker(1, ""), StartWorker(2, "")]
    assert connect(state, 1, 2) == [
        Send(1, task_msg(10, fn_id=7)),
        Send(2, task_msg(11, fn_id=7)),
    ]


def test_third_one_cpu_task_waits_until_one_finishes(state):
    for obj_id in (10, 11, 12):
        state.submit_task(task(obj_id))
    assert take(state) == [StartWorker(1, ""), StartWorker(2, "")]
    assert connect(state, 1, 2) == [Send(1, task_msg(10)), Send(2, task_msg(11))]
    assert state.nodes[0].avail_cpu == 0

    assert finish(state, 2, 11) == [Send(2, task_msg(12, blob=False))]
    assert state.nodes[0].avail_cpu == 0
    finish(state, 1, 10)
    finish(state, 2, 12)
    assert state.nodes[0].avail_cpu == 20_000
    assert [value(state, i) for i in (10, 11, 12)] == [None, None, None]


def test_infeasible_task_raises_at_submission_naming_the_request(state):
    with pytest.raises(InfeasibleRequestError) as info:
        state.submit_task(task(10, cpus=3))
    message = str(info.value)
    assert "'CPU': 3.0" in message
    assert "local" in message and "'CPU': 2.0" in message  # the node's size
    assert state.out == []
    assert 10 not in state.tasks and not state.is_done(10)


def test_whole_gpus_beyond_the_node_are_infeasible(state):
    with pytest.raises(InfeasibleRequestError, match="GPU"):
        state.submit_task(task(10, cpus=0, gpus=3))


# -- dependencies ------------------------------------------------------------------------------


def test_task_waits_for_a_pending_put_then_gets_its_value(state):
    state.submit_task(task(10, deps=(5,)))
    assert take(state) == []  # no worker, no send while the argument is missing
    assert state.nodes[0].avail_cpu == 20_000  # and no resources held

    state.put(5, pickle.dumps("arg"))
    assert take(state) == [StartWorker(1, "")]
    assert connect(state, 1) == [Send(1, task_msg(10, deps=[pickle.dumps("arg")]))]


def test_task_waits_for_the_task_producing_its_argument(state):
    wid = run_task(state, task(10))
    state.submit_task(task(11, deps=(10,)))
    assert take(state) == []

    out = finish(state, wid, 10, "x")
    out += connect(state, *[i.worker_id for i in out if isinstance(i, StartWorker)])
    (sent,) = [i for i in out if isinstance(i, Send)]
    assert sent.msg[:2] == (Msg.TASK, 11)
    assert sent.msg[5] == [pickle.dumps("x")]


def test_failed_dependency_fails_the_dependent_task_without_running_it(state):
    wid = run_task(state, task(10))
    state.submit_task(task(11, deps=(10,)))
    out = raise_in(state, wid, 10, ValueError("boom"))
    out += connect(state, *[i.worker_id for i in out if isinstance(i, StartWorker)])

    assert not any(isinstance(i, Send) and i.msg[0] == Msg.TASK for i in out)
    assert state.result(11) == state.result(10)
    err = error(state, 11)
    assert isinstance(err, TaskError) and isinstance(err, ValueError)
    assert "boom" in str(err)
    assert state.nodes[0].avail_cpu == 20_000


def test_failed_put_dependency_fails_the_dependent_task_on_an_idle_worker(state):
    wid = run_task(state, task(10))
    finish(state, wid, 10)
    state.put(5, dumps(KeyError("gone")), Status.RAISED)
    state.submit_task(task(11, deps=(5,)))
    assert take(state) == []
    assert isinstance(error(state, 11), KeyError)
    assert state.pool.idle[""] == [state.workers[wid]]  # the worker went back to the pool
    assert state.nodes[0].avail_cpu == 20_000


def test_dependent_task_reuses_the_worker_that_produced_its_argument(state):
    wid = run_task(state, task(10))
    state.submit_task(task(11, deps=(10,)))
    assert finish(state, wid, 10, "x") == [
        Send(wid, task_msg(11, blob=False, deps=[pickle.dumps("x")]))
    ]


def test_resources_of_a_task_failed_at_dispatch_go_to_queued_work(state):
    wid = run_task(state, task(10))  # 1 of 2 CPUs
    state.put(5, dumps(KeyError("gone")), Status.RAISED)
    state.submit_task(task(11, deps=(5,)))  # takes the other CPU and a new worker
    assert take(state) == [StartWorker(2, "")]
    state.submit_task(task(12, cpus=2))  # queued
    finish(state, wid, 10)
    assert state.nodes[0].avail_cpu == 10_000  # 11 still holds one: 12 waits

    out = connect(state, 2)  # 11 fails at dispatch: both CPUs are free again
    assert isinstance(error(state, 11), KeyError)
    assert state.nodes[0].avail_cpu == 0  # ... and 12 has them
    assert any(isinstance(i, Send) and i.msg[:2] == (Msg.TASK, 12) for i in out)


# -- retries -----------------------------------------------------------------------------------


def test_worker_death_retries_the_task_then_fails_with_worker_crashed_error(state):
    node = state.nodes[0]
    before = ledger(node)
    wid = run_task(state, task(10, max_retries=2))
    for expected_new in (2, 3):
        state.worker_died(wid, -9)
        assert not state.is_done(10)
        assert take(state) == [StartWorker(expected_new, "")]
        assert node.avail_cpu == 10_000  # held again by the retry
        assert connect(state, expected_new) == [Send(expected_new, task_msg(10))]
        wid = expected_new

    state.worker_died(wid, -9)
    assert take(state) == []
    err = error(state, 10)
    assert isinstance(err, WorkerCrashedError)
    assert err.exitcode == -9 and err.signal == 9
    assert err.pid == 1000 + wid
    assert "task10" in str(err) and "SIGKILL" in str(err)
    assert ledger(node) == before
    assert 10 not in state.tasks


def test_worker_death_with_no_retries_fails_at_once(state):
    wid = run_task(state, task(10, max_retries=0))
    state.worker_died(wid, 3)
    assert take(state) == []
    err = error(state, 10)
    assert isinstance(err, WorkerCrashedError) and err.exitcode == 3 and err.signal is None


def test_retry_exceptions_retries_an_application_error(state):
    wid = run_task(state, task(10, max_retries=1, retry_exceptions=True))
    out = raise_in(state, wid, 10, ValueError("flaky"))
    assert out == [Send(wid, task_msg(10, blob=False))]  # same (now idle) worker, again
    assert not state.is_done(10)

    finish(state, wid, 10, "ok")
    assert value(state, 10) == "ok"
    assert state.nodes[0].avail_cpu == 20_000


def test_retry_exceptions_gives_up_after_max_retries(state):
    wid = run_task(state, task(10, max_retries=1, retry_exceptions=True))
    raise_in(state, wid, 10, ValueError("first"))
    assert raise_in(state, wid, 10, ValueError("second")) == []
    err = error(state, 10)
    assert isinstance(err, ValueError) and "second" in str(err)


def test_application_error_is_not_retried_by_default(state):
    wid = run_task(state, task(10, max_retries=3))
    assert raise_in(state, wid, 10, ValueError("bad")) == []
    err = error(state, 10)
    assert isinstance(err, TaskError) and isinstance(err, ValueError)
    assert state.nodes[0].avail_cpu == 20_000


def test_dependency_is_kept_for_a_retry_and_freed_after(state):
    state.put(5, pickle.dumps("arg"))
    wid = run_task(state, task(10, deps=(5,), max_retries=1))
    state.release_objects([5])  # the driver dropped its ref: the running task still needs it
    assert 5 in state.objects

    state.worker_died(wid, -9)
    assert take(state) == [StartWorker(2, "")]
    assert connect(state, 2) == [Send(2, task_msg(10, deps=[pickle.dumps("arg")]))]
    finish(state, 2, 10)
    assert 5 not in state.objects


# -- actors ------------------------------------------------------------------------------------


def test_actor_creation_sends_create_actor_and_holds_resources(state):
    node = state.nodes[0]
    state.create_actor(actor(1, 100, cpus=1))
    assert take(state) == [StartWorker(1, "")]
    assert node.avail_cpu == 10_000
    assert connect(state, 1) == [Send(1, create_msg(100))]
    assert not state.is_done(100)
    assert finish(state, 1, 100) == []
    assert value(state, 100) is None
    assert node.avail_cpu == 10_000  # an actor keeps its resources while alive


def test_calls_before_the_actor_is_alive_are_sent_in_order_after_creation(state):
    state.create_actor(actor(1, 100))
    take(state)
    for obj_id in (101, 102, 103):
        state.submit_call(call(obj_id, 1, method=f"m{obj_id}"))
    assert take(state) == []
    assert connect(state, 1) == [Send(1, create_msg(100))]  # the constructor first

    assert finish(state, 1, 100) == [
        Send(1, call_msg(101, "m101")),
        Send(1, call_msg(102, "m102")),
        Send(1, call_msg(103, "m103")),
    ]
    for obj_id in (101, 102, 103):
        finish(state, 1, obj_id, obj_id * 2)
    assert [value(state, i) for i in (101, 102, 103)] == [202, 204, 206]


def test_calls_to_a_live_actor_are_sent_at_once_in_order(state):
    wid = alive_actor(state, actor(1, 100))
    state.submit_call(call(101, 1, "a"))
    assert take(state) == [Send(wid, call_msg(101, "a"))]
    state.submit_call(call(102, 1, "b"))
    state.submit_call(call(103, 1, "c"))
    assert take(state) == [Send(wid, call_msg(102, "b")), Send(wid, call_msg(103, "c"))]


def test_a_call_waiting_for_an_argument_holds_back_the_calls_after_it(state):
    wid = alive_actor(state, actor(1, 100))
    state.submit_call(call(101, 1, "a"))
    state.submit_call(call(102, 1, "b", deps=(5,)))  # 5 not ready yet
    state.submit_call(call(103, 1, "c"))
    assert take(state) == [Send(wid, call_msg(101, "a"))]

    state.put(5, pickle.dumps("v"))
    assert take(state) == [
        Send(wid, call_msg(102, "b", deps=[pickle.dumps("v")])),
        Send(wid, call_msg(103, "c")),
    ]


def test_a_call_with_a_failed_argument_fails_and_the_next_calls_go_on(state):
    wid = alive_actor(state, actor(1, 100))
    state.submit_call(call(101, 1, "a", deps=(5,)))
    state.submit_call(call(102, 1, "b"))
    state.put(5, dumps(KeyError("nope")), Status.RAISED)
    assert take(state) == [Send(wid, call_msg(102, "b"))]
    assert isinstance(error(state, 101), KeyError)


def test_constructor_error_kills_the_actor_and_fails_every_call(state):
    node = state.nodes[0]
    before = ledger(node)
    state.create_actor(actor(1, 100))
    state.submit_call(call(101, 1))
    take(state)
    connect(state, 1)

    out = raise_in(state, 1, 100, ValueError("bad config"))
    assert out == [KillWorker(1)]
    assert isinstance(error(state, 100), ActorDiedError)
    assert isinstance(error(state, 101), ActorDiedError)
    state.submit_call(call(102, 1))
    assert take(state) == []
    assert isinstance(error(state, 102), ActorDiedError)
    assert ledger(node) != before  # held until the killed process is gone
    state.worker_died(1, -9)
    assert ledger(node) == before


def test_constructor_error_says_why_the_constructor_failed(state):
    state.create_actor(actor(1, 100))
    take(state)
    connect(state, 1)
    raise_in(state, 1, 100, ValueError("bad config"))
    err = error(state, 100)
    chain = [err, err.__cause__, getattr(err, "cause", None)]
    assert "bad config" in str(err) or any(isinstance(e, ValueError) for e in chain)


def test_actor_restarts_after_its_worker_dies_then_dies_for_good(state):
    node = state.nodes[0]
    before = ledger(node)
    wid = alive_actor(state, actor(1, 100, max_restarts=1))
    state.submit_call(call(101, 1))
    take(state)

    state.worker_died(wid, -9)
    err = error(state, 101)  # the in-flight call is lost
    assert isinstance(err, ActorDiedError) and "SIGKILL" in str(err)
    assert take(state) == [StartWorker(2, "")]  # a new process for the same actor
    assert node.avail_cpu == 10_000  # its resources stay reserved through the restart

    state.submit_call(call(102, 1))  # submitted while restarting: queued
    assert take(state) == []
    assert connect(state, 2) == [Send(2, create_msg(100))]
    assert finish(state, 2, 100) == [Send(2, call_msg(102))]
    finish(state, 2, 102, "after restart")
    assert value(state, 102) == "after restart"

    state.submit_call(call(103, 1))
    take(state)
    state.worker_died(2, 1)  # no restarts left
    assert take(state) == []
    assert isinstance(error(state, 103), ActorDiedError)
    state.submit_call(call(104, 1))
    assert isinstance(error(state, 104), ActorDiedError)
    assert ledger(node) == before


def test_actor_restart_resends_constructor_arguments_the_driver_dropped(state):
    state.put(5, pickle.dumps("config"))
    state.create_actor(actor(1, 100, deps=(5,), max_restarts=1))
    state.release_objects([5])  # e.g. A.remote(caliper.put(x)): the put ref is a temporary
    take(state)
    assert connect(state, 1) == [Send(1, create_msg(100, deps=[pickle.dumps("config")]))]
    finish(state, 1, 100)

    state.worker_died(1, -9)
    assert take(state) == [StartWorker(2, "")]
    assert connect(state, 2) == [Send(2, create_msg(100, deps=[pickle.dumps("config")]))]


def test_kill_actor_without_restart_kills_its_worker_and_fails_later_calls(state):
    node = state.nodes[0]
    before = ledger(node)
    wid = alive_actor(state, actor(1, 100, max_restarts=3))
    state.submit_call(call(101, 1))
    take(state)

    state.kill_actor(1, no_restart=True)
    assert take(state) == [KillWorker(wid)]
    assert isinstance(error(state, 101), ActorDiedError)
    assert ledger(node) != before  # held until the process is reaped (it may hold GPU memory)

    state.worker_died(wid, -9)
    assert take(state) == []  # no restart
    assert ledger(node) == before
    state.submit_call(call(102, 1))
    err = error(state, 102)
    assert isinstance(err, ActorDiedError) and "killed" in str(err)


def test_kill_actor_with_restart_restarts_it(state):
    wid = alive_actor(state, actor(1, 100, max_restarts=1))
    state.submit_call(call(101, 1))
    take(state)
    state.kill_actor(1, no_restart=False)
    # the replacement starts at once; the call in flight fails, calls made now wait for it
    assert take(state) == [StartWorker(2, ""), KillWorker(wid)]
    assert isinstance(error(state, 101), ActorDiedError)
    state.submit_call(call(102, 1))
    assert take(state) == []
    state.worker_died(wid, -9)  # the old process going away changes nothing
    assert take(state) == []
    assert connect(state, 2) == [Send(2, create_msg(100))]
    assert finish(state, 2, 100) == [Send(2, call_msg(102))]


def test_release_actor_without_pending_calls_sends_exit_and_frees_resources(state):
    node = state.nodes[0]
    before = ledger(node)
    wid = alive_actor(state, actor(1, 100))
    state.release_actor(1)
    assert take(state) == [Send(wid, (Msg.EXIT,))]
    assert ledger(node) != before  # held until the process has exited
    state.worker_died(wid, 0)
    assert take(state) == []
    assert ledger(node) == before


def test_release_actor_with_pending_calls_exits_after_they_are_answered(state):
    node = state.nodes[0]
    wid = alive_actor(state, actor(1, 100))
    state.submit_call(call(101, 1))
    state.submit_call(call(102, 1, deps=(5,)))  # not even sent yet
    take(state)

    state.release_actor(1)
    assert take(state) == []
    assert finish(state, wid, 101, 1) == []
    assert node.avail_cpu == 10_000

    assert take(state) == []
    state.put(5, pickle.dumps(0))
    assert take(state) == [Send(wid, call_msg(102, deps=[pickle.dumps(0)]))]
    assert finish(state, wid, 102, 2) == [Send(wid, (Msg.EXIT,))]
    assert (value(state, 101), value(state, 102)) == (1, 2)
    state.worker_died(wid, 0)
    assert node.avail_cpu == 20_000


def test_release_starting_actor_with_pending_calls_answers_them_first(state):
    state.create_actor(actor(1, 100))
    state.submit_call(call(101, 1))
    take(state)
    state.release_actor(1)
    connect(state, 1)
    assert finish(state, 1, 100) == [Send(1, call_msg(101))]
    assert finish(state, 1, 101, "x") == [Send(1, (Msg.EXIT,))]
    assert value(state, 101) == "x"


def test_release_queued_actor_with_pending_calls_answers_them_first(state):
    wid = run_task(state, task(10, cpus=2))  # the machine is full
    state.create_actor(actor(1, 100))
    state.submit_call(call(101, 1))
    state.release_actor(1)  # the handle was a temporary
    assert take(state) == []
    assert not state.is_done(101)

    assert finish(state, wid, 10) == [Send(wid, create_msg(100))]
    assert finish(state, wid, 100) == [Send(wid, call_msg(101))]
    assert finish(state, wid, 101, "x") == [Send(wid, (Msg.EXIT,))]


def test_actor_waiting_for_a_failed_constructor_argument_dies_without_starting(state):
    state.create_actor(actor(1, 100, deps=(5,)))
    state.submit_call(call(101, 1))
    assert take(state) == []
    state.put(5, dumps(KeyError("missing")), Status.RAISED)
    out = take(state)
    out += connect(state, *[i.worker_id for i in out if isinstance(i, StartWorker)])
    assert not any(isinstance(i, Send) for i in out)
    assert isinstance(error(state, 100), KeyError)  # the argument's own error
    assert isinstance(error(state, 101), ActorDiedError)
    assert state.nodes[0].avail_cpu == 20_000


def test_queued_actor_with_failed_constructor_argument_dies_cleanly(state):
    wid = run_task(state, task(10, cpus=2))  # the machine is full
    state.put(5, dumps(KeyError("missing")), Status.RAISED)
    state.create_actor(actor(1, 100, deps=(5,)))  # queued for resources
    assert take(state) == []

    out = finish(state, wid, 10)  # today: IndexError, pop from an empty deque
    assert not any(isinstance(i, StartWorker | Send) for i in out)
    assert isinstance(error(state, 100), KeyError)
    assert state.nodes[0].avail_cpu == 20_000


def test_named_actor_lookup_and_name_freed_at_death(state):
    spec = actor(1, 100)
    spec.registered_name = "counter"
    wid = alive_actor(state, spec)
    assert state.lookup_actor("counter")[0] == 1
    dup = actor(2, 200)
    dup.registered_name = "counter"
    with pytest.raises(ValueError, match="counter"):
        state.create_actor(dup)
    state.kill_actor(1)
    take(state)
    state.worker_died(wid, -9)
    assert state.lookup_actor("counter") is None
    state.create_actor(dup)  # the name is free again


# -- placement groups --------------------------------------------------------------------------


def cpu_bundle(cpus: float, gpus: float = 0) -> Request:
    return Request.from_amounts(num_cpus=cpus, num_gpus=gpus)


def test_placement_group_that_fits_is_ready_at_once(state):
    state.create_pg(1, [cpu_bundle(1), cpu_bundle(1, 0.5)], Strategy.PACK, 50)
    assert take(state) == []
    assert value(state, 50) is True
    node = state.nodes[0]
    assert node.avail_cpu == 0
    assert node.avail_gpu == {0: 5_000, 1: 10_000}


def test_task_in_a_bundle_takes_from_the_bundle_not_the_node(state):
    state.create_pg(1, [cpu_bundle(1, 0.5)], Strategy.PACK, 50)
    node = state.nodes[0]
    node_before = ledger(node)
    bundle = state.pgs[1].ledgers[0]

    state.submit_task(task(10, cpus=1, gpus=0.5, pg=Placement(1, 0)))
    assert take(state) == [StartWorker(1, "0")]  # the bundle's device
    assert ledger(node) == node_before
    assert (bundle.avail_cpu, bundle.avail_gpu) == (0, {0: 0})

    connect(state, 1)
    finish(state, 1, 10)
    assert ledger(node) == node_before
    assert (bundle.avail_cpu, bundle.avail_gpu) == (10_000, {0: 5_000})


def test_task_in_a_full_bundle_waits_for_the_bundle_not_the_node(state):
    state.create_pg(1, [cpu_bundle(1)], Strategy.PACK, 50)
    wid = run_task(state, task(10, pg=Placement(1, 0)))
    state.submit_task(task(11, pg=Placement(1, -1)))  # the node has a free CPU; the group not
    assert take(state) == []
    assert finish(state, wid, 10) == [Send(wid, task_msg(11, blob=False))]


def test_group_that_does_not_fit_now_waits_until_the_first_is_removed(state):
    state.create_pg(1, [cpu_bundle(2)], Strategy.PACK, 50)
    state.create_pg(2, [cpu_bundle(1)], Strategy.PACK, 60)
    assert value(state, 50) is True
    assert not state.is_done(60)

    state.remove_pg(1)
    assert value(state, 60) is True
    assert state.nodes[0].avail_cpu == 10_000
    state.remove_pg(2)
    assert state.nodes[0].avail_cpu == 20_000


def test_remove_pg_kills_its_actors_and_cancels_its_tasks(state):
    node = state.nodes[0]
    before = ledger(node)
    state.create_pg(1, [cpu_bundle(1), cpu_bundle(1)], Strategy.PACK, 50)
    actor_worker = alive_actor(state, actor(1, 100, pg=Placement(1, 0)))
    state.submit_call(call(101, 1))
    assert take(state) == [Send(actor_worker, call_msg(101))]
    task_worker = run_task(state, task(10, pg=Placement(1, 1)))
    state.submit_task(task(11, pg=Placement(1, 1)))  # queued: bundle 1 is busy
    state.submit_task(task(12, pg=Placement(1, 1), deps=(5,)))  # waiting for an argument
    take(state)

    state.remove_pg(1)
    out = take(state)
    assert sorted(i.worker_id for i in out if isinstance(i, KillWorker)) == sorted(
        [actor_worker, task_worker]
    )
    assert not any(isinstance(i, Send | StartWorker) for i in out)
    assert isinstance(error(state, 101), ActorDiedError)
    for obj_id in (10, 11, 12):
        assert isinstance(error(state, obj_id), TaskCancelledError)
    assert state.queues == {}
    assert ledger(node) == before

    state.put(5, pickle.dumps(1))  # the cancelled task does not come back
    state.worker_died(actor_worker, -9)
    state.worker_died(task_worker, -9)
    assert take(state) == []
    with pytest.raises(ValueError, match="removed"):
        state.submit_task(task(13, pg=Placement(1, 0)))


def test_remove_pending_pg_fails_its_ready_object(state):
    state.create_pg(1, [cpu_bundle(2)], Strategy.PACK, 50)
    state.create_pg(2, [cpu_bundle(2)], Strategy.PACK, 60)
    state.remove_pg(2)
    assert isinstance(error(state, 60), TaskCancelledError)
    state.remove_pg(1)
    assert state.nodes[0].avail_cpu == 20_000
    assert not state.pg_queue


def test_infeasible_pg_raises_at_creation(state):
    with pytest.raises(InfeasibleRequestError, match="STRICT_PACK"):
        state.create_pg(1, [cpu_bundle(1), cpu_bundle(2)], Strategy.STRICT_PACK, 50)
    with pytest.raises(InfeasibleRequestError, match="CPU"):
        state.create_pg(2, [cpu_bundle(3)], Strategy.PACK, 60)
    assert state.pgs == {}
    assert state.nodes[0].avail_cpu == 20_000


def test_task_larger_than_its_bundle_is_infeasible(state):
    state.create_pg(1, [cpu_bundle(1), cpu_bundle(0.5)], Strategy.PACK, 50)
    with pytest.raises(InfeasibleRequestError, match="bundle"):
        state.submit_task(task(10, cpus=1, pg=Placement(1, 1)))
    with pytest.raises(InfeasibleRequestError):
        state.submit_task(task(11, cpus=0, gpus=1, pg=Placement(1, -1)))
    state.submit_task(task(12, cpus=1, pg=Placement(1, -1)))  # fits bundle 0
    assert take(state) == [StartWorker(1, "")]


def test_bad_bundle_index_raises_value_error(state):
    state.create_pg(1, [cpu_bundle(1)], Strategy.PACK, 50)
    for index in (1, -2):
        with pytest.raises(ValueError, match="placement_group_bundle_index"):
            state.submit_task(task(10, pg=Placement(1, index)))
    with pytest.raises(ValueError, match="placement_group_bundle_index"):
        state.create_actor(actor(1, 100, pg=Placement(1, 5)))
    assert state.out == []


def test_remove_pg_does_not_kill_a_worker_its_dead_actor_gave_back(state):
    state.create_pg(1, [cpu_bundle(1)], Strategy.PACK, 50)
    state.put(5, dumps(KeyError("missing")), Status.RAISED)
    state.create_actor(actor(1, 100, deps=(5,), pg=Placement(1, 0)))
    assert take(state) == [StartWorker(1, "")]
    assert connect(state, 1) == []  # the actor dies at dispatch; worker 1 becomes idle
    state.submit_task(task(10))  # an unrelated task reuses worker 1
    assert take(state) == [Send(1, task_msg(10))]

    state.remove_pg(1)
    assert KillWorker(1) not in take(state)


# -- GPU assignment ----------------------------------------------------------------------------


def test_half_gpu_actors_are_packed_two_per_device(state):
    for i in range(4):
        state.create_actor(actor(i + 1, 100 + i, cpus=0, gpus=0.5))
    assert take(state) == [
        StartWorker(1, "0"),
        StartWorker(2, "0"),
        StartWorker(3, "1"),
        StartWorker(4, "1"),
    ]
    assert state.nodes[0].avail_gpu == {0: 0, 1: 0}


def test_whole_gpu_request_gets_an_entirely_free_device(state):
    state.create_actor(actor(1, 100, cpus=0, gpus=0.5))  # device 0, half used
    assert take(state) == [StartWorker(1, "0")]
    state.submit_task(task(10, cpus=0, gpus=1))
    assert take(state) == [StartWorker(2, "1")]
    state.submit_task(task(11, cpus=0, gpus=1))  # device 0 is not entirely free: waits
    assert take(state) == []


def test_two_gpu_request_names_both_devices(state):
    state.submit_task(task(10, cpus=0, gpus=2))
    assert take(state) == [StartWorker(1, "0,1")]


def test_idle_workers_are_reused_only_for_the_same_devices(state):
    wid_gpu = run_task(state, task(10, cpus=0, gpus=1))  # device 0
    finish(state, wid_gpu, 10)
    state.submit_task(task(11, cpus=1))  # no GPU: must not run where CUDA names device 0
    assert take(state) == [StartWorker(2, "")]
    connect(state, 2)
    state.submit_task(task(12, cpus=0, gpus=1))  # device 0 again: the idle worker fits
    assert take(state) == [Send(wid_gpu, task_msg(12, blob=False))]


def test_gpu_names_are_used_in_start_worker(state):
    custom = RuntimeState(
        [NodeResources.create("local", num_cpus=2, num_gpus=2)], ["GPU-a", "GPU-b"], 2
    )
    custom.submit_task(task(10, cpus=0, gpus=2))
    assert take(custom) == [StartWorker(1, "GPU-a,GPU-b")]


# -- objects and memory ------------------------------------------------------------------------


def test_release_of_a_done_object_deletes_it(state):
    state.put(5, pickle.dumps(1))
    assert 5 in state.objects
    state.release_objects([5])
    assert 5 not in state.objects
    state.release_objects([5, 999])  # unknown ids are ignored


def test_release_of_a_pending_object_deletes_it_when_it_finishes(state):
    wid = run_task(state, task(10))
    state.release_objects([10])
    assert 10 in state.objects
    finish(state, wid, 10, "unused")
    assert 10 not in state.objects
    assert state.nodes[0].avail_cpu == 20_000


def test_object_needed_by_a_queued_task_is_kept_until_that_task_ran(state):
    busy = run_task(state, task(9, cpus=2))
    state.put(5, pickle.dumps("payload"))
    state.submit_task(task(10, deps=(5,)))  # queued for a CPU
    state.release_objects([5])
    assert 5 in state.objects

    assert finish(state, busy, 9) == [
        Send(busy, task_msg(10, blob=False, deps=[pickle.dumps("payload")]))
    ]
    finish(state, busy, 10)
    assert 5 not in state.objects


def test_object_needed_by_a_waiting_actor_call_is_kept_until_sent(state):
    wid = alive_actor(state, actor(1, 100))
    state.put(5, pickle.dumps("v"))
    state.submit_call(call(101, 1, deps=(6,)))
    state.submit_call(call(102, 1, deps=(5,)))  # blocked behind 101
    state.release_objects([5])
    assert 5 in state.objects
    state.put(6, pickle.dumps("w"))
    assert take(state) == [
        Send(wid, call_msg(101, deps=[pickle.dumps("w")])),
        Send(wid, call_msg(102, deps=[pickle.dumps("v")])),
    ]
    assert 5 not in state.objects


def test_ten_thousand_tenth_gpu_tasks_leave_the_ledger_exact():
    state = make_state(max_idle_workers=32)
    node = state.nodes[0]
    before = ledger(node)
    n = 10_000
    for obj_id in range(1, n + 1):
        state.submit_task(task(obj_id, cpus=0, gpus=0.1))
    running: list[tuple[int, int]] = []
    finished = 0
    while True:
        for instr in take(state):
            if isinstance(instr, StartWorker):
                state.worker_connected(instr.worker_id, 1000 + instr.worker_id)
            elif isinstance(instr, Send):
                running.append((instr.worker_id, instr.msg[1]))
            elif isinstance(instr, KillWorker):
                state.worker_died(instr.worker_id, -9)
        if state.out:
            continue
        if not running:
            break
        assert len(running) <= 20  # 10 per device
        wid, obj_id = running.pop(0)
        state.worker_done(wid, obj_id, Status.OK, b"")
        state.release_objects([obj_id])
        finished += 1
    assert finished == n
    assert ledger(node) == before
    assert state.objects == {} and state.tasks == {} and state.queues == {}
    assert len(state.workers) == 20  # ten shares per device, never more processes


def test_idle_workers_beyond_the_limit_are_stopped(state):
    for obj_id in (10, 11, 12):
        state.submit_task(task(obj_id, cpus=0))
    assert take(state) == [StartWorker(1, ""), StartWorker(2, ""), StartWorker(3, "")]
    connect(state, 1, 2, 3)
    assert finish(state, 1, 10) == []
    assert finish(state, 2, 11) == []
    assert finish(state, 3, 12) == [KillWorker(1)]  # max_idle_workers=2: the oldest goes
    assert [w.worker_id for w in state.pool.idle[""]] == [2, 3]
    state.worker_died(1, -9)
    assert take(state) == []


def test_death_of_an_idle_worker_removes_it_from_the_pool(state):
    wid = run_task(state, task(10))
    finish(state, wid, 10)
    state.worker_died(wid, 0)
    assert state.pool.idle[""] == []
    state.submit_task(task(11))
    assert take(state) == [StartWorker(2, "")]


def test_fail_ends_an_object_with_the_error_as_is(state):
    state.submit_task(task(10, deps=(5,)))
    state.fail(5, InfeasibleRequestError("no such node"))  # e.g. a bad nested submission
    assert isinstance(error(state, 5), InfeasibleRequestError)
    out = take(state)
    out += connect(state, *[i.worker_id for i in out if isinstance(i, StartWorker)])
    assert not any(isinstance(i, Send) for i in out)
    assert isinstance(error(state, 10), InfeasibleRequestError)


# -- nested get / wait from a worker -----------------------------------------------------------


def test_remote_get_of_a_done_object_replies_at_once(state):
    wid = run_task(state, task(10))
    state.put(5, pickle.dumps("v"))
    state.remote_get(wid, 7, (5,), 1, True)
    assert take(state) == [Send(wid, (Msg.REPLY, 7, [(Status.OK, pickle.dumps("v"))]))]
    assert state.nodes[0].avail_cpu == 10_000  # nothing lent: it did not block


def test_remote_get_reply_is_sent_to_the_waiting_worker(state):
    wid = run_task(state, task(10))
    other = run_task(state, task(11))
    state.remote_get(wid, 7, (11,), 1, True)
    assert take(state) == []
    assert finish(state, other, 11, "late") == [
        Send(wid, (Msg.REPLY, 7, [(Status.OK, pickle.dumps("late"))]))
    ]


def test_remote_wait_replies_once_enough_are_done(state):
    wid = run_task(state, task(10))
    state.remote_get(wid, 8, (5, 6, 7), 2, False)
    state.put(6, pickle.dumps(0))
    assert take(state) == []
    state.put(5, pickle.dumps(0))
    assert take(state) == [Send(wid, (Msg.REPLY, 8, [5, 6]))]
    state.put(7, pickle.dumps(0))
    assert take(state) == []  # answered once


def test_task_blocked_in_nested_get_lends_its_cpu(state):
    node = state.nodes[0]
    before = ledger(node)
    parent = run_task(state, task(10))
    sibling = run_task(state, task(11))
    state.submit_task(task(12))  # the parent will wait for it; the machine is full
    assert take(state) == []

    state.remote_get(parent, 7, (12,), 1, True)
    assert take(state) == [StartWorker(3, "")]  # the parent's CPU went to the child
    connect(state, 3)
    assert finish(state, 3, 12, "child") == [
        Send(parent, (Msg.REPLY, 7, [(Status.OK, pickle.dumps("child"))]))
    ]
    assert node.avail_cpu == 0  # the parent took its CPU back
    finish(state, parent, 10)
    finish(state, sibling, 11)
    assert ledger(node) == before


def test_nested_wait_of_a_dead_worker_is_not_answered(state):
    wid = run_task(state, task(10, max_retries=0))
    state.remote_get(wid, 7, (5,), 1, True)
    state.worker_died(wid, -9)
    take(state)
    state.put(5, pickle.dumps(0))
    assert take(state) == []
    assert state.nodes[0].avail_cpu == 20_000


def test_idle_limit_stops_the_longest_idle_worker_whatever_its_devices():
    state = make_state(num_cpus=4, num_gpus=2, max_idle_workers=2)
    cpu_only = run_task(state, task(10))
    gpu0 = run_task(state, task(11, gpus=1))
    gpu1 = run_task(state, task(12, gpus=1))
    assert finish(state, cpu_only, 10) == []  # idle since the earliest
    assert finish(state, gpu0, 11) == []
    assert finish(state, gpu1, 12) == [KillWorker(cpu_only)]  # not the one just idled
    assert sorted(w.worker_id for pool in state.pool.idle.values() for w in pool) == [gpu0, gpu1]
