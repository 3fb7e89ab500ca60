"""Regression tests for runtime bugs found in an adversarial review; each asserts the
correct behaviour (all of them were fixed after the review)."""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time

import cloudpickle
import pytest

import caliper
from caliper.core import context
from caliper.exceptions import TaskCancelledError

# Ship this module's functions and classes by value (workers need not import pytest).
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _touch(path) -> None:
    with open(path, "w"):
        pass


def _wait_for_file(path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(path)
        time.sleep(0.005)


def _driver_objects() -> dict:
    """The driver's object table after pending ref releases were applied."""
    backend = context.peek()
    with backend.lock:
        backend._apply()
        return dict(backend.state.objects)


class HttpError(Exception):
    def __init__(self, status, body):
        super().__init__(status, body)
        self.status = status
        self.body = body

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.body}"


class CodeError(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


class FakeCtrlC(BaseException):
    """Stands for KeyboardInterrupt (which would end the pytest session if it escaped)."""


@pytest.mark.timeout(30)
def test_wait_timeout_zero_polling_loop_sees_the_result(runtime_factory):
    runtime_factory(num_cpus=2)
    ref = caliper.remote(lambda: 1).remote()
    deadline = time.monotonic() + 3
    while not caliper.wait([ref], timeout=0)[0]:
        assert time.monotonic() < deadline, "wait(timeout=0) never saw a 1-line task finish"


@pytest.mark.timeout(30)
def test_ref_inside_a_result_survives_dropping_one_copy(runtime_factory):
    runtime_factory(num_cpus=2)

    @caliper.remote
    def make():
        return [caliper.put(42)]

    outer = make.remote()
    inner = caliper.get(outer)[0]
    assert caliper.get(inner) == 42
    del inner
    gc.collect()
    assert caliper.get(caliper.get(outer)[0], timeout=3) == 42


@pytest.mark.timeout(30)
def test_actor_keeps_its_ref_after_driver_drops_a_copy(runtime_factory):
    runtime_factory(num_cpus=2)

    @caliper.remote
    class Holder:
        def __init__(self):
            self.ref = caliper.put("payload")

        def give(self):
            return [self.ref]

        def read(self):
            return caliper.get(self.ref, timeout=2)

    holder = Holder.remote()
    copy = caliper.get(holder.give.remote())
    del copy
    gc.collect()
    assert caliper.get(holder.read.remote(), timeout=5) == "payload"


@pytest.mark.timeout(30)
def test_results_of_nested_tasks_are_freed(runtime_factory):
    runtime_factory(num_cpus=2)

    @caliper.remote
    def child(i):
        return b"x" * 100_000

    @caliper.remote
    def parent(n):
        for i in range(n):
            caliper.get(child.remote(i))
        return n

    assert caliper.get(parent.remote(30)) == 30
    gc.collect()
    time.sleep(0.2)
    held = sum(len(e.data or b"") for e in _driver_objects().values())
    assert held < 100_000, f"{held} bytes of finished nested results still held by the driver"


@pytest.mark.timeout(30)
def test_ctrl_c_during_get_loses_no_results(runtime_factory, monkeypatch):
    from caliper.core.local_backend import LocalBackend

    runtime_factory(num_cpus=2)

    @caliper.remote
    class Echo:
        def f(self, x):
            time.sleep(0.002)  # results arrive while the driver's main thread waits in get()
            return x

    echo = Echo.remote()
    caliper.get(echo.f.remote(0))
    fired = []
    real_on_worker = LocalBackend._on_worker

    def on_worker(self, conn, msg):
        if not fired and msg[0] == 5 and threading.current_thread() is threading.main_thread():
            fired.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # as if the user pressed Ctrl-C right now
        return real_on_worker(self, conn, msg)

    def on_sigint(signum, frame):
        raise FakeCtrlC

    monkeypatch.setattr(LocalBackend, "_on_worker", on_worker)
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        # The background thread may take a batch's replies first; retry until the main thread
        # is the one interrupted mid-message.
        for attempt in range(10):
            refs = [echo.f.remote(attempt * 50 + i) for i in range(50)]
            try:
                caliper.get(refs, timeout=5)
            except FakeCtrlC:
                pass
            assert caliper.get(refs, timeout=3) == [attempt * 50 + i for i in range(50)]
            if fired:
                break
    finally:
        signal.signal(signal.SIGINT, previous)
    assert fired, "the main thread never received a reply while in get()"


@pytest.mark.timeout(30)
@pytest.mark.timeout(30)
def test_ctrl_c_with_the_programs_own_handler_waits_for_the_section_end():
    """A program with its own SIGINT handler and another thread (the kernel hands a signal
    the main thread blocks to that thread, and Python still runs the handler in the main
    thread): the handler runs only once the critical section ends, never inside it."""
    from caliper.core.interrupts import DeferredInterrupt

    calls = []
    inside = [False]

    def handler(signum, frame):
        calls.append("inside" if inside[0] else "after")
        raise FakeCtrlC

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)  # does not block SIGINT
    other.start()
    previous = signal.signal(signal.SIGINT, handler)
    deferred = DeferredInterrupt()
    try:
        for _ in range(20):
            with pytest.raises(FakeCtrlC), deferred:
                inside[0] = True
                os.kill(os.getpid(), signal.SIGINT)
                deadline = time.monotonic() + 0.05
                while time.monotonic() < deadline:  # many bytecodes: a chance to run it
                    pass
                inside[0] = False
            assert calls == ["after"]
            assert signal.getsignal(signal.SIGINT) is handler
            calls.clear()
    finally:
        signal.signal(signal.SIGINT, previous)
        stop.set()
        other.join()


