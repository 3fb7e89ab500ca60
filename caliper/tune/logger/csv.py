"""``progress.csv``: one row per result, columns from the trial's first result (flattened)."""

from __future__ import annotations

import csv
import os
from typing import IO, Any

import orjson

from caliper.tune.logger.logger import LoggerCallback, flatten_dict, has_nested

PROGRESS_FILE = "progress.csv"
_SPECIAL = frozenset('"\\\n\r')
_BOOLS = {True: "True", False: "False"}


def fast_csv_line(values: list, plain: set[str]) -> str | None:
    """``values`` as one CSV line, numbers formatted by orjson (several times faster than
    ``repr`` of floats); ``None`` when a value needs the csv module (a string with quotes,
    backslashes or line breaks, or a type orjson does not write). Strings are quoted, which
    every CSV reader accepts; bools are ``True``/``False`` and ``None`` empty, as the csv
    module writes them; NaN and infinities come out as ``null``.
    """
    cells = list(values)
    for i, value in enumerate(cells):
        kind = type(value)
        if kind is float or kind is int:
            continue
        if kind is str:
            if value not in plain:
                if not _SPECIAL.isdisjoint(value):
                    return None
                if len(plain) < 4096:
                    plain.add(value)
        elif kind is bool:
            cells[i] = _BOOLS[value]
        elif value is None:
            cells[i] = ""
        else:
            return None
    try:
        text = orjson.dumps(cells)
    except TypeError:  # e.g. an int beyond 64 bits
        return None
    return text[1:-1].decode() + "\r\n"


class CSVLoggerCallback(LoggerCallback):
    """Appends each result to ``<trial dir>/progress.csv``; the columns are fixed by the
    first result (later new keys are left out of the CSV, as Ray does; result.json has all).
    Restored trials append to their file under its existing header."""

    def __init__(self) -> None:
        self._writers: dict[str, tuple[IO[str], Any, list[str] | None]] = {}
        self._plain: set[str] = set()  # strings known to need no escaping

    def log_trial_start(self, trial: Any) -> None:
        self._close(trial)
        path = os.path.join(trial.path, PROGRESS_FILE)
        fresh = getattr(trial, "fresh", False)  # a trial's first run in a new directory
        if not fresh and os.path.exists(path) and os.path.getsize(path):
            with open(path, encoding="utf-8", newline="") as f:
                header = next(csv.reader(f), None)
            if header:
                handle = open(path, "a", encoding="utf-8", newline="")  # noqa: SIM115
                self._writers[trial.trial_id] = (handle, csv.writer(handle), header)
                return
        handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._writers[trial.trial_id] = (handle, csv.writer(handle), None)

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        entry = self._writers.get(trial.trial_id)
        if entry is None:
            self.log_trial_start(trial)
            entry = self._writers[trial.trial_id]
        handle, writer, header = entry
        row = result
        if has_nested(result):
            row = flatten_dict({k: v for k, v in result.items() if k != "config"})
        if header is None:
            header = [k for k in row if k != "config"]
            writer.writerow(header)
            self._writers[trial.trial_id] = (handle, writer, header)
        get = row.get
        values = [get(k, "") for k in header]
        line = fast_csv_line(values, self._plain)
        if line is None:
            writer.writerow(values)
        else:
            handle.write(line)

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        self._close(trial)

    def _close(self, trial: Any) -> None:
        entry = self._writers.pop(trial.trial_id, None)
        if entry is not None:
            entry[0].close()

    def flush(self) -> None:
        for handle, _, _ in self._writers.values():
            handle.flush()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for handle, _, _ in self._writers.values():
            handle.close()
        self._writers.clear()
