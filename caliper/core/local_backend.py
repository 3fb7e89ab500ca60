"""The local backend: the I/O side of the runtime on this machine.

One thread at a time polls (epoll) every worker socket, the zygote's socket and a
wake-up socket. Messages are fed to :class:`~caliper.core.state.RuntimeState` under one lock;
the instructions it returns are carried out at once with non-blocking sends, so no lock is
ever held across a blocking call. A worker's death is seen when the zygote reaps it (SIGCHLD),
after everything the worker wrote before dying has been read.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from caliper.core import refs
from caliper.core.backend import Backend
from caliper.core.detect import detect_cpus
from caliper.core.entities import InterruptWorker, KillWorker, Send, StartWorker
from caliper.core.exceptions import CaliperError, GetTimeoutError
from caliper.core.interrupts import DeferredInterrupt
from caliper.core.local_inbox import LocalInbox
from caliper.core.objects import Watch
from caliper.core.poller import Poller
from caliper.core.protocol import BufferedSender, FrameBuffer, Msg, SpinBudget, encode
from caliper.core.resources import NodeResources
from caliper.core.state import RuntimeState
from caliper.core.worker import LOG_TO_DRIVER_ENV
from caliper.core.zygote import DRIVER_DIR_PREFIX, launch_zygote

_DONE, _HELLO, _REQUEST, _LOG = Msg.DONE, Msg.HELLO, Msg.REQUEST, Msg.LOG
# Ids are unique in the process, not per runtime: a ref or a function shipped under one runtime
# must never name something else after shutdown() and init().
_IDS = itertools.count(1)
_HANDBACK_S = 0.002  # the background poller resumes after user threads stop waiting this long
_ROTATE_S = 0.1  # longest a waiting thread polls before re-checking who should poll


class _Conn:
    """One socket the loop reads: a worker's (``worker_id`` set after HELLO) or the zygote's."""

    __slots__ = ("frames", "partial", "sender", "sock", "worker_id")

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.frames = FrameBuffer()
        self.sender = BufferedSender(sock)
        self.worker_id: int | None = None
        self.partial = {1: b"", 2: b""}  # output of the worker not yet ended by a newline


class LocalBackend(LocalInbox, Backend):
    counts_actor_handles = True

    """Runs tasks and actors in worker processes of this machine.

    Args:
        node: the ledger of this machine's resources.
        gpu_names: ``CUDA_VISIBLE_DEVICES`` id of each GPU device index.
        max_idle_workers: idle workers kept for reuse.
        launched: a zygote already started with :func:`launch_zygote` (it boots while the
            caller does other work); started here when ``None``.
        log_to_driver: print what workers write to stdout/stderr here, each line prefixed
            with the task or actor and the pid (else workers write to the inherited fds).
    """

    def __init__(
        self,
        node: NodeResources,
        gpu_names: list[str],
        max_idle_workers: int,
        launched: tuple[subprocess.Popen, socket.socket] | None = None,
        log_to_driver: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.state = RuntimeState([node], gpu_names, max_idle_workers, cores=detect_cpus())
        self.tracker = refs.RefTracker()
        self.actor_tracker = refs.RefTracker()
        self._closed = False
        self._broken: CaliperError | None = None
        self._conns: dict[int, _Conn] = {}
        self._pids: dict[int, int] = {}
        self._pending_kill: set[int] = set()
        self._flush_wanted: list[_Conn] = []
        self._log_to_driver = log_to_driver
        self._log_lines: list[tuple[int, str]] = []  # printed once the lock is released
        self._poll_lock = threading.Lock()  # held by the one thread running _poll_once
        self._spin = SpinBudget()
        self._init_inbox()
        self._interrupt = DeferredInterrupt()
        self._interrupt.install()
        self._bg_idle = threading.Condition(self.lock)
        self._bg_polling = False
        self._users = 0  # user threads blocked in get/wait
        self._last_user = 0.0
        self._poller = Poller()
        self._tmpdir = tempfile.mkdtemp(prefix=DRIVER_DIR_PREFIX)
        self.address = os.path.join(self._tmpdir, "driver.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.address)
        self._listener.listen(256)
        self._listener.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._zygote, self._zygote_conn = self._start_zygote(launched)
        self._poller.register(self._listener, self._on_accept)
        self._poller.register(self._wake_r, self._on_wake)
        self._poller.register(self._zygote_conn.sock, self._zygote_conn)
        refs.set_tracker(self.tracker)
        self._thread = threading.Thread(target=self._loop, name="caliper-io", daemon=True)
        self._thread.start()

    # -- processes -------------------------------------------------------------------------

    def _start_zygote(self, launched) -> tuple[subprocess.Popen, _Conn]:
        proc, sock = launched or launch_zygote()
        conn = _Conn(sock)
        conn.sender.send(encode((Msg.SETUP, list(sys.path), self.address)))
        return proc, conn

    def _kill_pid(self, worker_id: int, signum: int = signal.SIGKILL) -> None:
        pid = self._pids.get(worker_id)
        if pid is None:
            if signum == signal.SIGKILL:
                self._pending_kill.add(worker_id)
            return
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    # -- carrying out instructions (lock held) -------------------------------------------

    def _apply(self) -> None:
        state = self.state
        if self.tracker.released:
            freed = self.tracker.drain()
            if freed:
                state.release_objects(freed)
        if self.actor_tracker.released:
            for actor_id in self.actor_tracker.drain():
                state.release_actor(actor_id)
        out = state.out
        while out:
            batch = out[:]
            out.clear()
            for instr in batch:
                if type(instr) is Send:
                    conn = self._conns.get(instr.worker_id)
                    if conn is not None and conn.sender.send(encode(instr.msg)):
                        self._want_flush(conn)
                elif type(instr) is StartWorker:
                    env = dict(os.environ)
                    env["CUDA_VISIBLE_DEVICES"] = instr.cuda
                    if self._log_to_driver:
                        env[LOG_TO_DRIVER_ENV] = "1"
                    frame = encode((Msg.SPAWN, instr.worker_id, env))
                    if self._zygote_conn.sender.send(frame):
                        self._want_flush(self._zygote_conn)
                elif type(instr) is KillWorker:
                    self._kill_pid(instr.worker_id)
                elif type(instr) is InterruptWorker:
                    self._kill_pid(instr.worker_id, signal.SIGUSR1)
        if state.completed:
            state.completed = False
            self.cond.notify_all()

    def _want_flush(self, conn: _Conn) -> None:
        self._flush_wanted.append(conn)
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except (BlockingIOError, OSError):
            pass

    # -- the loop ----------------------------------------------------------------------------

    def _poll_once(self, timeout: float | None) -> int:
        """Wait for socket events (at most ``timeout``) and handle them; returns how many.
        The caller holds the poll role."""
        events = self._poller.poll(timeout)  # Ctrl-C may interrupt this wait: nothing is lost
        if not events and not self._flush_wanted:
            return 0
        with self._interrupt:  # but not what follows: bytes read must reach the state
            for handler, readable, writable in events:
                try:
                    if type(handler) is _Conn:
                        if writable:
                            self._flush(handler)
                        if readable:
                            self._on_readable(handler)
                    else:
                        handler()
                except Exception:  # a bug must not stop the event loop
                    print("caliper: internal error while handling an event:", file=sys.stderr)
                    traceback.print_exc()
            if self._flush_wanted:
                self._register_flushes()
        return len(events)

    def _loop(self) -> None:
        """Background poller: runs whenever no user thread has been blocked in get/wait for
        a moment, so events are handled promptly even when nobody waits for them."""
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # Ctrl-C is the main thread's
        while not self._closed:
            with self.lock:
                while not self._closed and (
                    self._users or time.monotonic() - self._last_user < _HANDBACK_S
                ):
                    self._bg_idle.wait(_HANDBACK_S)
            with self._poll_lock:
                self._bg_polling = True
                try:
                    while not self._closed and not self._users:
                        self._poll_once(None)
                finally:
                    self._bg_polling = False
            with self.cond:
                self.cond.notify_all()  # a user thread may be waiting for the poll role

    def _block_until(self, ready, deadline: float | None, spin: SpinBudget | None) -> bool:
        """Wait until ``ready()`` (called with the lock held) is true or ``deadline`` passes.

        The calling thread polls the sockets itself when it can take the poll role, so a
        result wakes it directly instead of through another thread; a call whose deadline
        has already passed still polls once. Returns ``ready()``.

        ``spin``: how long to poll before sleeping, learned from the waits it is used for
        (``None``: sleep at once).
        """
        with self.lock:
            if ready():
                return True
            if deadline is not None and deadline <= time.monotonic():
                return self._poll_now(ready)
            self._users += 1
        if self._bg_polling:
            self._wake()
        # A reply usually comes within tens of microseconds: poll without sleeping that long
        # first, since waking a sleeping thread costs as much again.
        started = time.perf_counter()
        spin_until = started + (spin.budget if spin is not None else 0.0)
        try:
            while True:
                with self.lock:
                    if ready():
                        if spin is not None:
                            spin.record(time.perf_counter() - started)
                        return True
                    if self._closed:
                        raise RuntimeError("caliper was shut down while this call was waiting")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return self._poll_now(ready)
                step = _ROTATE_S if remaining is None else min(remaining, _ROTATE_S)
                if self._poll_lock.acquire(blocking=False):
                    try:
                        self._poll_once(0 if time.perf_counter() < spin_until else step)
                    finally:
                        self._poll_lock.release()
                else:
                    with self.cond:
                        if not ready() and not self._closed:
                            self.cond.wait(step)
        finally:
            with self.lock:
                self._users -= 1
                self._last_user = time.monotonic()

    def _poll_now(self, ready) -> bool:
        """Handle whatever has arrived, without waiting, then ask ``ready()`` again."""
        if self._poll_lock.acquire(blocking=False):
            try:
                self._poll_once(0)
            finally:
                self._poll_lock.release()
        with self.lock:
            return ready()

    def _register_flushes(self) -> None:
        with self.lock:  # appended to under the lock, by whichever thread sent
            wanted, self._flush_wanted = self._flush_wanted, []
        for conn in wanted:
            try:
                self._poller.modify(conn.sock, write=True)
            except (KeyError, ValueError, OSError):
                pass

    def _flush(self, conn: _Conn) -> None:
        if not conn.sender.flush():
            try:
                self._poller.modify(conn.sock, write=False)
            except (KeyError, ValueError, OSError):
                pass

    def _on_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _on_accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except (BlockingIOError, OSError):
            return
        conn = _Conn(sock)
        self._poller.register(sock, conn)

    def _read(self, conn: _Conn) -> list[tuple] | None:
        """Messages available on ``conn``; ``None`` once it is closed."""
        msgs: list[tuple] = []
        while True:
            try:
                data = conn.sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                return msgs
            except OSError:
                data = b""
            if not data:
                self._close(conn)
                return msgs or None
            msgs.extend(conn.frames.feed(data))
            if len(data) < 1 << 16:
                return msgs

    def _close(self, conn: _Conn) -> None:
        try:
            self._poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        conn.sock.close()
        conn.sender.closed = True

    def _on_readable(self, conn: _Conn) -> None:
        msgs = self._read(conn)
        if not msgs:
            if msgs is None and conn is self._zygote_conn and not self._closed:
                self._zygote_lost()
            return
        with self.lock:
            if conn is self._zygote_conn:
                for msg in msgs:
                    self._on_zygote(msg)
            else:
                for msg in msgs:
                    self._on_worker(conn, msg)
            self._apply()
            lines, self._log_lines = self._log_lines, []
        for fd, line in lines:
            stream = sys.stdout if fd == 1 else sys.stderr
            try:
                stream.write(line)
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass

    def _on_worker(self, conn: _Conn, msg: tuple) -> None:
        kind = msg[0]
        if kind == _DONE:
            self.state.worker_done(conn.worker_id, msg[1], msg[2], msg[3])
        elif kind == _REQUEST:
            self.state.on_request(conn.worker_id, msg[1], msg[2], msg[3], self._resources)
        elif kind == _LOG:
            self._on_log(conn, msg[1], msg[2], msg[3])
        elif kind == _HELLO:
            conn.worker_id = msg[1]
            self._conns[msg[1]] = conn
            self._pids[msg[1]] = msg[2]
            self.state.worker_connected(msg[1], msg[2])

    def _on_log(self, conn: _Conn, fd: int, data: bytes, name: str, final: bool = False) -> None:
        """Queue the complete lines a worker wrote, prefixed like Ray's ``(name pid=N)``."""
        text = conn.partial[fd] + data
        lines = text.split(b"\n")
        conn.partial[fd] = b"" if final else lines.pop()
        if not lines or lines == [b""]:
            return
        prefix = f"({name + ' ' if name else ''}pid={self._pids.get(conn.worker_id, '?')}) "
        body = "".join(f"{prefix}{line.decode(errors='replace')}\n" for line in lines if line)
        if body:
            self._log_lines.append((fd, body))

    def _on_zygote(self, msg: tuple) -> None:
        if msg[0] == Msg.SPAWNED:
            _, worker_id, pid = msg
            self._pids[worker_id] = pid
            if worker_id in self._pending_kill:
                self._pending_kill.discard(worker_id)
                self._kill_pid(worker_id)
        elif msg[0] == Msg.EXITED:
            _, worker_id, _pid, exitcode = msg
            conn = self._conns.pop(worker_id, None)
            if conn is not None and not conn.sender.closed:
                for late in self._read(conn) or ():
                    self._on_worker(conn, late)
                self._close(conn)
            if conn is not None:
                for fd in (1, 2):
                    self._on_log(conn, fd, b"", "", final=True)
            self._pids.pop(worker_id, None)
            self._pending_kill.discard(worker_id)
            self.state.worker_died(worker_id, exitcode)

    def _zygote_lost(self) -> None:
        """The worker launcher died (its workers die with it): fail all unfinished work and
        refuse new work, with a message that says how to recover."""
        error = CaliperError(
            "caliper's worker launcher (the zygote process) exited unexpectedly, taking its "
            "workers with it; call caliper.shutdown() and caliper.init() to start again"
        )
        print(f"caliper: {error}", file=sys.stderr)
        with self.lock:
            self._broken = error
            for worker_id in list(self.state.workers):
                self.state.worker_died(worker_id, None)
            for obj_id, entry in list(self.state.objects.items()):
                if entry.status is None:
                    self.state.fail(obj_id, error)
            self._apply()
            self.cond.notify_all()

    # -- Backend API ----------------------------------------------------------------------

    def new_id(self) -> int:
        return next(_IDS)

    def _locked(self, method, *args) -> None:
        with self._interrupt, self.lock:  # a Ctrl-C now must not leave the state half changed
            if self._closed:
                raise RuntimeError("caliper has been shut down; call caliper.init() again")
            if self._broken is not None:
                raise self._broken
            method(*args)
            self._apply()

    def submit_task(self, spec) -> None:
        self._locked(self.state.submit_task, spec)

    def create_actor(self, spec) -> None:
        self._locked(self.state.create_actor, spec)

    def submit_call(self, spec) -> None:
        self._locked(self.state.submit_call, spec)

    def put(self, obj_id: int, data: bytes, status: int = 0) -> None:
        self._locked(self.state.put, obj_id, data, status)

    def kill_actor(self, actor_id: int, no_restart: bool) -> None:
        self._locked(self.state.kill_actor, actor_id, no_restart)

    def cancel(self, obj_id: int, force: bool) -> None:
        self._locked(self.state.cancel, obj_id, force)

    def release_actor(self, actor_id: int) -> None:
        self._locked(self.state.release_actor, actor_id)

    def lookup_actor(self, name: str) -> tuple[int, str, dict[str, int]] | None:
        with self.lock:
            return self.state.lookup_actor(name)

    def create_placement_group(self, pg_id, bundles, strategy, ready_obj) -> None:
        self._locked(self.state.create_pg, pg_id, bundles, strategy, ready_obj)

    def remove_placement_group(self, pg_id: int) -> None:
        self._locked(self.state.remove_pg, pg_id)

    def get(self, ids: list[int], timeout: float | None) -> list[tuple[int, bytes]]:
        state = self.state
        deadline = None if timeout is None else time.monotonic() + timeout
        watch = self._watch(ids, len(ids))
        try:
            if not self._block_until(lambda: watch.needed <= 0, deadline, self._spin):
                missing = sum(1 for i in ids if not state.is_done(i))
                raise GetTimeoutError(
                    f"get timed out after {timeout} s: {missing} of {len(ids)} values are not ready"
                )
        finally:
            self._unwatch(watch)
        with self.lock:
            return [state.result(i) for i in ids]

    def wait(self, ids: list[int], num_returns: int, timeout: float | None) -> set[int]:
        deadline = None if timeout is None else time.monotonic() + timeout
        watch = self._watch(ids, num_returns)
        try:
            self._block_until(lambda: watch.needed <= 0, deadline, self._spin)
        finally:
            self._unwatch(watch)
        with self.lock:
            return {i for i in ids if self.state.is_done(i)}

    def preload(self, modules: list[str]) -> None:
        with self.lock:
            if self._zygote_conn.sender.send(encode((Msg.PRELOAD, list(modules)))):
                self._want_flush(self._zygote_conn)

    def _watch(self, ids: list[int], needed: int) -> Watch:
        with self.lock:
            self._check_known(ids)
            return self.state.objs.watch(ids, needed)

    def _unwatch(self, watch: Watch) -> None:
        if watch.needed > 0:
            with self.lock:
                self.state.objs.unwatch(watch)

    def _check_known(self, ids: list[int]) -> None:
        """Refs the runtime has never heard of would wait forever: refuse them (lock held)."""
        self._apply()
        objects = self.state.objects
        for obj_id in ids:
            if obj_id not in objects:
                raise ValueError(
                    f"ObjectRef({obj_id:016x}) is unknown to this runtime: it was made "
                    "before the last caliper.shutdown()"
                )

    def _resources(self) -> tuple[dict[str, float], dict[str, float]]:
        node = self.state.nodes[0]
        return node.total_dict(), node.available_dict()

    def resources(self) -> tuple[dict[str, float], dict[str, float]]:
        with self.lock:
            return self._resources()

    def gpu_ids(self) -> list[int | str]:
        return []

    def worker_pids(self) -> list[int]:
        """Pids of the live worker processes (for tests and diagnostics)."""
        with self.lock:
            return list(self._pids.values())

    def shutdown(self) -> None:
        """Kill every worker (and the zygote) and stop the I/O thread."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
            self.cond.notify_all()
        if threading.get_ident() == self._interrupt.main:
            self._interrupt.uninstall()
        refs.set_tracker(None)
        self._wake()
        self._thread.join(timeout=5)
        if self._log_to_driver:  # print what workers wrote just before the end
            deadline = time.monotonic() + 0.2
            with self._poll_lock:
                while self._poll_once(0.02) and time.monotonic() < deadline:
                    pass
        try:
            self._zygote_conn.sock.setblocking(True)
            self._zygote_conn.sock.sendall(encode((Msg.EXIT,)))
        except OSError:
            pass
        try:
            self._zygote.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._zygote.kill()
            self._zygote.wait()
        for pid in list(self._pids.values()):  # belt and braces: the zygote killed them
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for conn in list(self._conns.values()):
            conn.sock.close()
        self._zygote_conn.sock.close()
        self._poller.close()
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()
        shutil.rmtree(self._tmpdir, ignore_errors=True)
