"""Which loggers run where: each trial's process writes its own ``result.json`` and
``progress.csv``; TensorBoard files are written by the driver."""

from __future__ import annotations

from caliper.tune.logger.csv import CSVLoggerCallback
from caliper.tune.logger.json import JsonLoggerCallback
from caliper.tune.logger.tensorboardx import TBXLoggerCallback, tensorboardx_available


def worker_writers(user: list) -> list[str]:
    """The result files each trial's process writes itself (``result.json``,
    ``progress.csv``); a logger class the user passes in ``callbacks`` runs in the driver
    instead."""
    names = {"json": JsonLoggerCallback, "csv": CSVLoggerCallback}
    return [n for n, cls in names.items() if not any(isinstance(c, cls) for c in user)]


def driver_loggers(user: list) -> list:
    """TensorBoard files are written by the driver (tensorboardX imports there while the
    first trial starts, and the work is shared between the driver and the trials)."""
    given = any(isinstance(c, TBXLoggerCallback) for c in user)
    if given or not tensorboardx_available():
        return []
    return [TBXLoggerCallback()]
