"""The core API against real worker processes: tasks, actors, get/wait/put, init, resources."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import time

import cloudpickle
import pytest

import caliper
from caliper.exceptions import GetTimeoutError

pytestmark = pytest.mark.timeout(30)

# Ship this module's functions and classes by value, as if they were defined in __main__:
# workers then need not import this test module (and pytest with it) before running them.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def wait_for_file(path: str, timeout: float = 20.0) -> None:
    """Block until ``path`` exists (runs in workers to hold a task at a known point)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        time.sleep(0.005)


def touch(path) -> None:
    with open(path, "w"):
        pass


def _add(x, y=0):
    return x + y


def _no_args():
    return "nothing"


def _sleep_then(value, seconds):
    time.sleep(seconds)
    return value


# Remote functions are made afresh for each test, so that each test ships its own.


@pytest.fixture
def add():
    return caliper.remote(_add)


@pytest.fixture
def no_args():
    return caliper.remote(_no_args)


@pytest.fixture
def sleep_then():
    return caliper.remote(_sleep_then)


@caliper.remote
class Recorder:
    def __init__(self, start=None):
        self.items = [] if start is None else list(start)

    def append(self, item):
        self.items.append(item)
        return len(self.items)

    def read(self):
        return list(self.items)


# -- tasks ---------------------------------------------------------------------------------------


def test_task_without_arguments(runtime, no_args):
    assert caliper.get(no_args.remote()) == "nothing"


def test_task_with_args_and_kwargs(runtime, add):
    assert caliper.get(add.remote(1)) == 1
    assert caliper.get(add.remote(1, 2)) == 3
    assert caliper.get(add.remote(1, y=5)) == 6
    assert caliper.get(add.remote(x=2, y=3)) == 5
    assert caliper.get(add.remote([1], y=[2])) == [1, 2]


def test_remote_with_arguments_sets_resources(runtime):
    @caliper.remote(num_cpus=2, num_gpus=1)
    def gpus():
        return caliper.get_gpu_ids()

    @caliper.remote()
    def plain():
        return caliper.get_gpu_ids()

    assert len(caliper.get(gpus.remote())) == 1
    assert caliper.get(plain.remote()) == []


def test_remote_rejects_positional_non_callable():
    with pytest.raises(TypeError, match="remote"):
        caliper.remote(1, 2)


def test_options_override_without_changing_original(runtime):
    @caliper.remote
    def devices():
        return os.environ["CUDA_VISIBLE_DEVICES"], caliper.get_gpu_ids()

    with_gpus = devices.options(num_gpus=2)
    cuda, ids = caliper.get(with_gpus.remote())
    assert len(ids) == 2
    assert cuda == ",".join(map(str, ids))
    assert caliper.get(devices.remote()) == ("", [])
    # options can be chained; the later value wins
    assert len(caliper.get(with_gpus.options(num_gpus=1).remote())[1]) == 1


def test_actor_options_override(runtime):
    @caliper.remote(num_gpus=1)
    class Dev:
        def ids(self):
            return caliper.get_gpu_ids()

    assert len(caliper.get(Dev.remote().ids.remote())) == 1
    assert caliper.get(Dev.options(num_gpus=0).remote().ids.remote()) == []
    assert len(caliper.get(Dev.options(num_gpus=2).remote().ids.remote())) == 2


def test_task_error_is_raised_at_get_as_user_type(runtime):
    @caliper.remote(max_retries=0)
    def boom():
        raise ValueError("bad value 42")

    with pytest.raises(ValueError, match="bad value 42") as info:
        caliper.get(boom.remote())
    assert isinstance(info.value, caliper.exceptions.TaskError)


# -- refs as arguments ---------------------------------------------------------------------------


def test_top_level_refs_are_resolved_including_kwargs(runtime, add):
    a = caliper.put(10)
    b = add.remote(1, 2)
    assert caliper.get(add.remote(a, b)) == 13
    assert caliper.get(add.remote(a, y=b)) == 13
    assert caliper.get(add.remote(x=b, y=a)) == 13

    @caliper.remote
    def kinds(x, *, y):
        return type(x).__name__, type(y).__name__

    assert caliper.get(kinds.remote(a, y=b)) == ("int", "int")


