"""The zygote: a small process that forks workers on the driver's request.

Started once per runtime with ``python -c`` (never by re-running the user's ``__main__``), it
imports the worker code and then forks each worker in a few milliseconds. It reports every
child's pid and exit status to the driver, and kills all its children and exits as soon as the
driver's connection closes, so no worker outlives the driver, even one killed with SIGKILL.
On Linux each worker also asks the kernel for SIGKILL when the zygote dies.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import socket
import subprocess
import sys

from caliper.core.protocol import BlockingConnection, Msg

ZYGOTE_FD_ENV = "CALIPER_ZYGOTE_FD"
DRIVER_DIR_PREFIX = "caliper-"  # the driver's temp directory, holding its socket
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def _kill_all(children: dict[int, int]) -> None:
    for pid in list(children):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in list(children):
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    children.clear()


def _reap(children: dict[int, int], conn: BlockingConnection) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        worker_id = children.pop(pid, None)
        if worker_id is not None:
            try:
                conn.send((Msg.EXITED, worker_id, pid, os.waitstatus_to_exitcode(status)))
            except OSError:  # the driver is gone; main() notices and cleans up
                return


def _child(worker_id: int, environ: dict, address: str, cleanup: list[int]) -> None:
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in cleanup:
            os.close(fd)
        _die_with_parent()
        os.environ.clear()
        os.environ.update(environ)
        from caliper.core.worker import run_worker

        run_worker(address, worker_id)
    finally:
        os._exit(0)


def _preload(modules: list[str]) -> None:
    """Import ``modules`` here, so every worker forked from now on starts with them."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # a worker importing it itself will show the error
            pass


def launch_zygote() -> tuple[subprocess.Popen, socket.socket]:
    """Start the zygote process; returns it and the driver's end of its socket.

    It is started with ``python -c``, so the user's ``__main__`` is never re-run; it waits for
    a SETUP message (sys.path, driver address) before forking anything.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    env = dict(os.environ)
    env[ZYGOTE_FD_ENV] = str(theirs.fileno())
    proc = subprocess.Popen(
        [sys.executable, "-c", "from caliper.core.zygote import main; main()"],
        pass_fds=(theirs.fileno(),),
        env=env,
        stdin=subprocess.DEVNULL,
    )
    theirs.close()
    return proc, ours


def main() -> None:
    """Entry point of the zygote process (``python -c 'from ... import main; main()'``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=int(os.environ.pop(ZYGOTE_FD_ENV)))
    conn = BlockingConnection(sock)
    try:
        kind, sys_path, address = conn.recv()
    except (EOFError, OSError):
        return  # the driver gave up before setting us up
    if kind != Msg.SETUP:
        raise SystemExit(f"zygote: expected SETUP, got {kind}")
    sys.path[:] = sys_path
    import caliper.core.worker  # noqa: F401 - preloaded so every fork starts warm

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: dict[int, int] = {}
    driver_gone = False
    try:
        while True:
            if not conn.has_buffered():
                readable = select.select([sock, wake_r], [], [])[0]
                if wake_r in readable:
                    try:
                        while os.read(wake_r, 4096):
                            pass
                    except BlockingIOError:
                        pass
                    _reap(children, conn)
                if sock not in readable:
                    continue
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                driver_gone = True
                return
            if msg[0] == Msg.SPAWN:
                _, worker_id, environ = msg
                pid = os.fork()
                if pid == 0:
                    _child(worker_id, environ, address, [wake_r, wake_w, sock.fileno()])
                children[pid] = worker_id
                conn.send((Msg.SPAWNED, worker_id, pid))
            elif msg[0] == Msg.PRELOAD:
                _preload(msg[1])
            elif msg[0] == Msg.EXIT:
                return
    finally:
        _kill_all(children)
        if driver_gone:  # killed before its shutdown: its socket's temp directory stays
            _remove_driver_dir(address)


def _remove_driver_dir(address: str) -> None:
    """Remove the temporary directory of a driver that died (the one holding its socket)."""
    import shutil

    folder = os.path.dirname(address)
    if os.path.basename(folder).startswith(DRIVER_DIR_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)
