"""Errors of the tuning layer, with Ray Tune's names (``ray.tune.error.TuneError``)."""

from __future__ import annotations


class TuneError(Exception):
    """Base class of the errors ``caliper.tune`` raises about an experiment or its trials."""


class TrialError(TuneError):
    """A trial that failed: what ``Result.error`` and ``ResultGrid.errors`` hold.

    ``str(error)`` is the message, which holds the failed trial's traceback text (the
    contents of its ``error.txt``), so ``print(result.error)`` shows where it failed.

    Args:
        trial_id: the failed trial's id.
        message: the error text (the remote traceback when it is known).
        error_file: the file in the trial directory that holds the traceback, if any.
    """

    def __init__(self, trial_id: str, message: str, error_file: str | None = None) -> None:
        super().__init__(message)
        self.trial_id = trial_id
        self.message = message
        self.error_file = error_file

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        first = self.message.strip().splitlines()[-1:] or [""]
        return f"TrialError(trial_id={self.trial_id!r}, {first[0]!r})"

    def __reduce__(self):
        return type(self), (self.trial_id, self.message, self.error_file)


def trial_error_text(error: BaseException) -> str:
    """What ``error.txt`` says about a failed run: the trial's own traceback, or how its
    process died (never caliper's internals)."""
    import traceback

    from caliper.core.exceptions import CaliperError, TaskError

    if isinstance(error, CaliperError) and not isinstance(error, TaskError):
        return f"{type(error).__name__}: {error}\n"  # the trial's process died: say how
    text = getattr(error, "traceback_text", None)
    if text:
        cause = getattr(error, "cause", None)
        head = f"{type(cause).__name__}: {cause}" if cause is not None else str(error)
        return f"{text.rstrip()}\n" if head in text else f"{text.rstrip()}\n{head}\n"
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))
