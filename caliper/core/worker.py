"""A worker process: runs tasks and hosts at most one actor, on the driver's instructions.

The main thread executes work messages in the order they arrive. User code running here may
call the caliper API itself (start tasks and actors, ``get``, ``put``...): those calls become
requests to the driver, which holds the one resource ledger (:class:`WorkerBackend`).
"""

from __future__ import annotations

import itertools
import os
import pickle
import select
import signal
import socket
import sys
import threading
import time
import traceback
import types
from collections import deque
from collections.abc import Callable

from caliper.core import context, refs
from caliper.core.backend import Backend
from caliper.core.exceptions import GetTimeoutError, SerializationError, TaskCancelledError
from caliper.core.protocol import (
    DEFAULT_SPIN_CAP_S,
    BlockingConnection,
    Msg,
    Op,
    SpinBudget,
    Status,
)
from caliper.core.refs import RefTracker
from caliper.core.serialization import dumps, dumps_fast, loads, pack_exception
from caliper.core.specs import Dep

_OK, _TASK_ERROR, _RAISED = int(Status.OK), int(Status.TASK_ERROR), int(Status.RAISED)
_NO_REPLY = 0
_PICKLE = pickle.HIGHEST_PROTOCOL
LOG_TO_DRIVER_ENV = "CALIPER_LOG_TO_DRIVER"


class ProtocolGuard:
    """Marks the main thread's protocol code (a frame being sent or read): a
    ``caliper.cancel`` arriving then is held until the frame is whole, then raised."""

    def __init__(self) -> None:
        self.main = threading.main_thread().ident
        self.depth = 0
        self.pending = False

    def __enter__(self) -> None:
        if threading.get_ident() == self.main:
            self.depth += 1

    def __exit__(self, *exc: object) -> None:
        if threading.get_ident() == self.main:
            self.depth -= 1
            if not self.depth and self.pending:
                self.pending = False
                raise TaskCancelledError("cancelled by caliper.cancel() while it ran")


class Mailbox:
    """Demultiplexes the driver connection between work messages and replies to requests.

    Whichever thread needs a message and finds nobody reading becomes the reader; the others
    wait on the condition. The main loop and user threads calling the API share it safely.
    """

    def __init__(self, conn: BlockingConnection) -> None:
        self.conn = conn
        self.guard = ProtocolGuard()
        self._cond = threading.Condition()
        self._reading = False
        self._waiting = 0  # threads parked on the condition
        self.work: deque[tuple] = deque()
        self.replies: dict[int, object] = {}
        self._abandoned: set[int] = set()
        self._spin = SpinBudget()
        self._reply_spin = SpinBudget()

    def abandon(self, req_id: int) -> None:
        """Drop the reply to ``req_id`` if it ever comes."""
        with self._cond:
            if self.replies.pop(req_id, None) is None:
                self._abandoned.add(req_id)

    def _read_one(self, timeout: float | None, for_user: bool = False) -> None:
        """Read one message. ``for_user``: a task's API call waits for its reply, so
        ``caliper.cancel`` may interrupt the wait, but never a frame half read."""
        self._reading = True
        self._cond.release()
        started = time.perf_counter()
        try:
            if for_user and timeout is None and not self.conn.has_buffered():
                # replies to requests (a report's decision) come quickly: poll briefly before
                # sleeping, outside the guard so that a cancel can still interrupt the wait
                spin_until = started + self._reply_spin.budget
                while time.perf_counter() < spin_until:
                    if select.select([self.conn], [], [], 0)[0]:
                        break
            if (
                (timeout is not None or for_user)
                and not self.conn.has_buffered()
                and not select.select([self.conn], [], [], None if timeout is None else timeout)[0]
            ):
                return
            if timeout is None and not for_user:
                started = time.perf_counter()
                msg = self.conn.recv(self._spin.budget)
                self._spin.record(time.perf_counter() - started)
            else:
                with self.guard:
                    msg = self.conn.recv()
                if for_user and timeout is None:
                    self._reply_spin.record(time.perf_counter() - started)
        except (EOFError, OSError):
            os._exit(0)  # the driver is gone: nothing left to do
        finally:
            self._cond.acquire()
            self._reading = False
            if self._waiting:
                self._cond.notify_all()
        if msg[0] == Msg.REPLY:
            if msg[1] in self._abandoned:
                self._abandoned.discard(msg[1])
            else:
                self.replies[msg[1]] = msg[2]
        else:
            self.work.append(msg)

    def _park(self, timeout: float | None) -> None:
        self._waiting += 1
        try:
            self._cond.wait(timeout)
        finally:
            self._waiting -= 1

    def allow_idle_spin(self, seconds: float) -> None:
        """Poll for the next work message for up to ``seconds`` (learned from the waits, as
        always) before sleeping; the driver allows it while a CPU is to spare."""
        spin = self._spin
        spin.cap = max(seconds, DEFAULT_SPIN_CAP_S)
        spin.budget = min(spin.budget, spin.cap)

    def next_work(self) -> tuple:
        with self._cond:
            while not self.work:
                if self._reading:
                    self._park(None)
                else:
                    self._read_one(None)
            return self.work.popleft()

    def reply(self, req_id: int, timeout: float | None) -> object:
        deadline = None if timeout is None else time.monotonic() + timeout
        tried = False
        with self._cond:
            while req_id not in self.replies:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0 and tried:
                    raise GetTimeoutError(f"no reply from the driver within {timeout} s")
                tried = True
                if remaining is not None:
                    remaining = max(remaining, 0.0)
                if self._reading:
                    self._park(remaining)
                else:
                    self._read_one(remaining, for_user=True)
            return self.replies.pop(req_id)