def test_cancel_while_task_sends_a_big_message(runtime_factory, tmp_path):
    runtime_factory(num_cpus=1)
    flag = str(tmp_path / "half-sent")

    @caliper.remote(max_retries=0)
    def put_big(flag):
        conn = context.peek().conn
        real = conn.sock

        class SlowSocket:
            """Sends half of a big frame, then stalls (the cancel arrives meanwhile)."""

            def __getattr__(self, name):
                return getattr(real, name)

            def sendall(self, data):
                if len(data) < 1_000_000:
                    return real.sendall(data)
                half = len(data) // 2
                real.sendall(memoryview(data)[:half])
                _touch(flag)
                time.sleep(1.0)
                return real.sendall(memoryview(data)[half:])

        conn.sock = SlowSocket()
        caliper.put(b"x" * 4_000_000)
        time.sleep(5)
        return "not cancelled"

    ref = put_big.remote(flag)
    _wait_for_file(flag)
    caliper.cancel(ref)
    with pytest.raises(TaskCancelledError):
        caliper.get(ref, timeout=4)


@pytest.mark.timeout(30)
def test_implicit_init_from_many_threads_starts_one_runtime(no_runtime, monkeypatch):
    started = []
    real_set = context.set_backend

    def record(backend):
        if backend is not None:
            started.append(backend)
        real_set(backend)

    monkeypatch.setattr(context, "set_backend", record)

    @caliper.remote
    def ident(x):
        return x

    barrier = threading.Barrier(6)
    results = []

    def first_call(i):
        barrier.wait()
        results.append(caliper.get(ident.remote(i), timeout=10))

    threads = [threading.Thread(target=first_call, args=(i,)) for i in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == list(range(6))
        assert len(started) == 1, f"{len(started)} runtimes were started"
    finally:
        current = context.peek()
        for backend in started:
            if backend is not current:
                backend.shutdown()


@pytest.mark.timeout(30)
def test_user_exception_with_custom_init_is_catchable_with_its_attributes(runtime_factory):
    runtime_factory(num_cpus=2)

    @caliper.remote(max_retries=0)
    def fails():
        raise HttpError(503, "unavailable")

    with pytest.raises(HttpError) as info:
        caliper.get(fails.remote())
    assert info.value.status == 503
    assert "HTTP 503: unavailable" in str(info.value)


@pytest.mark.timeout(30)
def test_user_exception_attributes_keep_remote_values(runtime_factory):
    runtime_factory(num_cpus=2)

    @caliper.remote(max_retries=0)
    def fails():
        raise CodeError(7)

    with pytest.raises(CodeError) as info:
        caliper.get(fails.remote())
    assert info.value.code == 7


@pytest.mark.timeout(30)
def test_nested_get_with_zero_timeout_returns_a_ready_value(runtime_factory):
    runtime_factory(num_cpus=2)

    @caliper.remote
    def probe(boxed):
        caliper.get(boxed[0])  # ready from here on
        return caliper.get(boxed[0], timeout=0)

    assert caliper.get(probe.remote([caliper.put(5)]), timeout=10) == 5


@pytest.mark.timeout(30)
def test_get_actor_handle_keeps_the_actor_alive(runtime_factory):
    runtime_factory(num_cpus=2)

    @caliper.remote
    class Named:
        def ping(self):
            return "pong"

    original = Named.options(name="kept").remote()
    caliper.get(original.ping.remote())
    found = caliper.get_actor("kept")
    del original
    gc.collect()
    assert caliper.get(found.ping.remote(), timeout=5) == "pong"
    assert caliper.get(found.ping.remote(), timeout=5) == "pong"


@pytest.mark.timeout(30)
def test_forked_child_exiting_does_not_answer_for_the_task(runtime_factory):
    runtime_factory(num_cpus=1)

    @caliper.remote(max_retries=0)
    def forky():
        pid = os.fork()
        if pid == 0:
            sys.exit(0)
        os.waitpid(pid, 0)
        return "parent result"

    assert caliper.get(forky.remote(), timeout=10) == "parent result"


@pytest.mark.timeout(30)
def test_actor_method_named_like_a_handle_field(runtime_factory):
    runtime_factory(num_cpus=2)

    @caliper.remote
    class Shadowed:
        def _methods(self):
            return "mine"

    assert caliper.get(Shadowed.remote()._methods.remote(), timeout=10) == "mine"


@pytest.mark.timeout(30)
def test_wait_on_many_refs_is_not_quadratic(runtime_factory):
    runtime_factory(num_cpus=2)

    @caliper.remote
    def tiny(i):
        return i

    n = 5000
    refs = [tiny.remote(i) for i in range(n)]
    started = time.perf_counter()
    caliper.get(refs)
    get_s = time.perf_counter() - started
    refs = [tiny.remote(i) for i in range(n)]
    started = time.perf_counter()
    ready, _ = caliper.wait(refs, num_returns=n, timeout=20)
    wait_s = time.perf_counter() - started
    assert len(ready) == n
    assert wait_s < 1.5 * get_s + 0.3, f"wait {wait_s:.2f} s vs get {get_s:.2f} s"