def test_nested_refs_stay_refs_and_can_be_fetched_in_worker(runtime, add):
    a = caliper.put("put-value")
    b = add.remote(20, 22)

    @caliper.remote
    def inspect(items, mapping):
        kinds = [type(x).__name__ for x in items] + [type(v).__name__ for v in mapping.values()]
        values = [*caliper.get(list(items)), caliper.get(mapping["k"])]
        return kinds, values

    kinds, values = caliper.get(inspect.remote([a, b], {"k": b}))
    assert kinds == ["ObjectRef", "ObjectRef", "ObjectRef"]
    assert values == ["put-value", 42, 42]


def test_ref_argument_failure_propagates(runtime, add):
    @caliper.remote(max_retries=0)
    def fail():
        raise KeyError("upstream")

    with pytest.raises(KeyError, match="upstream"):
        caliper.get(add.remote(fail.remote(), 1))


# -- actors --------------------------------------------------------------------------------------


def test_actor_state_and_call_order(runtime):
    rec = Recorder.remote()
    counts = [rec.append.remote(i) for i in range(200)]
    items = caliper.get(rec.read.remote())
    assert items == list(range(200))
    assert caliper.get(counts) == list(range(1, 201))


def test_actor_constructor_arguments_and_ref_arguments_keep_order(runtime, sleep_then):
    start = caliper.put(["a"])
    rec = Recorder.remote(start)
    slow = sleep_then.remote("slow", 0.3)
    rec.append.remote(slow)  # its argument is not ready yet; the next call must still wait
    rec.append.remote("fast")
    assert caliper.get(rec.read.remote()) == ["a", "slow", "fast"]


def test_two_actors_have_separate_state_and_processes(runtime):
    @caliper.remote
    class Pid:
        def __init__(self):
            self.n = 0

        def bump(self):
            self.n += 1
            return os.getpid(), self.n

    a, b = Pid.remote(), Pid.remote()
    caliper.get(a.bump.remote())
    pid_a, n_a = caliper.get(a.bump.remote())
    pid_b, n_b = caliper.get(b.bump.remote())
    assert (n_a, n_b) == (2, 1)
    assert pid_a != pid_b != os.getpid()


def test_actor_method_error_keeps_actor_alive(runtime):
    @caliper.remote
    class Fragile:
        def __init__(self):
            self.n = 0

        def fail(self):
            raise ValueError("method failed")

        def inc(self):
            self.n += 1
            return self.n

    actor = Fragile.remote()
    assert caliper.get(actor.inc.remote()) == 1
    with pytest.raises(ValueError, match="method failed"):
        caliper.get(actor.fail.remote())
    assert caliper.get(actor.inc.remote()) == 2


def test_actor_constructor_error_and_kill_raise_actor_died(runtime):
    @caliper.remote
    class Broken:
        def __init__(self):
            raise RuntimeError("constructor failed")

        def ping(self):
            return "pong"

    with pytest.raises(caliper.exceptions.ActorDiedError):
        caliper.get(Broken.remote().ping.remote(), timeout=10)

    rec = Recorder.remote()
    assert caliper.get(rec.append.remote(1)) == 1
    caliper.kill(rec)
    with pytest.raises(caliper.exceptions.RayActorError):
        caliper.get(rec.read.remote(), timeout=10)


def test_actor_handle_passed_to_a_task(runtime):
    rec = Recorder.remote()

    @caliper.remote
    def use(handle, item):
        return caliper.get(handle.append.remote(item))

    assert caliper.get([use.remote(rec, "a"), use.remote(rec, "b")]) in ([1, 2], [2, 1])
    assert sorted(caliper.get(rec.read.remote())) == ["a", "b"]


@pytest.mark.parametrize("waiting_for", ["arguments", "resources"])
def test_calls_submitted_before_the_handle_is_dropped_still_run(
    runtime, sleep_then, tmp_path, waiting_for
):
    if waiting_for == "arguments":
        ref = Recorder.remote(sleep_then.remote(["x"], 0.3)).read.remote()
    else:
        gate = str(tmp_path / "gate")

        @caliper.remote(num_cpus=4)
        def hog():
            wait_for_file(gate)

        hogging = hog.remote()
        ref = Recorder.options(num_cpus=1).remote(["x"]).read.remote()
        assert caliper.wait([hogging], timeout=0.2)[0] == []  # handle released while queued
        touch(gate)
        caliper.get(hogging)
    # as in Ray, the handle going out of scope ends the actor only after the calls it owes
    assert caliper.get(ref, timeout=10) == ["x"]