class WorkerBackend(Backend):
    """The API as seen from inside a worker: every call is a request to the driver."""

    def __init__(self, conn: BlockingConnection, worker_id: int) -> None:
        self.conn = conn
        self.mailbox = Mailbox(conn)
        self.worker_id = worker_id
        self._ids = itertools.count(1)
        self._prefix = worker_id << 40
        self.actor_tracker = RefTracker()
        self.ref_tracker = RefTracker()
        self._after_reply: list[Callable[[], None]] = []

    def after_reply(self, fn: Callable[[], None]) -> None:
        self._after_reply.append(fn)

    def run_after_reply(self) -> None:
        """Run what the call just answered left for after its reply (see
        :meth:`Backend.after_reply`); a failure is printed, the worker goes on."""
        while self._after_reply:
            fn = self._after_reply.pop(0)
            try:
                fn()
            except Exception:
                print("caliper: work left for after a call's reply failed:", file=sys.stderr)
                traceback.print_exc()

    def release_dropped(self) -> None:
        """Tell the driver about refs and actor handles this worker dropped for good (refs
        that were pickled, e.g. returned or passed on, stay pinned)."""
        if self.ref_tracker.released:
            freed = self.ref_tracker.drain()
            if freed:
                self._send((Msg.REQUEST, _NO_REPLY, int(Op.RELEASE_OBJECTS), freed))
        if self.actor_tracker.released:
            for actor_id in self.actor_tracker.drain():
                self.release_actor(actor_id)

    def new_id(self) -> int:
        return self._prefix | next(self._ids)

    def _request(self, op: Op, payload: object, timeout: float | None = None) -> object:
        self.release_dropped()
        req_id = self.new_id()
        self._send((Msg.REQUEST, req_id, int(op), payload))
        try:
            return self.mailbox.reply(req_id, timeout)
        except BaseException:  # timeout, or caliper.cancel of the waiting task
            # the driver forgets the wait and takes back the CPUs it lent meanwhile
            self.mailbox.abandon(req_id)
            self._notify(Op.CANCEL_WAIT, req_id)
            raise

    def _notify(self, op: Op, payload: object) -> None:
        self._send((Msg.REQUEST, _NO_REPLY, int(op), payload))

    def _send(self, msg: tuple) -> None:
        with self.mailbox.guard:  # a frame is sent whole, even if the task is cancelled now
            self.conn.send(msg)

    def submit_task(self, spec) -> None:
        self._notify(Op.SUBMIT_TASK, spec)

    def create_actor(self, spec) -> None:
        self._notify(Op.CREATE_ACTOR, spec)

    def submit_call(self, spec) -> None:
        self._notify(Op.CALL, spec)

    def put(self, obj_id: int, data: bytes, status: int = 0) -> None:
        self._notify(Op.PUT, (obj_id, data, status))

    def kill_actor(self, actor_id: int, no_restart: bool) -> None:
        self._notify(Op.KILL, (actor_id, no_restart))

    def release_actor(self, actor_id: int) -> None:
        self._notify(Op.RELEASE_ACTOR, actor_id)

    def cancel(self, obj_id: int, force: bool) -> None:
        self._notify(Op.CANCEL, (obj_id, force))

    def lookup_actor(self, name: str) -> tuple[int, str, dict[str, int]] | None:
        return self._request(Op.LOOKUP_ACTOR, name)

    def create_placement_group(self, pg_id, bundles, strategy, ready_obj) -> None:
        self._notify(Op.CREATE_PG, (pg_id, bundles, strategy, ready_obj))

    def remove_placement_group(self, pg_id: int) -> None:
        self._notify(Op.REMOVE_PG, pg_id)

    def get(self, ids: list[int], timeout: float | None) -> list[tuple[int, bytes]]:
        if timeout is not None and timeout <= 0:  # a question the driver answers at once
            ready = self._request(Op.READY_NOW, tuple(ids))
            if len(set(ready)) < len(set(ids)):
                raise GetTimeoutError("get timed out after 0 s: not every value is ready")
            return self._request(Op.GET, tuple(ids))
        try:
            return self._request(Op.GET, tuple(ids), timeout)
        except GetTimeoutError:
            raise GetTimeoutError(f"get timed out after {timeout} s") from None

    def wait(self, ids: list[int], num_returns: int, timeout: float | None) -> set[int]:
        if timeout is not None:
            try:
                return set(self._request(Op.WAIT, (tuple(ids), num_returns), timeout))
            except GetTimeoutError:
                return set(self._request(Op.READY_NOW, tuple(ids)))
        return set(self._request(Op.WAIT, (tuple(ids), num_returns)))

    def resources(self) -> tuple[dict[str, float], dict[str, float]]:
        return self._request(Op.RESOURCES, None)

    def post(self, data: bytes, timeout: float | None) -> object:
        return self._request(Op.POST, data, timeout)

    def post_nowait(self, data: bytes) -> None:
        self._notify(Op.POST, data)

    def gpu_ids(self) -> list[int | str]:
        value = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        return [int(x) if x.isdigit() else x for x in value.split(",") if x]

    def shutdown(self) -> None:
        raise RuntimeError("caliper.shutdown() can only be called in the driver process")


