"""A new trial's files: who writes its ``params.json`` and ``params.pkl`` (the driver, right
after the trial started, or the trial's own process, once it has sent its run's end back),
and whether its first run may skip looking for result files (its directory is new).

A trial's files are most of what a short trial costs where creating files is slow, and the
driver, which also asks the searcher for the next trial, is then the bottleneck. A process
that runs its trials one after another (``reuse_actors``) on this machine is idle between
them while the driver works: it writes the params files of the run it just ended then
(``Backend.after_reply``). A run that does not end by itself (stopped, failed, its process
killed) may leave them unwritten: the driver writes what is missing then, and at the end of
the experiment, so the directory always ends up complete.
"""

from __future__ import annotations

import os

from caliper.core.detect import hostname
from caliper.tune.storage import PARAMS_JSON, PARAMS_PKL, encode_params, write_new_file
from caliper.tune.trial import Trial


def write_params_files(trial_dir: str, encoded: tuple[bytes, bytes]) -> None:
    """Write ``params.json`` and ``params.pkl`` (``encoded`` by :func:`encode_params`)."""
    text, pickled = encoded
    write_new_file(os.path.join(trial_dir, PARAMS_JSON), text)
    write_new_file(os.path.join(trial_dir, PARAMS_PKL), pickled)


class NewTrialFiles:
    """The params files of an experiment's new trials (see the module docstring).

    Args:
        delegate: whether trials' processes may write them (their runners are reused and run
            on this machine, and the experiment is on a local path).
    """

    def __init__(self, delegate: bool) -> None:
        self.delegate = delegate
        self._queued: dict[str, tuple[str, tuple[bytes, bytes]]] = {}  # id -> (path, files)
        self._handed: dict[str, tuple[str, tuple[bytes, bytes]]] = {}  # given to a run
        self._fresh: dict[str, str] = {}  # trial id -> host, its directory new, not run yet

    def add(self, trial: Trial, made: bool) -> None:
        """A new trial, whose directory was ``made`` now or was there: its config is encoded
        now, as it is (its files come later)."""
        self._queued[trial.trial_id] = (trial.path, encode_params(trial.config))
        if made:  # its first run (on this machine) finds no result files there
            self._fresh[trial.trial_id] = hostname()

    def run_fields(self, trial: Trial) -> dict:
        """What a run's spec says of these files: ``fresh_on`` (the host on which the
        trial's directory is new, for its first run) and ``params`` (what the run is to
        write after its end; ``None``: the driver writes the files once the run started)."""
        params = None
        if self.delegate and trial.trial_id in self._queued:
            entry = self._handed[trial.trial_id] = self._queued.pop(trial.trial_id)
            params = entry[1]
        return {"fresh_on": self._fresh.pop(trial.trial_id, None), "params": params}

    def write_pending(self) -> None:
        """Write the files of the trials started since the last call, not handed to a run."""
        queued = self._queued
        while queued:
            _, (path, encoded) = queued.popitem()
            write_params_files(path, encoded)

    def settle(self, trial: Trial) -> None:
        """``trial``'s run ended without its end being sent back (or its process is gone):
        write its files if its process did not, or not wholly."""
        entry = self._handed.pop(trial.trial_id, None)
        if entry is not None and _missing(*entry):
            write_params_files(*entry)

    def settle_all(self) -> None:
        """The experiment ends: every trial's files are there (a process that answered the
        shutdown has written them; one that was killed may not have)."""
        self.write_pending()
        while self._handed:
            _, entry = self._handed.popitem()
            if _missing(*entry):
                write_params_files(*entry)


def _missing(trial_dir: str, encoded: tuple[bytes, bytes]) -> bool:
    """Whether either params file is absent or not whole."""
    for name, data in zip((PARAMS_JSON, PARAMS_PKL), encoded, strict=True):
        try:
            if os.path.getsize(os.path.join(trial_dir, name)) != len(data):
                return True
        except OSError:
            return True
    return False
