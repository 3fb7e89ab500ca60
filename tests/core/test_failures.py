"""The runtime's crash matrix, for tasks and for actor methods, against real worker processes.

Each failure (an exception, ``os._exit``, SIGKILL from inside or outside, an argument or a
result that cannot be pickled) must reach the caller as a typed error at ``get``, at once (the
death of a worker is seen through the zygote reaping it, never by a timeout). Then retries
(``max_retries``, ``retry_exceptions``) and restarts (``max_restarts``, ``caliper.kill``).
"""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from types import SimpleNamespace

import pytest
from procs import pid_alive

import caliper
from caliper.exceptions import (
    ActorDiedError,
    RemoteTraceback,
    SerializationError,
    TaskError,
    WorkerCrashedError,
)

CRASH_S = 2.0  # a crash must be reported well within this; it is never found by a timeout
GET_S = 10.0  # generous bound on any get in this file, so that a bug fails instead of hanging


@pytest.fixture
def rt():
    """A fresh 2-CPU runtime per test (crashes must not leak state between tests).

    Yields the task functions of this module as remote functions made for this runtime, and
    collects garbage while no runtime is up: ids are reused across ``shutdown()``/``init()``,
    so a remote function from an earlier runtime may run another function's code and an
    earlier test's ObjectRef, freed late, frees a new object (see the two
    ``..._across_runtimes`` tests at the end). Those bugs must not decide the crash tests.
    """
    if caliper.is_initialized():
        caliper.shutdown()
    gc.collect()
    caliper.init(num_cpus=2)
    yield SimpleNamespace(**{fn.__name__: caliper.remote(fn) for fn in TASK_FUNCTIONS})
    caliper.shutdown()
    gc.collect()


def timed_get(ref, timeout: float = GET_S):
    """``caliper.get(ref)``; returns ``(value_or_exception, seconds)``."""
    start = time.monotonic()
    try:
        value = caliper.get(ref, timeout=timeout)
    except Exception as exc:
        return exc, time.monotonic() - start
    return value, time.monotonic() - start


def count_attempt(path: str) -> int:
    """Append one line to ``path``; the number of lines so far (runs in workers)."""
    with open(path, "a") as f:
        f.write("attempt\n")
    with open(path) as f:
        return len(f.read().splitlines())


def attempts(path) -> int:
    with open(path) as f:
        return len(f.read().splitlines())


def wait_for_pid_file(path, timeout: float = GET_S) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                text = f.read()
            if text.endswith("\n"):
                return int(text)
        except FileNotFoundError:
            pass
        time.sleep(0.005)
    raise TimeoutError(f"{path} was not written within {timeout} s")


# -- remote functions and actors (module level: workers import this module) -----------------


def raise_value_error(x):
    raise ValueError(f"bad value {x}")


def exit_with(code):
    os._exit(code)


def sigkill_self():
    os.kill(os.getpid(), signal.SIGKILL)


def write_pid_and_sleep(path):
    with open(path, "w") as f:
        f.write(f"{os.getpid()}\n")
    time.sleep(30)


def identity(x=None):
    return x


def negate(x):
    return -x


def return_a_lock():
    return threading.Lock()


def crash_until(path, crashes):
    """Crash the worker on the first ``crashes`` attempts, then return the attempt number."""
    n = count_attempt(path)
    if n <= crashes:
        os._exit(1)
    return n


def raise_until(path, raises):
    """Raise ValueError on the first ``raises`` attempts, then return the attempt number."""
    n = count_attempt(path)
    if n <= raises:
        raise ValueError(f"attempt {n} fails")
    return n


class TwoArgError(Exception):
    """An exception whose class cannot be rebuilt from ``args`` (a common pickling trap)."""

    def __init__(self, code, detail):
        super().__init__(f"code {code}: {detail}")
        self.code = code


def raise_two_arg_error():
    raise TwoArgError(7, "details here")


TASK_FUNCTIONS = [
    raise_value_error,
    exit_with,
    sigkill_self,
    write_pid_and_sleep,
    identity,
    negate,
    return_a_lock,
    crash_until,
    raise_until,
    raise_two_arg_error,
]


