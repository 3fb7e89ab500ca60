"""``result.json``: one JSON object per line per result, with the trial's config."""

from __future__ import annotations

import json
import os
from typing import IO, Any

from caliper.tune.logger.logger import LoggerCallback
from caliper.tune.storage import dumps_json_bytes

RESULT_FILE = "result.json"


class JsonLoggerCallback(LoggerCallback):
    """Appends each result to ``<trial dir>/result.json`` (the config is written once per
    trial and spliced into every line, so a result costs one ``orjson.dumps`` of its metrics)."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[IO[bytes], bytes]] = {}

    def log_trial_start(self, trial: Any) -> None:
        self._close(trial)
        handle = open(os.path.join(trial.path, RESULT_FILE), "ab")  # noqa: SIM115
        tail = b',"config":' + dumps_json_bytes(trial.config) + b"}\n"
        self._files[trial.trial_id] = (handle, tail)

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        entry = self._files.get(trial.trial_id)
        if entry is None:
            self.log_trial_start(trial)
            entry = self._files[trial.trial_id]
        handle, config_tail = entry
        if "config" in result:
            result = dict(result)
            del result["config"]
        text = dumps_json_bytes(result)
        handle.write(text[:-1] + config_tail if len(text) > 2 else text[:-1] + config_tail[1:])

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        self._close(trial)

    def _close(self, trial: Any) -> None:
        entry = self._files.pop(trial.trial_id, None)
        if entry is not None:
            entry[0].close()

    def flush(self) -> None:
        for handle, _ in self._files.values():
            handle.flush()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for handle, _ in self._files.values():
            handle.close()
        self._files.clear()


def read_results(path: str) -> list[dict]:
    """The results in a ``result.json`` (a torn last line, from a crash, is skipped)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def read_tail(path: str, after_iteration: int, max_bytes: int = 1 << 20) -> list[dict]:
    """The results at the end of a ``result.json`` whose ``training_iteration`` is above
    ``after_iteration`` (reads at most the last ``max_bytes``; a torn last line is skipped)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            lines = f.read().split(b"\n")
    except OSError:
        return []
    if size > max_bytes:
        lines = lines[1:]  # the first may be cut
    tail = []
    for line in reversed(lines):
        try:
            result = json.loads(line)
        except ValueError:
            continue
        if not isinstance(result, dict) or result.get("training_iteration", 0) <= after_iteration:
            break
        tail.append(result)
    tail.reverse()
    return tail
