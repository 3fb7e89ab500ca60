"""No process outlives the runtime: after ``shutdown()``, a SIGKILLed driver, a Ctrl-C, or the
death of the zygote, every worker (and the zygote) is gone within a couple of seconds.

The driver tests run a real driver script (written without a ``__main__`` guard, as users
write them) in a subprocess; it prints the pids it started as one JSON line on stdout.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import procs
import pytest
from procs import pid_alive

import caliper
from caliper.core import context
from caliper.exceptions import CaliperError, WorkerCrashedError

GONE_S = 2.0  # every process must be gone this soon after the event that ends it
GET_S = 10.0
REPO = str(Path(caliper.__file__).resolve().parent.parent)


def wait_gone(pids, timeout: float = GONE_S) -> list[int]:
    return procs.wait_gone(pids, timeout)


def kill_leftovers(pids) -> None:
    """Last resort so that a failing test leaves nothing behind (only pids it started)."""
    for pid in pids:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def rt():
    """A fresh 2-CPU runtime; garbage is collected while none is up (ids restart per runtime)."""
    if caliper.is_initialized():
        caliper.shutdown()
    gc.collect()
    caliper.init(num_cpus=2)
    yield
    caliper.shutdown()
    gc.collect()


@caliper.remote
class Sleeper:
    def pid(self):
        return os.getpid()

    def sleep(self, seconds):
        time.sleep(seconds)


def pid_after(seconds):
    time.sleep(seconds)
    return os.getpid()


def one():
    return 1


def wait_for_workers(backend, count: int, timeout: float = GET_S) -> list[int]:
    deadline = time.monotonic() + timeout
    while len(backend.worker_pids()) < count:
        assert time.monotonic() < deadline, f"only {backend.worker_pids()} of {count} workers"
        time.sleep(0.01)
    return backend.worker_pids()


# -- shutdown ------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_shutdown_ends_every_worker_and_the_zygote(rt):
    backend = context.peek()
    actors = [Sleeper.remote() for _ in range(3)]
    actor_pids = caliper.get([a.pid.remote() for a in actors], timeout=GET_S)
    task = caliper.remote(pid_after)
    task_pids = caliper.get([task.remote(0.05) for _ in range(4)], timeout=GET_S)
    busy_actor = actors[0].sleep.remote(30)  # in flight at shutdown
    busy_tasks = [task.remote(30) for _ in range(2)]  # in flight at shutdown
    pids = wait_for_workers(backend, len(actor_pids) + 2)
    zygote = backend._zygote.pid
    assert set(actor_pids) <= set(pids)
    assert len(pids) >= len(set(actor_pids)) + 2, (pids, task_pids)
    try:
        start = time.monotonic()
        caliper.shutdown()
        assert time.monotonic() - start < GONE_S
        assert not caliper.is_initialized()
        left = wait_gone([*pids, zygote])
        assert not left, f"still running {GONE_S} s after shutdown(): {left}"
    finally:
        kill_leftovers([*pids, zygote])
    del busy_actor, busy_tasks


# -- the zygote dies -----------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_zygote_sigkill_takes_the_workers_with_it(rt):
    backend = context.peek()
    actors = [Sleeper.remote() for _ in range(2)]
    caliper.get([a.pid.remote() for a in actors], timeout=GET_S)
    in_flight = caliper.remote(pid_after).options(max_retries=0).remote(30)
    pids = wait_for_workers(backend, 3)
    zygote = backend._zygote.pid
    try:
        os.kill(zygote, signal.SIGKILL)
        left = wait_gone([*pids, zygote])
        assert not left, f"workers outlived their zygote (PR_SET_PDEATHSIG): {left}"
        start = time.monotonic()
        with pytest.raises(WorkerCrashedError):
            caliper.get(in_flight, timeout=GET_S)
        assert time.monotonic() - start < GONE_S
    finally:
        kill_leftovers([*pids, zygote])


@pytest.mark.timeout(30)
def test_work_after_the_zygote_died_fails_instead_of_hanging(rt):
    backend = context.peek()
    actor = Sleeper.options(max_restarts=1).remote()
    caliper.get(actor.pid.remote(), timeout=GET_S)
    in_flight = caliper.remote(pid_after).remote(30)  # default max_retries=3
    pids = wait_for_workers(backend, 2)
    zygote = backend._zygote.pid
    try:
        os.kill(zygote, signal.SIGKILL)
        assert not wait_gone([*pids, zygote])
        submissions = (
            lambda: in_flight,
            lambda: actor.pid.remote(),
            lambda: caliper.remote(one).remote(),
        )
        for submit in submissions:
            with pytest.raises(CaliperError, match="zygote"):  # prompt and says what happened
                caliper.get(submit(), timeout=GONE_S)
    finally:
        kill_leftovers([*pids, zygote])


# -- the driver dies -----------------------------------------------------------------------

DRIVER = textwrap.dedent(
    """
    import json
    import os
    import sys
    import time

    import caliper
    from caliper.core import context

    caliper.init(num_cpus=2)


    @caliper.remote
    class Pid:
        def pid(self):
            return os.getpid()


    @caliper.remote
    def long_task():
        time.sleep(60)


    actors = [Pid.remote() for _ in range(3)]
    actor_pids = caliper.get([a.pid.remote() for a in actors])
    backend = context.peek()
    ref = None
    if sys.argv[1] == "get":
        ref = long_task.remote()
        deadline = time.monotonic() + 10
        while len(backend.worker_pids()) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    workers, zygote = backend.worker_pids(), backend._zygote.pid
    print(json.dumps({"actors": actor_pids, "workers": workers, "zygote": zygote}), flush=True)
    if sys.argv[1] == "get":
        caliper.get(ref)
    elif sys.argv[1] == "sleep":
        time.sleep(60)
    # "exit": the script ends without calling caliper.shutdown()
    """
)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Driver:
    """A driver script in a subprocess, and the pids it reported."""

    def __init__(self, tmp_path, mode: str, new_session: bool = False) -> None:
        script = tmp_path / "driver.py"
        script.write_text(DRIVER)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")]))
        env["CUDA_VISIBLE_DEVICES"] = ""
        self.tmpdir = tmp_path / "tmp"  # the driver's own temp dir, to see what it leaves
        self.tmpdir.mkdir(exist_ok=True)
        env["TMPDIR"] = str(self.tmpdir)
        self.proc = subprocess.Popen(
            [sys.executable, str(script), mode],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=str(tmp_path),
            text=True,
            start_new_session=new_session,
            # A shell starting pytest in the background ignores SIGINT, and a child would
            # inherit that: give the driver the default disposition a terminal gives it.
            preexec_fn=_default_sigint,
        )
        self.pids: list[int] = []
        try:
            ready = select.select([self.proc.stdout], [], [], 20)[0]
            line = self.proc.stdout.readline() if ready else ""
            if not line:
                self.proc.kill()
                _, err = self.proc.communicate(timeout=10)
                pytest.fail(f"the driver printed no pids; stderr:\n{err}")
            info = json.loads(line)
        except BaseException:
            self.close()
            raise
        self.actors = info["actors"]
        self.workers = info["workers"]
        self.zygote = info["zygote"]
        self.pids = [*self.workers, self.zygote]
        assert set(self.actors) <= set(self.workers)

    def finish(self) -> tuple[int, str]:
        """Wait for the driver to exit; its return code and stderr."""
        _, err = self.proc.communicate(timeout=15)
        return self.proc.returncode, err

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ValueError):
            pass
        kill_leftovers(self.pids)


@pytest.fixture
def driver(tmp_path):
    drivers: list[Driver] = []

    def start(mode: str, new_session: bool = False) -> Driver:
        d = Driver(tmp_path, mode, new_session)
        drivers.append(d)
        return d

    yield start
    for d in drivers:
        d.close()


@pytest.mark.timeout(30)
def test_sigkilled_driver_leaves_no_worker(driver):
    d = driver("sleep")
    assert len(d.actors) == 3
    os.kill(d.proc.pid, signal.SIGKILL)
    left = wait_gone(d.pids)
    assert not left, f"still running {GONE_S} s after the driver was SIGKILLed: {left}"
    code, _ = d.finish()
    assert code == -signal.SIGKILL
    deadline = time.monotonic() + GONE_S  # the zygote removes the driver's socket directory
    while any(d.tmpdir.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(d.tmpdir.iterdir()), list(d.tmpdir.iterdir())


@pytest.mark.timeout(30)
def test_ctrl_c_in_get_exits_the_driver_and_its_workers(driver):
    d = driver("get")
    assert len(d.workers) == 4  # 3 actors and the worker running long_task
    time.sleep(0.3)  # the driver is now blocked in caliper.get(ref)
    os.kill(d.proc.pid, signal.SIGINT)  # the driver only: workers ignore SIGINT
    left = wait_gone(d.pids)
    assert not left, f"still running {GONE_S} s after Ctrl-C: {left}"
    code, err = d.finish()
    assert code == -signal.SIGINT, err
    assert "KeyboardInterrupt" in err
    assert "caliper.get(ref)" in err  # it was interrupted while waiting in get


@pytest.mark.timeout(30)
def test_terminal_ctrl_c_to_the_whole_process_group(driver):
    d = driver("get", new_session=True)
    time.sleep(0.3)
    try:
        os.killpg(d.proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        left = wait_gone(d.pids)
        assert not left, f"still running {GONE_S} s after Ctrl-C to the group: {left}"
        code, err = d.finish()
    finally:
        try:
            os.killpg(d.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert code == -signal.SIGINT, err
    assert "caliper.get(ref)" in err
    # the zygote and the workers ignore SIGINT: one traceback, the driver's
    assert err.count("KeyboardInterrupt") == 1, err
    assert err.count("Traceback") == 1, err


@pytest.mark.timeout(30)
def test_driver_that_ends_without_shutdown_leaves_no_worker(driver):
    d = driver("exit")
    code, err = d.finish()
    assert code == 0, err
    left = wait_gone(d.pids)
    assert not left, f"still running {GONE_S} s after the driver exited: {left}"