@caliper.remote
class Counter:
    def __init__(self, start=0):
        self.n = start

    def inc(self):
        self.n += 1
        return self.n

    def raise_value_error(self, x):
        raise ValueError(f"bad value {x}")

    def exit_with(self, code):
        os._exit(code)

    def sigkill_self(self):
        os.kill(os.getpid(), signal.SIGKILL)

    def pid(self):
        return os.getpid()

    def sleep(self, seconds):
        time.sleep(seconds)

    def identity(self, x=None):
        return x

    def return_a_lock(self):
        return threading.Lock()


@caliper.remote
class BrokenConstructor:
    def __init__(self):
        raise ValueError("constructor refuses")

    def ping(self):
        return "pong"


@caliper.remote
class ExitingConstructor:
    def __init__(self):
        os._exit(4)

    def ping(self):
        return "pong"


@caliper.remote
class Holder:
    def __init__(self, value):
        self.value = value

    def ping(self):
        return "pong"


def _ref(rt, kind: str, method: str, *args):
    """Submit ``method`` as a task (``kind == "task"``) or as a call on a new Counter actor."""
    if kind == "task":
        return getattr(rt, method).remote(*args)
    actor = Counter.remote()
    return getattr(actor, method).remote(*args)


KINDS = ["task", "actor"]


# -- the function raises -------------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", KINDS)
def test_exception_is_task_error_and_user_type_with_remote_traceback(rt, kind):
    err, elapsed = timed_get(_ref(rt, kind, "raise_value_error", 42))
    assert isinstance(err, TaskError), repr(err)
    assert isinstance(err, ValueError), type(err).__mro__
    assert elapsed < CRASH_S
    cause = err.__cause__
    assert type(cause) is ValueError
    assert str(cause) == "bad value 42"
    remote_tb = cause.__cause__
    assert isinstance(remote_tb, RemoteTraceback)
    assert "raise_value_error" in remote_tb.text
    assert 'raise ValueError(f"bad value {x}")' in remote_tb.text
    message = str(err)
    assert "raise_value_error" in message
    assert "bad value 42" in message
    assert "Remote traceback" in message
    assert "raise ValueError" in message
    if kind == "actor":
        assert "Counter.raise_value_error" in message


@pytest.mark.timeout(30)
def test_except_clause_on_the_user_type_catches_it(rt):
    with pytest.raises(ValueError, match="bad value 1"):
        caliper.get(rt.raise_value_error.remote(1))


@pytest.mark.timeout(30)
def test_actor_survives_an_exception_in_a_method(rt):
    actor = Counter.remote(5)
    assert caliper.get(actor.inc.remote(), timeout=GET_S) == 6
    with pytest.raises(ValueError):
        caliper.get(actor.raise_value_error.remote(0), timeout=GET_S)
    assert caliper.get(actor.inc.remote(), timeout=GET_S) == 7  # same instance, state kept


@pytest.mark.timeout(30)
def test_exception_that_cannot_be_rebuilt_still_shows_function_and_traceback(rt):
    err, elapsed = timed_get(rt.raise_two_arg_error.remote())
    assert elapsed < CRASH_S
    assert isinstance(err, TaskError), repr(err)
    message = str(err)
    assert "raise_two_arg_error" in message
    assert "TwoArgError" in message
    assert "code 7: details here" in message
    assert "raise TwoArgError(7" in message


# -- the worker exits / is killed ----------------------------------------------------------


@pytest.mark.timeout(30)
def test_task_os_exit_is_worker_crashed_with_exit_code(rt):
    err, elapsed = timed_get(rt.exit_with.options(max_retries=0).remote(3))
    assert type(err) is WorkerCrashedError, repr(err)
    assert elapsed < CRASH_S
    assert err.exitcode == 3
    assert err.signal is None
    assert "exited with code 3" in str(err)
    assert "exit_with" in str(err)


@pytest.mark.timeout(30)
def test_actor_os_exit_is_actor_died_with_exit_code(rt):
    err, elapsed = timed_get(Counter.remote().exit_with.remote(3))
    assert type(err) is ActorDiedError, repr(err)
    assert elapsed < CRASH_S
    assert "exited with code 3" in str(err)
    assert "Counter" in str(err)


@pytest.mark.timeout(30)
def test_task_sigkill_self_is_worker_crashed_with_signal(rt):
    err, elapsed = timed_get(rt.sigkill_self.options(max_retries=0).remote())
    assert type(err) is WorkerCrashedError, repr(err)
    assert elapsed < CRASH_S
    assert err.signal == signal.SIGKILL == 9
    assert "SIGKILL" in str(err)


