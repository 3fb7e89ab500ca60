"""Writing an experiment's state: ``experiment_state.json`` and the searcher's and scheduler's
state files, so that a crash at any instant leaves a consistent, restorable set."""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from typing import Any

import cloudpickle

from caliper.tune import experiment_state as states
from caliper.tune.experiment_state import ExperimentStatus
from caliper.tune.restore import SCHEDULER_FILE, SEARCHER_FILE
from caliper.tune.storage import Storage
from caliper.tune.trial import Trial


def dumps_state(value: Any) -> bytes:
    """``value`` pickled: by the standard pickler (a C loop, a few times faster than
    cloudpickle on a large state such as an Optuna study), or by cloudpickle when the value
    holds what only it carries (code defined in ``__main__`` or a notebook, local functions,
    modules registered to pickle by value)."""
    if not getattr(cloudpickle.cloudpickle, "_PICKLE_BY_VALUE_MODULES", True):
        try:
            data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        except Exception:
            pass
        else:
            if b"__main__" not in data:  # else by reference, which another process lacks
                return data
    return cloudpickle.dumps(value)


class Snapshots:
    """Writes the searcher's and scheduler's state (a new numbered version, only when it
    changed), then ``experiment_state.json``, each atomically and keeping the previous copy.
    The state file names the version of each part that goes with it, so a crash between the
    writes never pairs it with a newer searcher: restore reads the matching version.

    Args:
        storage: the experiment directory.
        note: prints a message for the user (a part that cannot be saved is said once).
    """

    def __init__(self, storage: Storage, note: Callable[[str], None]) -> None:
        self.storage = storage
        self.note = note
        self._written: dict[str, tuple[int, bytes]] = {}  # file -> (version, pickled state)
        self._unsaved: set[str] = set()
        self._ended: dict[str, tuple[tuple, dict]] = {}  # trial id -> (what it was, its entry)

    def write(
        self,
        *,
        status: ExperimentStatus,
        start_time: float,
        metric: str | None,
        mode: str | None,
        trials: list[Trial],
        searcher: Any,
        scheduler: Any,
    ) -> None:
        versions = {
            SEARCHER_FILE: self._save_part(SEARCHER_FILE, searcher),
            SCHEDULER_FILE: self._save_part(SCHEDULER_FILE, scheduler),
        }
        state = states.state_dict(
            name=self.storage.name,
            experiment_path=self.storage.experiment_path,
            status=status,
            start_time=start_time,
            timestamp=time.time(),
            metric=metric,
            mode=mode,
            trials=trials,
            to_dict=self._trial_entry,
        )
        state["parts"] = versions
        self.storage.write_atomic(states.STATE_FILE, states.encode(state), keep_previous=True)
        self.storage.on_snapshot()  # a remote storage uploads it (and what it names)

    def _trial_entry(self, trial: Trial) -> dict:
        """``trial``'s entry in the state file: a trial that ended changes no more (unless it
        is tried again), so its entry is made once, not at every snapshot."""
        if not trial.is_finished:
            return states.trial_to_dict(trial)
        key = (
            trial.status,
            trial.num_results,
            trial.num_failures,
            len(trial.checkpoints),
            trial.error_msg,
            trial.path,
        )
        known = self._ended.get(trial.trial_id)
        if known is None or known[0] != key:
            known = self._ended[trial.trial_id] = (key, states.trial_to_dict(trial))
        return known[1]

    def _save_part(self, filename: str, owner: Any) -> int | None:
        """Write ``owner.state_dict()`` as a new version if it changed; returns the version
        now on disk (``None`` if it cannot be saved)."""
        try:
            data = dumps_state(owner.state_dict())
        except Exception as exc:  # restore then starts this part afresh: say so once
            if filename not in self._unsaved:
                self._unsaved.add(filename)
                self.note(
                    f"caliper: {type(owner).__name__}'s state could not be saved "
                    f"({type(exc).__name__}: {exc}); a restore will start it afresh"
                )
            return None
        version, written = self._written.get(filename, (0, None))
        if written != data:  # each write syncs to disk: only when it changed
            version += 1
            self.storage.write_atomic(filename, pickle.dumps((version, data)), keep_previous=True)
            self._written[filename] = (version, data)
        return version
