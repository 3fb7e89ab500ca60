"""``tune.Callback``: hooks into the experiment loop, with Ray Tune's names and arguments.

The controller calls them in the driver, in this order per trial: ``on_trial_start``, then
``on_trial_result`` per result (``on_checkpoint`` after a result that carried a checkpoint), then
exactly one of ``on_trial_complete`` / ``on_trial_error``; ``setup`` before the first trial and
``on_experiment_end`` after the last. ``iteration`` counts the controller's loop steps and
``trials`` is the list of all trials so far. Hooks must not block: they run between results.
"""

from __future__ import annotations

from typing import Any


class Callback:
    """Override the hooks you need; every hook accepts and ignores extra keyword arguments."""

    def setup(self, stop: Any = None, num_samples: int | None = None, **info: Any) -> None:
        """Called once before the experiment starts."""

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        """Called at the start of each loop step of the controller."""

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        """Called at the end of each loop step of the controller."""

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """``trial`` was started (also when it resumes after a pause or failure)."""

    def on_trial_restore(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """``trial`` was restored from a checkpoint."""

    def on_trial_save(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """``trial`` saved a checkpoint."""

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        """``trial`` reported ``result``."""

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """``trial`` ended without error (finished or stopped)."""

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """``trial`` failed and will be retried."""

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """``trial`` failed for good (its ``error_file`` holds the traceback)."""

    def on_checkpoint(
        self, iteration: int, trials: list, trial: Any, checkpoint: Any, **info: Any
    ) -> None:
        """``trial`` registered ``checkpoint``."""

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        """Called once after the experiment ended (also on Ctrl-C)."""

    def get_state(self) -> dict | None:
        """State to keep across a restore (``None``: nothing)."""
        return None

    def set_state(self, state: dict) -> None:
        """Take back what :meth:`get_state` returned."""


HOOKS = tuple(name for name in Callback.__dict__ if name.startswith("on_") or name == "setup")


class CallbackList:
    """The callbacks of an experiment: ``hooks[name]`` lists the bound hooks that some
    callback overrides, so a hook nobody implements costs nothing per result."""

    def __init__(self, callbacks: list[Callback]) -> None:
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"callbacks must be tune.Callback instances, got {type(callback).__name__}"
                )
        self.callbacks = list(callbacks)
        self.hooks: dict[str, list] = {
            name: [getattr(c, name) for c in self.callbacks if _overrides(c, name)]
            for name in HOOKS
        }

    def call(self, name: str, *args: Any, **kwargs: Any) -> None:
        for hook in self.hooks[name]:
            hook(*args, **kwargs)


def _overrides(callback: Callback, name: str) -> bool:
    return getattr(type(callback), name) is not getattr(Callback, name)