@pytest.mark.timeout(30)
def test_task_sigkill_from_outside_is_worker_crashed_with_signal(rt, tmp_path):
    pid_file = tmp_path / "pid"
    ref = rt.write_pid_and_sleep.options(max_retries=0).remote(str(pid_file))
    pid = wait_for_pid_file(pid_file)
    os.kill(pid, signal.SIGKILL)
    err, elapsed = timed_get(ref)
    assert type(err) is WorkerCrashedError, repr(err)
    assert elapsed < CRASH_S
    assert err.signal == 9
    assert err.pid == pid
    assert "SIGKILL" in str(err)
    assert str(pid) in str(err)


@pytest.mark.timeout(30)
def test_actor_sigkill_self_is_actor_died_naming_sigkill(rt):
    err, elapsed = timed_get(Counter.remote().sigkill_self.remote())
    assert type(err) is ActorDiedError, repr(err)
    assert elapsed < CRASH_S
    assert "SIGKILL" in str(err)


@pytest.mark.timeout(30)
def test_actor_sigkill_from_outside_is_actor_died_naming_sigkill(rt):
    actor = Counter.remote()
    pid = caliper.get(actor.pid.remote(), timeout=GET_S)
    ref = actor.sleep.remote(30)
    time.sleep(0.1)  # let the call start
    os.kill(pid, signal.SIGKILL)
    err, elapsed = timed_get(ref)
    assert type(err) is ActorDiedError, repr(err)
    assert elapsed < CRASH_S
    assert "SIGKILL" in str(err)
    assert str(pid) in str(err)
    err, _ = timed_get(actor.inc.remote())  # max_restarts=0 by default: dead for good
    assert type(err) is ActorDiedError, repr(err)


# -- what cannot be pickled ----------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", KINDS)
def test_unpicklable_positional_argument_is_serialization_error_at_get(rt, kind):
    ref = _ref(rt, kind, "identity", threading.Lock())  # no exception at .remote()
    err, _ = timed_get(ref)
    assert isinstance(err, SerializationError), repr(err)
    assert isinstance(err, TypeError)
    message = str(err)
    assert "argument 0" in message
    assert "identity" in message
    assert "lock" in message


@pytest.mark.timeout(30)
def test_unpicklable_keyword_argument_is_named(rt):
    ref = rt.identity.remote(x=threading.Lock())
    with pytest.raises(SerializationError, match="keyword argument 'x' of identity"):
        caliper.get(ref, timeout=GET_S)
    actor = Counter.remote()
    ref = actor.identity.remote(x=threading.Lock())
    with pytest.raises(SerializationError, match=r"keyword argument 'x' of Counter\.identity"):
        caliper.get(ref, timeout=GET_S)
    assert caliper.get(actor.inc.remote(), timeout=GET_S) == 1  # the actor is unaffected


@pytest.mark.timeout(30)
def test_unpicklable_constructor_argument_is_serialization_error(rt):
    # Raised at .remote() or at the first get: either way typed and naming the argument.
    with pytest.raises(SerializationError, match=r"argument 0 of Holder\.__init__"):
        holder = Holder.remote(threading.Lock())
        caliper.get(holder.ping.remote(), timeout=GET_S)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", KINDS)
def test_unpicklable_result_is_serialization_error_naming_the_function(rt, kind):
    err, elapsed = timed_get(_ref(rt, kind, "return_a_lock"))
    assert elapsed < CRASH_S
    assert isinstance(err, SerializationError), repr(err)
    assert isinstance(err, TypeError)
    message = str(err)
    assert "result" in message
    assert ("Counter.return_a_lock" if kind == "actor" else "return_a_lock") in message


@pytest.mark.timeout(30)
def test_worker_survives_an_unpicklable_result(rt):
    actor = Counter.remote(1)
    with pytest.raises(SerializationError):
        caliper.get(actor.return_a_lock.remote(), timeout=GET_S)
    assert caliper.get(actor.inc.remote(), timeout=GET_S) == 2


