"""Wire protocol between the driver, the zygote and workers: message kinds and framing.

A frame is an 8-byte big-endian length followed by a pickled tuple whose first item is a
:class:`Msg` value (sent as a plain int: pickling enum members costs more than it tells).
The driver side reads and writes non-blockingly through :class:`FrameBuffer` and
:class:`BufferedSender`; workers and the zygote use the blocking :class:`BlockingConnection`.
"""

from __future__ import annotations

import enum
import pickle
import socket
import struct
import threading
import time
from collections import deque

HEADER = struct.Struct("!Q")
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_BIG = 1 << 16


class Msg(enum.IntEnum):
    """Kinds of message; the comment says who sends it."""

    HELLO = 1  # worker -> driver: (HELLO, worker_id, pid)
    # TASK, driver -> worker: (TASK, obj_id, fn_id, fn_blob|None, args_blob, deps, n_returns);
    # fn_blob is sent to a worker once per function, deps are the values of ref arguments
    TASK = 2
    CREATE_ACTOR = 3  # driver -> worker: (CREATE_ACTOR, obj_id, cls_blob, args_blob, deps)
    # CALL, driver -> worker: (CALL, obj_id, method, args_blob, deps, n_returns, idle_spin);
    # idle_spin: how long the actor may poll for its next call once this one ended (seconds)
    CALL = 4
    DONE = 5  # worker -> driver: (DONE, obj_id, Status, data); n_returns > 1: data = [bytes]
    REQUEST = 6  # worker -> driver: (REQUEST, req_id, Op, payload)
    REPLY = 7  # driver -> worker: (REPLY, req_id, payload)
    EXIT = 8  # driver -> worker: (EXIT,)
    SPAWN = 9  # driver -> zygote: (SPAWN, worker_id, environ)
    SPAWNED = 10  # zygote -> driver: (SPAWNED, worker_id, pid)
    EXITED = 11  # zygote -> driver: (EXITED, worker_id, pid, exitcode)
    SETUP = 12  # driver -> zygote: (SETUP, sys_path, driver_address)
    LOG = 13  # worker -> driver: (LOG, fd, bytes, name) what it wrote to stdout/stderr
    PRELOAD = 14  # driver -> zygote: (PRELOAD, module names) imported before the next fork


class Status(enum.IntEnum):
    """How a finished object ended."""

    OK = 0  # data: the value, pickled
    TASK_ERROR = 1  # data: pickled (function name, exception, traceback text)
    RAISED = 2  # data: a pickled CaliperError to raise as is


class Op(enum.IntEnum):
    """Requests a worker makes of the driver on behalf of user code (nested calls)."""

    SUBMIT_TASK = 1
    CREATE_ACTOR = 2
    CALL = 3
    PUT = 4
    KILL = 5
    GET = 6  # reply when all are done: list of (status, data)
    WAIT = 7  # reply when num_returns are done: list of done ids
    READY_NOW = 8  # reply at once: list of done ids
    CREATE_PG = 9
    REMOVE_PG = 10
    RESOURCES = 11  # reply at once: (cluster, available)
    RELEASE_ACTOR = 12
    LOOKUP_ACTOR = 13  # reply at once: (actor id, class name, methods) or None
    CANCEL_WAIT = 14  # the worker stopped waiting for the reply to this GET/WAIT request
    CANCEL = 15  # caliper.cancel(ref, force) called in a worker
    RELEASE_OBJECTS = 16  # the worker dropped its last refs to these ids (made in it)
    POST = 17  # a message to the driver's inbox (caliper.core.channel); replied by the driver


def encode(msg: tuple) -> bytes:
    """One frame holding ``msg``."""
    payload = pickle.dumps(msg, _PROTOCOL)
    return HEADER.pack(len(payload)) + payload


