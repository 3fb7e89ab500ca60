"""Keeping Ctrl-C from tearing the runtime's bookkeeping in half.

A KeyboardInterrupt can be raised between any two bytecodes of the main thread. While that
thread handles messages it has read, or changes the runtime's state, an interrupt would drop
work half done (results read but never recorded). :class:`DeferredInterrupt` marks those
sections and raises the interrupt right after them instead.
"""

from __future__ import annotations

import _signal  # getsignal without the enum conversion of `signal`: 50x cheaper
import signal
import threading

_SIGINT = {signal.SIGINT}
_SIGINT_NUMBER = int(signal.SIGINT)


class DeferredInterrupt:
    """Ctrl-C in the main thread waits until the runtime's bookkeeping is consistent: inside
    a critical section the KeyboardInterrupt is noted and raised when the section ends, so
    messages already read are never dropped half-handled. With caliper's own SIGINT handler
    this costs two integer updates; if the program installed another handler, SIGINT is
    blocked for the section instead (a signal mask: a few microseconds)."""

    def __init__(self) -> None:
        self.main = threading.main_thread().ident
        self.depth = 0
        self.pending = False
        self.previous = None
        self.masked = None
        self.handler = self._handle  # one bound method, so `is` recognises it

    def install(self) -> None:
        in_main = threading.get_ident() == self.main
        if in_main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.previous = signal.signal(signal.SIGINT, self.handler)

    def uninstall(self) -> None:
        if self.previous is not None and signal.getsignal(signal.SIGINT) is self.handler:
            signal.signal(signal.SIGINT, self.previous)
        self.previous = None

    def _handle(self, signum: int, frame: object) -> None:
        if self.depth:
            self.pending = True
        else:
            signal.default_int_handler(signum, frame)

    def __enter__(self) -> None:
        if threading.get_ident() != self.main:
            return
        self.depth += 1
        if self.depth == 1 and _signal.getsignal(_SIGINT_NUMBER) is not self.handler:
            self.masked = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGINT)

    def __exit__(self, *exc: object) -> None:
        if threading.get_ident() != self.main:
            return
        self.depth -= 1
        if self.depth:
            return
        if self.masked is not None:
            masked, self.masked = self.masked, None
            signal.pthread_sigmask(signal.SIG_SETMASK, masked)  # a held SIGINT fires now
        if self.pending:
            self.pending = False
            signal.default_int_handler(signal.SIGINT, None)