# -- task retries --------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_crashing_task_succeeds_within_max_retries(rt, tmp_path):
    path = tmp_path / "attempts"
    ref = rt.crash_until.options(max_retries=2).remote(str(path), 2)
    assert caliper.get(ref, timeout=GET_S) == 3
    assert attempts(path) == 3


@pytest.mark.timeout(30)
def test_crashing_task_fails_when_retries_run_out(rt, tmp_path):
    path = tmp_path / "attempts"
    err, elapsed = timed_get(rt.crash_until.options(max_retries=1).remote(str(path), 2))
    assert type(err) is WorkerCrashedError, repr(err)
    assert err.exitcode == 1
    assert elapsed < CRASH_S
    assert attempts(path) == 2


@pytest.mark.timeout(30)
def test_default_max_retries_for_crashes_is_three(rt, tmp_path):
    path = tmp_path / "recovers"
    assert caliper.get(rt.crash_until.remote(str(path), 3), timeout=GET_S) == 4
    path = tmp_path / "never_recovers"
    err, _ = timed_get(rt.crash_until.remote(str(path), 1000))
    assert type(err) is WorkerCrashedError, repr(err)
    assert attempts(path) == 4  # the first attempt and 3 retries


@pytest.mark.timeout(30)
def test_application_exceptions_are_not_retried_by_default(rt, tmp_path):
    path = tmp_path / "attempts"
    err, _ = timed_get(rt.raise_until.options(max_retries=3).remote(str(path), 1))
    assert isinstance(err, TaskError) and isinstance(err, ValueError), repr(err)
    assert attempts(path) == 1


@pytest.mark.timeout(30)
def test_retry_exceptions_retries_application_exceptions(rt, tmp_path):
    path = tmp_path / "recovers"
    ref = rt.raise_until.options(max_retries=2, retry_exceptions=True).remote(str(path), 2)
    assert caliper.get(ref, timeout=GET_S) == 3
    path = tmp_path / "runs_out"
    ref = rt.raise_until.options(max_retries=1, retry_exceptions=True).remote(str(path), 2)
    err, _ = timed_get(ref)
    assert isinstance(err, ValueError) and "attempt 2 fails" in str(err), repr(err)
    assert attempts(path) == 2


# -- actor restarts ------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_actor_restarts_once_with_fresh_state_then_dies_for_good(rt):
    actor = Counter.options(max_restarts=1).remote(10)
    assert caliper.get([actor.inc.remote(), actor.inc.remote()], timeout=GET_S) == [11, 12]
    first_pid = caliper.get(actor.pid.remote(), timeout=GET_S)

    err, elapsed = timed_get(actor.exit_with.remote(3))  # the in-flight call fails
    assert type(err) is ActorDiedError, repr(err)
    assert "exited with code 3" in str(err)
    assert elapsed < CRASH_S

    assert caliper.get(actor.inc.remote(), timeout=GET_S) == 11  # a fresh instance
    assert caliper.get(actor.pid.remote(), timeout=GET_S) != first_pid

    err, _ = timed_get(actor.exit_with.remote(5))  # no restarts left
    assert type(err) is ActorDiedError, repr(err)
    for _ in range(2):
        err, elapsed = timed_get(actor.inc.remote())
        assert type(err) is ActorDiedError, repr(err)
        assert "exited with code 5" in str(err)
        assert elapsed < CRASH_S


@pytest.mark.timeout(30)
def test_actor_without_restarts_dies_at_first_crash(rt):
    actor = Counter.options(max_restarts=0).remote()
    assert caliper.get(actor.inc.remote(), timeout=GET_S) == 1
    err, _ = timed_get(actor.exit_with.remote(3))
    assert type(err) is ActorDiedError, repr(err)
    err, elapsed = timed_get(actor.inc.remote())
    assert type(err) is ActorDiedError, repr(err)
    assert "exited with code 3" in str(err)
    assert elapsed < CRASH_S


@pytest.mark.timeout(30)
def test_actor_restart_reuses_a_constructor_argument_passed_by_ref(rt):
    actor = Counter.options(max_restarts=1).remote(caliper.put(10))
    gc.collect()  # the driver holds no ref to the argument any more
    assert caliper.get(actor.inc.remote(), timeout=GET_S) == 11
    err, _ = timed_get(actor.exit_with.remote(3))
    assert type(err) is ActorDiedError, repr(err)
    value, _ = timed_get(actor.inc.remote(), timeout=3)
    assert value == 11, repr(value)


