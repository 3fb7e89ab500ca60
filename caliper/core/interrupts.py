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

_SIGINT_NUMBER = int(signal.SIGINT)


class DeferredInterrupt:
    """Ctrl-C in the main thread waits until the runtime's bookkeeping is consistent: inside
    a critical section the interrupt is noted and raised when the section ends, so messages
    already read are never dropped half-handled. With caliper's own SIGINT handler this costs
    two integer updates. If the program installed another handler, that handler is swapped
    for a recording one during the section and called at its end (a signal mask would not
    do: the kernel hands a blocked SIGINT to any other thread, and Python then runs the
    handler in the main thread all the same)."""

    def __init__(self) -> None:
        self.main = threading.main_thread().ident
        self.depth = 0
        self.pending = False
        self.previous = None
        self.foreign = None  # the program's own handler, swapped out during a section
        self.handler = self._handle  # one bound method, so `is` recognises it
        self.holder = self._hold

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

    def _hold(self, signum: int, frame: object) -> None:
        self.pending = True

    def __enter__(self) -> None:
        if threading.get_ident() != self.main:
            return
        self.depth += 1
        if self.depth == 1:
            current = _signal.getsignal(_SIGINT_NUMBER)
            if current is not self.handler and callable(current):
                self.foreign = current
                _signal.signal(_SIGINT_NUMBER, self.holder)

    def __exit__(self, *exc: object) -> None:
        if threading.get_ident() != self.main:
            return
        self.depth -= 1
        if self.depth:
            return
        foreign, self.foreign = self.foreign, None
        if foreign is not None:
            _signal.signal(_SIGINT_NUMBER, foreign)
        if self.pending:
            self.pending = False
            if foreign is not None:
                foreign(signal.SIGINT, None)
            else:
                signal.default_int_handler(signal.SIGINT, None)
