"""``LoggerCallback``: a callback whose hooks are the ``log_trial_*`` methods Ray defines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from caliper.tune.callback import Callback


def flatten_dict(data: Mapping, delimiter: str = "/", prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a/b": 1}`` (nested dicts only)."""
    out: dict = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten_dict(value, delimiter, name + delimiter))
        else:
            out[name] = value
    return out


def has_nested(result: Mapping) -> bool:
    """Whether a result holds dicts besides its ``config`` (then loggers flatten it)."""
    dicts = 0
    for value in result.values():
        if type(value) is dict:
            dicts += 1
    return dicts > ("config" in result and type(result["config"]) is dict)


class LoggerCallback(Callback):
    """Override ``log_trial_start``, ``log_trial_result``, ``log_trial_end`` (and optionally
    ``log_trial_restore``, ``log_trial_save``); ``flush`` is called after each batch of
    results so that what was logged reaches the files soon."""

    def log_trial_start(self, trial: Any) -> None:
        """``trial`` started (its directory exists)."""

    def log_trial_restore(self, trial: Any) -> None:
        """``trial`` was restored from a checkpoint."""

    def log_trial_save(self, trial: Any) -> None:
        """``trial`` saved a checkpoint."""

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        """``trial`` reported ``result``."""

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        """``trial`` ended (``failed``: with an error)."""

    def flush(self) -> None:
        """Write buffered output."""

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.log_trial_start(trial)

    def on_trial_restore(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.log_trial_restore(trial)

    def on_trial_save(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.log_trial_save(trial)

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        self.log_trial_result(iteration, trial, result)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.log_trial_end(trial, failed=False)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.log_trial_end(trial, failed=True)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.flush()