# -- get / wait / put ----------------------------------------------------------------------------


def test_get_list_keeps_order(runtime, sleep_then):
    refs = [sleep_then.remote(i, 0.05 * (3 - i)) for i in range(4)]
    assert caliper.get(refs) == [0, 1, 2, 3]
    assert caliper.get(refs[::-1]) == [3, 2, 1, 0]
    assert caliper.get([]) == []
    assert caliper.get((refs[0], refs[1])) == [0, 1]


def test_get_same_ref_twice(runtime, add):
    ref = add.remote(1, 1)
    assert caliper.get([ref, ref]) == [2, 2]


def test_get_timeout_raises_get_timeout_error(runtime, sleep_then):
    ref = sleep_then.remote("late", 10)
    started = time.monotonic()
    with pytest.raises(GetTimeoutError) as info:
        caliper.get(ref, timeout=0.1)
    assert isinstance(info.value, TimeoutError)
    assert time.monotonic() - started < 2
    with pytest.raises(TimeoutError):
        caliper.get([ref], timeout=0)


def test_wait_num_returns_and_order(runtime, tmp_path, add):
    gate = str(tmp_path / "gate")

    @caliper.remote
    def gated(i):
        wait_for_file(gate)
        return i

    fast = [add.remote(i) for i in range(3)]
    slow = [gated.remote(i) for i in range(2)]
    refs = [slow[0], fast[0], slow[1], fast[1], fast[2]]

    ready, not_ready = caliper.wait(refs, num_returns=3, timeout=10)
    assert ready == [fast[0], fast[1], fast[2]]  # in the order given, not completion order
    assert not_ready == [slow[0], slow[1]]

    ready, not_ready = caliper.wait(refs, num_returns=2, timeout=10)
    assert len(ready) == 2  # at most num_returns, even though 3 are ready
    assert ready == [fast[0], fast[1]]
    assert not_ready == [slow[0], slow[1], fast[2]]

    ready, not_ready = caliper.wait(refs)  # num_returns=1 by default
    assert ready == [fast[0]]
    assert len(not_ready) == 4

    started = time.monotonic()
    ready, not_ready = caliper.wait(refs, num_returns=5, timeout=0.2)
    assert time.monotonic() - started < 2
    assert ready == fast and not_ready == slow  # partial result at the timeout

    touch(gate)
    ready, not_ready = caliper.wait(refs, num_returns=5, timeout=10)
    assert ready == refs and not_ready == []


def test_wait_timeout_zero_is_a_poll(runtime, sleep_then):
    ref = sleep_then.remote(1, 10)
    done = caliper.put(2)
    assert caliper.wait([ref, done], num_returns=2, timeout=0) == ([done], [ref])


def test_put_copies_at_put_time(runtime, sleep_then):
    data = {"xs": [1, 2, 3]}
    ref = caliper.put(data)
    data["xs"].append(4)
    data["new"] = True
    assert caliper.get(ref) == {"xs": [1, 2, 3]}
    assert caliper.get(sleep_then.remote(ref, 0)) == {"xs": [1, 2, 3]}


def test_put_large_value_round_trips(runtime):
    blob = os.urandom(3 * 1024 * 1024)
    ref = caliper.put(blob)

    @caliper.remote
    def size(b):
        return len(b), b[:16]

    assert caliper.get(ref) == blob
    assert caliper.get(size.remote(ref)) == (len(blob), blob[:16])


# -- by-value pickling ---------------------------------------------------------------------------


def test_closures_and_local_classes(runtime):
    factor = 7
    table = {"offset": 100}

    def helper(x):
        return x * factor

    @caliper.remote
    def scaled(x):
        return helper(x) + table["offset"]

    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

        def norm1(self):
            return abs(self.x) + abs(self.y)

    @caliper.remote
    class LocalActor:
        def __init__(self, bias):
            self.bias = bias

        def measure(self, point):
            return point.norm1() + self.bias

        def make(self):
            return Point(3, 4)

    assert caliper.get(scaled.remote(2)) == 114
    actor = LocalActor.remote(factor)
    assert caliper.get(actor.measure.remote(Point(-1, 2))) == 10
    made = caliper.get(actor.make.remote())
    assert (type(made).__name__, made.x, made.y) == ("Point", 3, 4)
    assert caliper.get(caliper.remote(lambda: "lambda ok").remote()) == "lambda ok"