class FrameBuffer:
    """Accumulates bytes read from a stream and yields the complete messages in them."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple]:
        buf = self._buf
        if not buf and len(data) >= 8:  # the usual case: exactly one whole frame
            (size,) = HEADER.unpack_from(data)
            if len(data) == 8 + size:
                return [pickle.loads(memoryview(data)[8:])]
        buf += data
        out = []
        pos = 0
        end = len(buf)
        while end - pos >= 8:
            (size,) = HEADER.unpack_from(buf, pos)
            if end - pos - 8 < size:
                break
            out.append(pickle.loads(memoryview(buf)[pos + 8 : pos + 8 + size]))
            pos += 8 + size
        if pos:
            del buf[:pos]
        return out


class BufferedSender:
    """Non-blocking sends on one socket; what the kernel does not take waits in a queue.

    ``send`` never blocks, so it is safe to call while holding the runtime lock. When bytes
    are left over, ``send`` returns True and the caller must arrange for :meth:`flush` to run
    when the socket becomes writable.
    """

    __slots__ = ("_lock", "_pending", "closed", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._pending: deque[memoryview] = deque()
        self._lock = threading.Lock()
        self.closed = False

    def send(self, frame: bytes) -> bool:
        with self._lock:
            if self.closed:
                return False
            if self._pending:
                self._pending.append(memoryview(frame))
                return False
            try:
                sent = self.sock.send(frame)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self.closed = True
                return False
            if sent < len(frame):
                self._pending.append(memoryview(frame)[sent:])
                return True
            return False

    def flush(self) -> bool:
        """Send what is queued; True while something is still left."""
        with self._lock:
            while self._pending:
                chunk = self._pending[0]
                try:
                    sent = self.sock.send(chunk)
                except (BlockingIOError, InterruptedError):
                    return True
                except OSError:
                    self.closed = True
                    self._pending.clear()
                    return False
                if sent < len(chunk):
                    self._pending[0] = chunk[sent:]
                    return True
                self._pending.popleft()
            return False


DEFAULT_SPIN_CAP_S = 200e-6  # a reply that comes within this is polled for


class SpinBudget:
    """How long to poll for a message before sleeping, learned from recent waits.

    Waking a sleeping thread costs tens of microseconds on a busy machine, as much as a whole
    reply takes; polling briefly first avoids that when replies come quickly, and costs
    nothing once waits are long (the budget drops to zero after a wait longer than the cap).
    """

    __slots__ = ("budget", "cap")

    def __init__(self, cap: float = DEFAULT_SPIN_CAP_S) -> None:
        self.cap = cap
        self.budget = cap / 4

    def record(self, waited: float) -> None:
        """The last wait took ``waited`` seconds."""
        self.budget = min(self.cap, 1.5 * waited) if waited <= self.cap else 0.0


class BlockingConnection:
    """A framed, blocking connection (worker and zygote side). ``send`` is thread-safe."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._frames = FrameBuffer()
        self._ready: deque[tuple] = deque()
        self._send_lock = threading.Lock()

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, msg: tuple) -> None:
        payload = pickle.dumps(msg, _PROTOCOL)
        header = HEADER.pack(len(payload))
        with self._send_lock:
            if len(payload) < _BIG:
                self.sock.sendall(header + payload)
            else:
                self.sock.sendall(header)
                self.sock.sendall(payload)

    def _spin(self, seconds: float) -> bytes | None:
        end = time.perf_counter() + seconds
        while True:
            try:
                return self.sock.recv(1 << 16, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                if time.perf_counter() > end:
                    return None

    def has_buffered(self) -> bool:
        return bool(self._ready)

    def recv(self, spin: float = 0.0) -> tuple:
        """The next message; raises ``EOFError`` when the peer has gone.

        With ``spin`` > 0, poll for up to that many seconds before sleeping in ``recv``: a
        message that is about to arrive is then taken without a wake-up's delay.
        """
        while not self._ready:
            data = self._spin(spin) if spin > 0 else None
            if data is None:
                data = self.sock.recv(1 << 16)
            if not data:
                raise EOFError("connection closed")
            self._ready.extend(self._frames.feed(data))
        return self._ready.popleft()