def _arguments(args_blob: bytes, deps: list[bytes]) -> tuple[tuple, dict]:
    args, kwargs = loads(args_blob)
    if deps:
        values = [loads(d) for d in deps]
        args = tuple(values[a.index] if type(a) is Dep else a for a in args)
        kwargs = {k: values[v.index] if type(v) is Dep else v for k, v in kwargs.items()}
    return args, kwargs


def _exit_child() -> None:
    """End a process a task forked, without touching the worker's connection."""
    exc = sys.exc_info()[1]
    code = 0
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    elif exc is not None:
        code = 1
    _flush_output()
    os._exit(code)


def split_returns(result: object, n: int, name: str) -> list:
    """The ``n`` values of a ``num_returns=n`` call, or a clear error."""
    if isinstance(result, str | bytes | dict) or not hasattr(result, "__iter__"):
        raise TypeError(
            f"{name} has num_returns={n} and must return {n} values (a tuple or list), "
            f"got {type(result).__name__}"
        )
    values = list(result)
    if len(values) != n:
        raise ValueError(f"{name} has num_returns={n} but returned {len(values)} values")
    return values


def _flush_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


class Executor:
    """Runs work messages and sends back one ``DONE`` per message."""

    def __init__(self, conn: BlockingConnection) -> None:
        self.conn = conn
        self.functions: dict[int, object] = {}
        self.actor: object = None
        self.actor_name = ""
        self.current_name = ""  # what runs now (or ran last): names its output lines
        self.event_loop = None  # created by the first async method
        self.running = False  # user code is running: caliper.cancel() may interrupt it
        self.guard: ProtocolGuard | None = None
        self.pid = os.getpid()
        self.idle_spin = 0.0  # how long to poll for the next message, as the last call said

    def interrupt(self, signum: int, frame: object) -> None:
        """SIGUSR1 handler: ``caliper.cancel`` of the running task (held back while the task's
        own API call is sending or reading a frame)."""
        if not self.running:
            return
        if self.guard is not None and self.guard.depth:
            self.guard.pending = True
            return
        self.running = False
        raise TaskCancelledError("cancelled by caliper.cancel() while it ran")

    def _run(
        self, obj_id: int, name: str, fn, args_blob: bytes, deps: list[bytes], n: int = 1
    ) -> None:
        try:
            args, kwargs = _arguments(args_blob, deps)
            self.running = True
            try:
                result = fn(*args, **kwargs)
                if isinstance(result, types.CoroutineType):  # an async def method or task
                    result = self._loop().run_until_complete(result)
            finally:
                self.running = False
                if os.getpid() != self.pid:  # a child the task forked returned or raised
                    _exit_child()
            if n > 1:
                result = split_returns(result, n, name)
            status = _OK
        except BaseException as exc:
            status, data = _TASK_ERROR, pack_exception(name, exc)
        if status == _OK:
            try:
                if n > 1:
                    data = pickle.dumps([dumps_fast(v) for v in result], _PICKLE)
                else:
                    data = dumps_fast(result)
            except Exception as exc:
                status = _RAISED
                data = dumps(
                    SerializationError(
                        f"the result of {name} cannot be pickled: {type(exc).__name__}: {exc}"
                    )
                )
        _flush_output()
        self.conn.send((Msg.DONE, obj_id, status, data))

    def _loop(self):
        """The event loop async methods run on (one per worker, so their state persists)."""
        import asyncio

        if self.event_loop is None:
            self.event_loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.event_loop)
        return self.event_loop

    def handle(self, msg: tuple) -> bool:
        """Execute one message; False when the worker should exit."""
        kind = msg[0]
        if kind == Msg.CALL:
            _, obj_id, method, args_blob, deps, n, self.idle_spin = msg
            fn = getattr(self.actor, method, None)
            if fn is None:
                err = AttributeError(f"{self.actor_name} has no method {method!r}")
                self.conn.send((Msg.DONE, obj_id, _TASK_ERROR, pack_exception(method, err)))
                return True
            self.current_name = self.actor_name  # output lines are named like Ray's: by actor
            self._run(obj_id, f"{self.actor_name}.{method}", fn, args_blob, deps, n)
        elif kind == Msg.TASK:
            self.idle_spin = 0.0
            _, obj_id, fn_id, blob, args_blob, deps, n = msg
            if blob is not None:
                self.functions[fn_id] = loads(blob)
            fn = self.functions[fn_id]
            self.current_name = getattr(fn, "__qualname__", "task")
            self._run(obj_id, self.current_name, fn, args_blob, deps, n)
        elif kind == Msg.CREATE_ACTOR:
            _, obj_id, cls_blob, args_blob, deps = msg
            try:
                cls = loads(cls_blob)
            except BaseException as exc:
                self.conn.send((Msg.DONE, obj_id, _TASK_ERROR, pack_exception("actor", exc)))
                return True
            self.actor_name = self.current_name = getattr(cls, "__qualname__", "actor")
            holder: dict = {}

            def construct(*args, **kwargs):
                holder["instance"] = cls(*args, **kwargs)

            self._run(obj_id, f"{self.actor_name}.__init__", construct, args_blob, deps)
            self.actor = holder.get("instance")
        elif kind == Msg.EXIT:
            return False
        return True


