"""What a trial's process needs to keep its files under a remote storage: where its local
files go in the storage's filesystem (:class:`TrialStorage`, handed to the trial in its spec;
it pickles), and which local files changed since they were last sent (:func:`scan_files`).

On this machine's runtime the trial writes into the driver's staging copy of the experiment
directory, which the driver uploads; only checkpoints go up from the trial's process. A trial
on another machine (a Ray cluster) uploads its own files too: with each checkpoint and when its
run ends (:class:`TrialUploads`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from caliper.tune import remote_files

DRIVER_MARKER = ".caliper_driver"  # in the driver's staging directory: its token
# Written by the driver into a trial's directory; a trial's process never uploads them.
DRIVER_FILES = ("params.json", "params.pkl", "error.txt")
RESULT_FILES = ("result.json", "progress.csv")

Stamp = tuple[int, int]  # (mtime_ns, size)


def scan_files(root: str, skip: Callable[[str], bool]) -> dict[str, Stamp]:
    """Every file under ``root`` as ``{relative path ('/'-separated): (mtime_ns, size)}``,
    without checkpoint directories, temporary files and what ``skip(relpath)`` rejects."""
    found: dict[str, Stamp] = {}
    stack = [("", root)]
    while stack:
        rel, folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            relpath = f"{rel}{name}"
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not (
                        name.startswith("checkpoint_")
                        or name.endswith(".partial")
                        or name == ".exploit_checkpoint"
                    ):
                        stack.append((relpath + "/", entry.path))
                    continue
                if name.startswith(".tmp-") or name.endswith(".tmp") or skip(relpath):
                    continue
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            found[relpath] = (info.st_mtime_ns, info.st_size)
    return found


def changed(found: dict[str, Stamp], sent: dict[str, Stamp]) -> list[str]:
    """The files of ``found`` whose stamp differs from the one they were sent with."""
    return [name for name, stamp in found.items() if sent.get(name) != stamp]


@dataclass(frozen=True)
class TrialStorage:
    """Where an experiment's local files go in a pyarrow filesystem.

    Args:
        filesystem: the ``pyarrow.fs.FileSystem``.
        root: the experiment directory inside it.
        local_root: the driver's staging copy of the experiment directory.
        token: what the driver wrote into ``<local_root>/.caliper_driver``.
    """

    filesystem: Any
    root: str
    local_root: str
    token: str

    def remote(self, local_path: str) -> str:
        """The path in the filesystem of ``local_path`` (under ``local_root``)."""
        rel = os.path.relpath(local_path, self.local_root)
        if rel == ".":
            return self.root
        return self.root + "/" + rel.replace(os.sep, "/")

    def checkpoint(self, local_path: str) -> Any:
        """The stored checkpoint whose local (staging) path is ``local_path``."""
        from caliper.tune.checkpoint import Checkpoint

        return Checkpoint(self.remote(local_path), filesystem=self.filesystem)

    def shares_staging(self) -> bool:
        """Whether this process sees the driver's staging directory (the same machine)."""
        try:
            with open(os.path.join(self.local_root, DRIVER_MARKER), encoding="utf-8") as f:
                return f.read() == self.token
        except OSError:
            return False


class TrialUploads:
    """A run's own files under the storage, for a trial on another machine than the driver
    (nothing to do on the driver's machine, whose uploads include the trial's files).

    Args:
        storage: the experiment's :class:`TrialStorage`.
        trial_dir: the trial's directory (the driver's staging path).
    """

    def __init__(self, storage: TrialStorage, trial_dir: str) -> None:
        self.storage = storage
        self.trial_dir = trial_dir
        self.shared = storage.shares_staging()
        self._sent: dict[str, Stamp] = {}
        if not self.shared:  # the results so far, to append to (and cut back on a resume)
            os.makedirs(trial_dir, exist_ok=True)
            fs = storage.filesystem
            for name in RESULT_FILES:
                remote = storage.remote(os.path.join(trial_dir, name))
                local = os.path.join(trial_dir, name)
                try:
                    remote_files.get_file(fs, remote, local)
                except FileNotFoundError:
                    continue
                info = os.stat(local)
                self._sent[name] = (info.st_mtime_ns, info.st_size)

    def upload(self) -> None:
        """Upload the trial directory's files that changed (not its checkpoints)."""
        if self.shared:
            return
        found = scan_files(self.trial_dir, _driver_file)
        fs = self.storage.filesystem
        for name in changed(found, self._sent):
            local = os.path.join(self.trial_dir, name)
            try:
                remote_files.put_file(fs, local, self.storage.remote(local))
            except FileNotFoundError:
                continue
            self._sent[name] = found[name]


def _driver_file(relpath: str) -> bool:
    return relpath in DRIVER_FILES or relpath.startswith("events.out.tfevents")
