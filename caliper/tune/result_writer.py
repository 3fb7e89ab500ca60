"""A trial's own result files, written by the process that runs it: ``result.json``,
``progress.csv`` and TensorBoard events (the same logger classes the driver would use).

Writing where results are made keeps the driver free for decisions, so result throughput
grows with the number of trial processes instead of being capped by one driver. ``result.json``
and ``progress.csv`` and the TensorBoard events reach the operating system at every report, so
a killed trial loses nothing it reported (TensorBoard files are synced to disk every few
seconds and when the run ends).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping
from typing import Any

from caliper.core.detect import hostname
from caliper.tune.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback
from caliper.tune.logger.csv import PROGRESS_FILE
from caliper.tune.logger.json import RESULT_FILE

# What the controller may ask a trial to write; the driver keeps any logger the user passed.
WRITERS = ("json", "csv", "tbx")


class TrialFiles:
    """What a logger needs of a trial (its id, directory and config)."""

    __slots__ = ("config", "fresh", "name", "path", "trial_id")

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.trial_id = spec["trial_id"]
        self.name = spec["trial_name"]
        self.path = spec["trial_dir"]
        self.config = spec["config"]
        # a directory the driver made new on this machine: no result files to look at (a
        # process on another node of a cluster may find some there from an earlier run)
        fresh_on = spec.get("fresh_on")
        self.fresh = fresh_on is not None and fresh_on == hostname()

    def __str__(self) -> str:
        return self.name


def _keep_lines(path: str, keep) -> None:
    """Rewrite ``path`` (atomically) with the lines for which ``keep(line)`` is true."""
    if not os.path.exists(path):
        return
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    kept = [line for line in lines if keep(line)]
    if len(kept) == len(lines):
        return
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.writelines(kept)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def truncate_results(trial_dir: str, through: int) -> None:
    """Drop the results after ``training_iteration`` ``through`` from ``result.json`` and
    ``progress.csv`` (and a torn last line): what a resumed run will report again."""

    def json_keep(line: bytes) -> bool:
        try:
            return json.loads(line).get("training_iteration", 0) <= through
        except ValueError:
            return False

    _keep_lines(os.path.join(trial_dir, RESULT_FILE), json_keep)
    csv_path = os.path.join(trial_dir, PROGRESS_FILE)
    if not os.path.exists(csv_path):
        return
    with open(csv_path, encoding="utf-8", newline="") as f:
        header = next(csv.reader(f), None)
    if not header or "training_iteration" not in header:
        return
    column = header.index("training_iteration")
    seen = [False]

    def csv_keep(line: bytes) -> bool:
        if not seen[0]:
            seen[0] = True  # the header
            return True
        try:
            row = next(csv.reader([line.decode()]))
            return float(row[column]) <= through
        except (ValueError, IndexError, StopIteration):
            return False

    _keep_lines(csv_path, csv_keep)


class ResultWriter:
    """Writes one run's results (see the module docstring).

    Args:
        spec: the run's spec (``trial_id``, ``trial_name``, ``trial_dir``, ``config``).
        writers: which files to write, a subset of :data:`WRITERS`.
    """

    def __init__(self, spec: Mapping[str, Any], writers: list[str]) -> None:
        classes = {"json": JsonLoggerCallback, "csv": CSVLoggerCallback, "tbx": TBXLoggerCallback}
        self.trial = TrialFiles(spec)
        # A run that starts over from a checkpoint (or from scratch) reports again what came
        # after it: the files keep each training_iteration once.
        # A run that continues from another trial's checkpoint (PBT) keeps all it has.
        if not spec.get("keep_results") and not self.trial.fresh:
            truncate_results(spec["trial_dir"], spec.get("iteration", 0))
        self.loggers = [classes[name]() for name in writers]
        self._tbx = [logger for logger in self.loggers if isinstance(logger, TBXLoggerCallback)]
        for logger in self.loggers:
            logger.log_trial_start(self.trial)

    def write(self, result: dict) -> None:
        trial = self.trial
        iteration = result.get("training_iteration", 0)
        for logger in self.loggers:
            logger.log_trial_result(iteration, trial, result)
        for logger in self.loggers:  # to the operating system at every report
            if logger in self._tbx:
                logger.flush_buffers()  # its flush() also syncs to disk: every few seconds
                logger.flush()
            else:
                logger.flush()

    def close(self, failed: bool = False) -> None:
        for logger in self.loggers:
            try:
                logger.log_trial_end(self.trial, failed=failed)
            except Exception:  # one logger's trouble must not lose the others' files
                pass