SCRIPT = """
import os
import caliper

# Module-level side effect: a worker that re-imported __main__ would append its pid again.
with open({marker!r}, "a") as f:
    f.write(f"{{os.getpid()}}\\n")

caliper.init(num_cpus=2)
BASE = 1000

@caliper.remote
def square(x):
    return BASE + x * x, os.getpid()

@caliper.remote
class Counter:
    def __init__(self):
        self.n = 0

    def inc(self):
        self.n += 1
        return self.n, os.getpid()

results = caliper.get([square.remote(i) for i in range(4)])
counter = Counter.remote()
counts = caliper.get([counter.inc.remote() for _ in range(3)])
pids = sorted({{pid for _, pid in results + counts}})
print("RESULT", [value for value, _ in results], [n for n, _ in counts])
print("PIDS", " ".join(map(str, pids)))
print("DRIVER", os.getpid())
"""


@pytest.mark.timeout(30)  # subprocess.run has timeout=60, this fires first and kills it
def test_main_script_without_guard(tmp_path, processes_gone):
    marker = tmp_path / "imports.txt"
    script = tmp_path / "script_no_guard.py"
    script.write_text(textwrap.dedent(SCRIPT.format(marker=str(marker))))
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(caliper.__file__)), env.get("PYTHONPATH", "")]
    )
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines.count("RESULT [1000, 1001, 1004, 1009] [1, 2, 3]") == 1, proc.stdout
    driver = next(x for x in lines if x.startswith("DRIVER")).split()[1]
    assert marker.read_text().split() == [driver]  # __main__ ran once, in the driver
    pids = [int(p) for p in next(x for x in lines if x.startswith("PIDS")).split()[1:]]
    assert pids and int(driver) not in pids
    assert not processes_gone(pids), "workers outlived the script's driver"


# -- nesting -------------------------------------------------------------------------------------


def test_nested_tasks_and_actor(runtime):
    @caliper.remote
    def inner(x):
        return x * 2

    @caliper.remote
    class Box:
        def __init__(self, v):
            self.v = v

        def get(self):
            return self.v

    @caliper.remote
    def outer(n):
        refs = [inner.remote(i) for i in range(n)]
        box = Box.remote(sum(caliper.get(refs)))
        ready, _ = caliper.wait(refs, num_returns=n, timeout=10)
        value = caliper.get(box.get.remote())
        put_ref = caliper.put("from worker")
        return value, len(ready), caliper.get(put_ref)

    assert caliper.get(outer.remote(5)) == (20, 5, "from worker")


def test_nested_get_of_ref_passed_in_actor(runtime, add):
    @caliper.remote
    class Fetcher:
        def fetch(self, holder):
            return caliper.get(holder[0]) + 1

    ref = add.remote(1, 1)
    assert caliper.get(Fetcher.remote().fetch.remote([ref])) == 3


def test_task_returning_refs(runtime, add):
    @caliper.remote
    def make_refs(n):
        return [add.remote(i, 1) for i in range(n)]

    refs = caliper.get(make_refs.remote(3))
    assert all(isinstance(r, caliper.ObjectRef) for r in refs)
    assert caliper.get(refs, timeout=10) == [1, 2, 3]


def test_nested_get_does_not_deadlock_a_full_machine(runtime_factory, add):
    runtime_factory(num_cpus=1)

    @caliper.remote
    def outer():
        return caliper.get(add.remote(1, 1))  # needs the CPU outer holds: lent while blocked

    assert caliper.get(outer.remote(), timeout=10) == 2
    assert caliper.available_resources()["CPU"] == 1.0


