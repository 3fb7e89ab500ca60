"""``result.json``: one JSON object per line per result, with the trial's config."""

from __future__ import annotations

import json
import os
from typing import IO, Any

from caliper.tune.logger.logger import LoggerCallback
from caliper.tune.storage import dumps_json

RESULT_FILE = "result.json"


class JsonLoggerCallback(LoggerCallback):
    """Appends each result to ``<trial dir>/result.json`` (the config is written once per
    trial and spliced into every line, so a result costs one ``json.dumps`` of its metrics)."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[IO[str], str]] = {}

    def log_trial_start(self, trial: Any) -> None:
        self._close(trial)
        handle = open(os.path.join(trial.path, RESULT_FILE), "a", encoding="utf-8")  # noqa: SIM115
        self._files[trial.trial_id] = (handle, ', "config": ' + dumps_json(trial.config) + "}\n")

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        entry = self._files.get(trial.trial_id)
        if entry is None:
            self.log_trial_start(trial)
            entry = self._files[trial.trial_id]
        handle, config_tail = entry
        if "config" in result:
            result = dict(result)
            del result["config"]
        text = dumps_json(result)
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
