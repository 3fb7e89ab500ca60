"""Typed errors raised by the runtime at ``get`` (and by ``remote`` for impossible requests).

Names follow Ray core where Ray users catch them: ``TaskError`` is also importable as
``RayTaskError``, ``ActorDiedError`` as ``RayActorError``, ``GetTimeoutError`` subclasses
``TimeoutError``.
"""

from __future__ import annotations

import signal as _signal


class CaliperError(Exception):
    """Base class of every error the runtime raises."""


class RemoteTraceback(Exception):
    """Carries the traceback text of an exception raised in a worker process."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text.rstrip()}\n"""'


class TaskError(CaliperError):
    """A remote function or actor method raised; the user's exception is the ``__cause__``.

    Raised at ``get`` as an instance of a class deriving from both ``TaskError`` and the
    user's exception class when that class allows it, so ``except ValueError`` keeps working.
    """

    def __init__(self, function_name: str, cause: BaseException, traceback_text: str) -> None:
        self.function_name = function_name
        self.cause = cause
        self.traceback_text = traceback_text
        super().__init__(
            f"{function_name} raised {type(cause).__name__}: {cause}\n\n"
            f"Remote traceback:\n{traceback_text.rstrip()}"
        )

    def __reduce__(self):
        return (TaskError, (self.function_name, self.cause, self.traceback_text))

    def as_instanceof_cause(self) -> TaskError:
        """This error as an instance of a subclass of both ``TaskError`` and the cause's type,
        carrying the cause's attributes, so ``except ValueError`` and ``err.code`` work."""
        cause_cls = type(self.cause)
        if issubclass(cause_cls, TaskError) or not issubclass(cause_cls, Exception):
            return self
        message = str(self)
        try:
            dual = type(
                f"TaskError({cause_cls.__name__})",
                (TaskError, cause_cls),
                {
                    "__init__": _keep_state,  # the user's __init__ may need other arguments
                    "__str__": lambda err: message,
                    "__reduce__": TaskError.__reduce__,
                },
            )
            err = BaseException.__new__(dual)
            err.__dict__.update(getattr(self.cause, "__dict__", {}))
            err.function_name = self.function_name
            err.cause = self.cause
            err.traceback_text = self.traceback_text
            err.args = self.cause.args
        except TypeError:  # e.g. a cause class with an incompatible layout
            return self
        return err


def _keep_state(self, *args, **kwargs) -> None:
    """``__init__`` of the TaskError-and-user-exception class: the state is set directly."""


class SerializationError(CaliperError, TypeError):
    """An argument or a result could not be pickled (or unpickled)."""


class WorkerCrashedError(CaliperError):
    """The worker process running a task died (exit, signal, out of memory)."""

    def __init__(self, what: str, pid: int | None, exitcode: int | None) -> None:
        self.what = what
        self.pid = pid
        self.exitcode = exitcode
        super().__init__(f"the worker running {what} (pid {pid}) died: {describe_exit(exitcode)}")

    @property
    def signal(self) -> int | None:
        """Number of the signal that killed the worker, or ``None``."""
        return -self.exitcode if self.exitcode is not None and self.exitcode < 0 else None

    def __reduce__(self):
        return (WorkerCrashedError, (self.what, self.pid, self.exitcode))


class ActorDiedError(CaliperError):
    """The actor is dead: its constructor raised, its process died, or it was killed."""

    def __init__(self, actor: str, reason: str) -> None:
        self.actor = actor
        self.reason = reason
        super().__init__(f"actor {actor} is dead: {reason}")

    def __reduce__(self):
        return (ActorDiedError, (self.actor, self.reason))


class GetTimeoutError(CaliperError, TimeoutError):
    """``get`` did not obtain every value within its timeout."""


class TaskCancelledError(CaliperError):
    """The task was cancelled (its placement group was removed, or the runtime shut down)."""


class InfeasibleRequestError(CaliperError, ValueError):
    """A resource request that no node could ever satisfy."""


def describe_exit(exitcode: int | None) -> str:
    """Human text for a process exit status (negative = killed by that signal)."""
    if exitcode is None:
        return "its connection closed unexpectedly"
    if exitcode < 0:
        try:
            name = _signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (out of memory, or killed from outside)" if -exitcode == _signal.SIGKILL else ""
        return f"killed by {name} ({-exitcode}){hint}"
    return f"exited with code {exitcode}"


RayTaskError = TaskError
RayActorError = ActorDiedError
