"""``tune.Trainable``: the class form of a trainable, with Ray Tune's method names.

Subclass it and override ``setup(config)``, ``step() -> dict`` (one iteration's result),
``save_checkpoint(checkpoint_dir)`` and ``load_checkpoint(checkpoint)``, optionally
``reset_config(new_config) -> bool`` (reuse this object for another trial's config) and
``cleanup()``. A result with ``done=True`` ends the trial.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from typing import Any

_STATE_FILE = ".trainable_state.pkl"


class Trainable:
    """Base class of class trainables (see the module docstring).

    Args:
        config: the trial's hyperparameters, passed on to :meth:`setup`.
        trial_info: set by the runner: ``trial_id``, ``trial_name``, ``trial_dir``.
    """

    def __init__(self, config: dict | None = None, trial_info: dict | None = None, **_: Any):
        self.config = dict(config or {})
        info = trial_info or {}
        self._trial_id = info.get("trial_id", "default")
        self._trial_name = info.get("trial_name", "default")
        self._logdir = info.get("trial_dir") or tempfile.mkdtemp(prefix="trainable-")
        self._iteration = 0
        self.setup(dict(self.config))

    # -- override these ----------------------------------------------------------------------

    def setup(self, config: dict) -> None:
        """Build what the trial needs (called once, with the trial's config)."""

    def step(self) -> dict:
        """Run one iteration and return its result dict."""
        raise NotImplementedError(f"{type(self).__name__} must override step()")

    def save_checkpoint(self, checkpoint_dir: str) -> dict | None:
        """Write the state to ``checkpoint_dir``; a returned dict is stored there too."""
        return None

    def load_checkpoint(self, checkpoint: dict | str | None) -> None:
        """Restore the state written by :meth:`save_checkpoint` (the dict it returned, or the
        checkpoint directory)."""

    def reset_config(self, new_config: dict) -> bool:
        """Take ``new_config`` without being rebuilt; return True if done (default: no)."""
        return False

    def cleanup(self) -> None:
        """Release resources (called when the trial ends)."""

    # -- Ray's accessors ----------------------------------------------------------------------

    @property
    def iteration(self) -> int:
        return self._iteration

    training_iteration = iteration

    @property
    def trial_id(self) -> str:
        return self._trial_id

    @property
    def trial_name(self) -> str:
        return self._trial_name

    @property
    def logdir(self) -> str:
        return self._logdir

    def get_config(self) -> dict:
        return self.config

    # -- used by the runner ---------------------------------------------------------------

    def save(self, checkpoint_dir: str) -> str:
        """Save a checkpoint into ``checkpoint_dir`` (created); returns it."""
        os.makedirs(checkpoint_dir, exist_ok=True)
        state = self.save_checkpoint(checkpoint_dir)
        if state is not None:
            if not isinstance(state, dict):
                raise TypeError(
                    f"{type(self).__name__}.save_checkpoint must return a dict or None, got "
                    f"{type(state).__name__}"
                )
            with open(os.path.join(checkpoint_dir, _STATE_FILE), "wb") as f:
                pickle.dump(state, f)
        return checkpoint_dir

    def restore(self, checkpoint_dir: str) -> None:
        """Load a checkpoint written by :meth:`save`."""
        state_file = os.path.join(checkpoint_dir, _STATE_FILE)
        if os.path.exists(state_file):
            with open(state_file, "rb") as f:
                self.load_checkpoint(pickle.load(f))
        else:
            self.load_checkpoint(checkpoint_dir)

    def stop(self) -> None:
        self.cleanup()