@pytest.mark.timeout(30)
def test_kill_fails_in_flight_and_later_calls(rt):
    actor = Counter.options(max_restarts=1).remote()
    pid = caliper.get(actor.pid.remote(), timeout=GET_S)
    in_flight = actor.sleep.remote(30)
    caliper.kill(actor)  # no_restart=True: dead for good even with restarts left
    err, elapsed = timed_get(in_flight)
    assert type(err) is ActorDiedError, repr(err)
    assert elapsed < CRASH_S
    assert "kill" in str(err)
    err, _ = timed_get(actor.inc.remote())
    assert type(err) is ActorDiedError, repr(err)
    deadline = time.monotonic() + CRASH_S
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not pid_alive(pid), f"the killed actor's worker {pid} is still running"


@pytest.mark.timeout(30)
def test_constructor_that_raises_makes_method_calls_actor_died(rt):
    actor = BrokenConstructor.remote()
    for _ in range(2):
        err, elapsed = timed_get(actor.ping.remote())
        assert type(err) is ActorDiedError, repr(err)
        assert "constructor" in str(err)
        assert "BrokenConstructor" in str(err)
        assert elapsed < CRASH_S


@pytest.mark.timeout(30)
def test_constructor_error_is_reported_with_its_exception(rt):
    err, _ = timed_get(BrokenConstructor.remote().ping.remote())
    assert type(err) is ActorDiedError, repr(err)
    chained = err.__cause__
    text = str(err) + ("" if chained is None else str(chained))
    assert "constructor refuses" in text
    assert "ValueError" in text


@pytest.mark.timeout(30)
def test_constructor_that_exits_makes_method_calls_actor_died(rt):
    err, elapsed = timed_get(ExitingConstructor.remote().ping.remote())
    assert type(err) is ActorDiedError, repr(err)
    assert "exited with code 4" in str(err)
    assert elapsed < CRASH_S


# -- after all that --------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_runtime_still_works_after_every_kind_of_failure(rt, tmp_path):
    refs = [
        rt.raise_value_error.remote(1),
        rt.exit_with.options(max_retries=0).remote(3),
        rt.sigkill_self.options(max_retries=0).remote(),
        rt.identity.remote(threading.Lock()),
        rt.return_a_lock.remote(),
        rt.crash_until.options(max_retries=0).remote(str(tmp_path / "a"), 1),
    ]
    actor = Counter.remote()
    refs += [actor.raise_value_error.remote(1), actor.return_a_lock.remote()]
    refs.append(actor.exit_with.remote(3))
    refs.append(BrokenConstructor.remote().ping.remote())
    for ref in refs:
        err, _ = timed_get(ref)
        assert isinstance(err, Exception), repr(err)
    assert caliper.get([rt.identity.remote(i) for i in range(6)], timeout=GET_S) == list(range(6))
    fresh = Counter.remote(1)
    assert caliper.get(fresh.inc.remote(), timeout=GET_S) == 2


@pytest.mark.timeout(30)
def test_remote_functions_keep_their_identity_across_runtimes():
    if caliper.is_initialized():
        caliper.shutdown()
    ident, neg = caliper.remote(identity), caliper.remote(negate)
    try:
        caliper.init(num_cpus=1)
        assert caliper.get(ident.remote(5), timeout=GET_S) == 5
        caliper.shutdown()
        caliper.init(num_cpus=1)
        assert caliper.get(neg.remote(5), timeout=GET_S) == -5
        assert caliper.get(ident.remote(5), timeout=GET_S) == 5  # gets -5: negate ran
    finally:
        caliper.shutdown()


def one():
    return 1


@pytest.mark.timeout(30)
def test_refs_from_an_earlier_runtime_do_not_free_new_objects():
    if caliper.is_initialized():
        caliper.shutdown()
    try:
        caliper.init(num_cpus=1)
        old = caliper.remote(one).remote()
        assert caliper.get(old, timeout=GET_S) == 1
        caliper.shutdown()
        caliper.init(num_cpus=1)
        new = caliper.remote(one).remote()  # same object id as ``old``
        del old
        gc.collect()
        value, _ = timed_get(new, timeout=3)
        assert value == 1, repr(value)
    finally:
        caliper.shutdown()