def _forward_output(conn: BlockingConnection, executor: Executor) -> list[threading.Thread]:
    """Send what this process writes to fds 1 and 2 (Python or C code alike) to the driver,
    which prints it with a prefix naming the task or actor (Ray's ``log_to_driver``)."""
    pumps = []
    for fd in (1, 2):
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        pump = threading.Thread(target=_pump, args=(conn, read_end, fd, executor), daemon=True)
        pump.start()
        pumps.append(pump)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):
            pass
    return pumps


def _pump(conn: BlockingConnection, read_end: int, fd: int, executor: Executor) -> None:
    while True:
        try:
            data = os.read(read_end, 1 << 16)
            if not data:
                return
            conn.send((Msg.LOG, fd, data, executor.current_name))
        except OSError:
            return


def _end_forwarding(pumps: list[threading.Thread]) -> None:
    """Let the pumps send what is still in the pipes before the process exits."""
    _flush_output()
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(devnull, fd)
    for pump in pumps:
        pump.join(timeout=1.0)


def run_worker(address: str, worker_id: int) -> None:
    """Connect to the driver at ``address`` and serve it until told to exit."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(address)
    conn = BlockingConnection(sock)
    backend = WorkerBackend(conn, worker_id)
    context.set_backend(backend)
    refs.set_tracker(backend.ref_tracker)
    conn.send((Msg.HELLO, worker_id, os.getpid()))
    executor = Executor(conn)
    executor.guard = backend.mailbox.guard
    signal.signal(signal.SIGUSR1, executor.interrupt)
    pumps = []
    if os.environ.pop(LOG_TO_DRIVER_ENV, "") == "1":
        pumps = _forward_output(conn, executor)
    mailbox = backend.mailbox
    while executor.handle(mailbox.next_work()):
        backend.run_after_reply()
        mailbox.allow_idle_spin(executor.idle_spin)
        backend.release_dropped()
    if pumps:
        _end_forwarding(pumps)
    else:
        _flush_output()
