"""``progress.csv``: one row per result, columns from the trial's first result (flattened)."""

from __future__ import annotations

import csv
import os
from typing import IO, Any

from caliper.tune.logger.logger import LoggerCallback, flatten_dict, has_nested

PROGRESS_FILE = "progress.csv"


class CSVLoggerCallback(LoggerCallback):
    """Appends each result to ``<trial dir>/progress.csv``; the columns are fixed by the
    first result (later new keys are left out of the CSV, as Ray does; result.json has all).
    Restored trials append to their file under its existing header."""

    def __init__(self) -> None:
        self._writers: dict[str, tuple[IO[str], Any, list[str] | None]] = {}

    def log_trial_start(self, trial: Any) -> None:
        self._close(trial)
        path = os.path.join(trial.path, PROGRESS_FILE)
        if os.path.exists(path) and os.path.getsize(path):
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
        writer.writerow([get(k, "") for k in header])

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