def test_nested_get_timeout_takes_the_cpus_back(runtime, tmp_path):
    gate, resumed = str(tmp_path / "gate"), str(tmp_path / "resumed")

    @caliper.remote(num_cpus=1)
    def slow():
        wait_for_file(gate)
        return 1

    @caliper.remote(num_cpus=3)
    def outer():
        ref = slow.remote()
        try:
            caliper.get(ref, timeout=0.2)
        except GetTimeoutError:
            pass
        touch(resumed)  # running again: it holds its 3 CPUs
        wait_for_file(gate)
        return caliper.get(ref)

    ref = outer.remote()
    try:
        wait_for_file(resumed, timeout=10)
        cpus_free = caliper.available_resources().get("CPU", 0.0)
    finally:
        touch(gate)
    assert caliper.get(ref, timeout=10) == 1
    assert cpus_free == 0.0


def test_actor_created_in_a_task_ends_with_its_handles(runtime):
    @caliper.remote
    class Box:
        def value(self):
            return 7

    @caliper.remote
    def make_and_drop():
        box = Box.options(num_cpus=1).remote()
        return caliper.get(box.value.remote())

    assert caliper.get(make_and_drop.remote(), timeout=10) == 7
    deadline = time.monotonic() + 1
    while caliper.available_resources().get("CPU") != 4.0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert caliper.available_resources().get("CPU") == 4.0


# -- resources -----------------------------------------------------------------------------------


def test_cluster_and_available_resources(runtime, tmp_path):
    total = caliper.cluster_resources()
    assert total["CPU"] == 4.0 and total["GPU"] == 4.0
    free = caliper.available_resources()
    assert free["CPU"] == 4.0 and free["GPU"] == 4.0

    gate, started = str(tmp_path / "gate"), str(tmp_path / "started")

    @caliper.remote(num_cpus=2, num_gpus=1)
    def hold():
        touch(started)
        wait_for_file(gate)
        return "released"

    ref = hold.remote()
    wait_for_file(started, timeout=10)
    free = caliper.available_resources()
    assert free["CPU"] == 2.0
    assert free["GPU"] == 3.0
    assert caliper.cluster_resources()["CPU"] == 4.0  # the total does not change
    touch(gate)
    assert caliper.get(ref) == "released"
    free = caliper.available_resources()
    assert free["CPU"] == 4.0 and free["GPU"] == 4.0


def test_exhausted_resource_is_left_out_of_available(runtime, tmp_path):
    gate, started = str(tmp_path / "gate"), str(tmp_path / "started")

    @caliper.remote(num_cpus=4)
    def hold():
        touch(started)
        wait_for_file(gate)

    ref = hold.remote()
    wait_for_file(started, timeout=10)
    assert "CPU" not in caliper.available_resources()  # as in Ray
    touch(gate)
    caliper.get(ref)


def test_init_with_custom_resources(runtime_factory):
    runtime_factory(num_cpus=2, num_gpus=0, resources={"accel": 2})
    total = caliper.cluster_resources()
    assert total["CPU"] == 2.0 and total["accel"] == 2.0
    assert total.get("GPU", 0) == 0

    @caliper.remote(resources={"accel": 1})
    def uses():
        return "ok"

    assert caliper.get(uses.remote()) == "ok"
    assert caliper.available_resources()["accel"] == 2.0


def test_memory_requests_are_scheduled(runtime_factory, tmp_path):
    runtime_factory(num_cpus=4, memory=10**9)
    assert caliper.cluster_resources()["memory"] == 1e9
    gate, started = str(tmp_path / "gate"), str(tmp_path / "started")

    @caliper.remote(memory=6 * 10**8)
    def hold(i):
        touch(f"{started}{i}")
        wait_for_file(gate)
        return i

    first = hold.remote(0)
    wait_for_file(f"{started}0", timeout=10)
    assert caliper.available_resources()["memory"] == 4e8
    second = hold.remote(1)  # fits once the first is done
    assert caliper.wait([second], timeout=0.3)[0] == []
    assert not os.path.exists(f"{started}1")
    touch(gate)
    assert caliper.get([first, second], timeout=10) == [0, 1]
    assert caliper.available_resources()["memory"] == 1e9


# -- init / shutdown -----------------------------------------------------------------------------


def test_init_twice_raises_unless_ignored(runtime):
    with pytest.raises(RuntimeError, match="ignore_reinit_error"):
        caliper.init(num_cpus=1)
    ctx = caliper.init(num_cpus=1, ignore_reinit_error=True)
    assert ctx.resources["CPU"] == 4.0  # the running runtime, not a new one
    assert caliper.cluster_resources()["CPU"] == 4.0


def test_implicit_init_on_first_remote_call(no_runtime, add):
    assert not caliper.is_initialized()
    ref = add.remote(2, 3)
    assert caliper.is_initialized()
    assert caliper.get(ref) == 5


def test_init_unknown_kwarg_raises_type_error_naming_it(no_runtime):
    with pytest.raises(TypeError, match="num_cpu_count"):
        caliper.init(num_cpu_count=2)
    assert not caliper.is_initialized()


def test_init_accepts_ray_no_op_arguments(no_runtime):
    caliper.init(num_cpus=1, include_dashboard=False, log_to_driver=True, namespace="x")
    assert caliper.is_initialized()


def test_shutdown_then_init_again(no_runtime, add):
    caliper.init(num_cpus=1)
    assert caliper.get(add.remote(1, 1)) == 2
    caliper.shutdown()
    assert not caliper.is_initialized()
    caliper.shutdown()  # a second shutdown is a no-op
    with caliper.init(num_cpus=2) as ctx:
        assert ctx.resources["CPU"] == 2.0
        assert caliper.get(add.remote(2, 2)) == 4
    assert not caliper.is_initialized()


def test_remote_function_reused_after_reinit(no_runtime):
    first = caliper.remote(_no_args)
    caliper.init(num_cpus=1)
    assert caliper.get(first.remote()) == "nothing"
    caliper.shutdown()
    caliper.init(num_cpus=1)
    second = caliper.remote(_add)
    assert caliper.get(second.remote(1, 2)) == 3
    # ids are not reused: the worker must not run _add() for `first`
    assert caliper.get(first.remote(), timeout=10) == "nothing"


def test_ref_from_a_previous_runtime_does_not_free_new_objects(no_runtime):
    caliper.init(num_cpus=1)
    old = caliper.put("old")
    caliper.shutdown()
    caliper.init(num_cpus=1)
    new = caliper.put("new")
    del old  # must not release anything of the new runtime
    assert caliper.get(new, timeout=5) == "new"


def test_get_of_a_ref_from_a_previous_runtime_fails_at_once(no_runtime):
    caliper.init(num_cpus=1)
    old = caliper.put("old")
    caliper.shutdown()
    caliper.init(num_cpus=1)
    start = time.monotonic()
    with pytest.raises(ValueError, match="unknown to this runtime"):
        caliper.get(old)
    with pytest.raises(ValueError, match="unknown to this runtime"):
        caliper.wait([old], timeout=5)
    assert time.monotonic() - start < 2


@pytest.mark.timeout(30)
def test_ref_future_and_await(runtime):
    import asyncio

    square = caliper.remote(lambda x: x * x)
    assert square.remote(7).future().result(timeout=10) == 49

    async def main():
        return await square.remote(5), await asyncio.gather(square.remote(2), square.remote(3))

    assert asyncio.run(main()) == (25, [4, 9])
    failing = caliper.remote(lambda: 1 / 0).remote()
    with pytest.raises(ZeroDivisionError):
        failing.future().result(timeout=10)


def test_nodes_lists_this_machine(runtime):
    (node,) = caliper.nodes()
    assert node["Alive"] and node["Resources"]["CPU"] == 4.0


def test_detached_actor_outlives_its_handles_and_get_if_exists_reuses_it(runtime):
    class Box:
        def __init__(self):
            self.items = []

        def add(self, x):
            self.items.append(x)
            return len(self.items)

    box_cls = caliper.remote(Box)
    first = box_cls.options(name="box", lifetime="detached").remote()
    assert caliper.get(first.add.remote(1)) == 1
    del first
    gc.collect()
    time.sleep(0.2)
    again = box_cls.options(name="box", get_if_exists=True).remote()  # the same actor
    assert caliper.get(again.add.remote(2)) == 2
    other = box_cls.options(name="other", get_if_exists=True).remote()  # created
    assert caliper.get(other.add.remote(9)) == 1


def test_actor_lifetime_and_get_if_exists_are_checked(no_runtime):
    with pytest.raises(ValueError, match="lifetime must be"):
        caliper.remote(lifetime="forever")(type("A", (), {}))
    with pytest.raises(ValueError, match="get_if_exists=True needs name="):
        caliper.remote(get_if_exists=True)(type("A", (), {}))
