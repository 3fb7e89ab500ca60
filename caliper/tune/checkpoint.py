"""``Checkpoint``: a directory of files a trial saved, as Ray's ``tune.Checkpoint``.

A trial hands one to ``tune.report(..., checkpoint=Checkpoint.from_directory(tmp))``; the
directory is copied into the trial's folder (``checkpoint_000003/``) before ``report`` returns,
so the trial may delete its temporary directory at once.

A checkpoint of an experiment on remote storage (``RunConfig(storage_path="s3://...")``) has a
``filesystem`` (a ``pyarrow.fs.FileSystem``) and its ``path`` is a path inside it;
:meth:`Checkpoint.as_directory`, :meth:`Checkpoint.to_directory` and
:meth:`Checkpoint.to_dict` download it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

_DICT_FILE = "_dict_checkpoint.pkl"


class Checkpoint:
    """A checkpoint directory.

    Args:
        path: the directory holding the checkpoint's files: a local path, a URI such as
            ``"s3://bucket/prefix/checkpoint_000003"``, or a path inside ``filesystem``.
        filesystem: a ``pyarrow.fs.FileSystem`` holding ``path`` (``None``: local, or the
            filesystem the URI names).
    """

    _temporary = False  # True for a from_dict directory: tune.report moves it into the trial

    def __init__(self, path: str | os.PathLike, filesystem: Any = None) -> None:
        path = os.fspath(path)
        if not isinstance(path, str) or not path:
            raise ValueError(f"Checkpoint path must be a non-empty path, got {path!r}")
        if filesystem is None and "://" in path and not path.startswith("file://"):
            from caliper.tune.remote_files import resolve

            filesystem, path = resolve(path)
        self.filesystem = filesystem
        if filesystem is None:
            path = os.path.abspath(os.path.expanduser(path.removeprefix("file://")))
        self.path = path

    @classmethod
    def from_directory(cls, path: str | os.PathLike) -> Checkpoint:
        """The checkpoint whose files are in directory ``path``."""
        path = os.fspath(path)
        if not os.path.isdir(path):
            raise FileNotFoundError(f"Checkpoint.from_directory: {path!r} is not a directory")
        return cls(path)

    @classmethod
    def from_dict(cls, data: dict) -> Checkpoint:
        """A checkpoint of a small state (a dict, pickled into a new temporary directory).
        ``tune.report`` moves that directory into the trial's folder (nothing is left in the
        temporary directory), and this object then names the reported copy."""
        if not isinstance(data, dict):
            raise TypeError(f"Checkpoint.from_dict takes a dict, got {type(data).__name__}")
        import cloudpickle

        folder = tempfile.mkdtemp(prefix="checkpoint-")
        with open(os.path.join(folder, _DICT_FILE), "wb") as f:
            cloudpickle.dump(data, f)
        checkpoint = cls(folder)
        checkpoint._temporary = True
        return checkpoint

    def _stored_as(self, path: str, filesystem: Any = None) -> None:
        """After ``tune.report`` stored a :meth:`from_dict` checkpoint at ``path``: its
        temporary directory is removed and this object names the stored copy."""
        if not self._temporary:
            return
        shutil.rmtree(self.path, ignore_errors=True)  # left by an upload (a move left none)
        self.path, self.filesystem, self._temporary = path, filesystem, False

    def to_dict(self) -> dict:
        """The dict a :meth:`from_dict` checkpoint holds."""
        import pickle

        if self.filesystem is not None:
            from caliper.tune import remote_files

            try:
                data = remote_files.read_bytes(self.filesystem, f"{self.path}/{_DICT_FILE}")
            except FileNotFoundError:
                data = None
            if data is None:
                raise ValueError(
                    f"{self!r} was not made by Checkpoint.from_dict; read its files with "
                    "checkpoint.as_directory()"
                )
            return pickle.loads(data)
        path = os.path.join(self.path, _DICT_FILE)
        if not os.path.exists(path):
            raise ValueError(
                f"{self.path} was not made by Checkpoint.from_dict; read its files with "
                "checkpoint.as_directory()"
            )
        with open(path, "rb") as f:
            return pickle.load(f)

    @contextlib.contextmanager
    def as_directory(self) -> Iterator[str]:
        """The checkpoint as a local directory (its own, for local storage; a downloaded
        copy, deleted afterwards, for remote storage); read it there."""
        if self.filesystem is None:
            yield self.path
            return
        folder = self.to_directory()
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def to_directory(self, path: str | os.PathLike | None = None) -> str:
        """Copy (download) the files to ``path`` (a new temporary directory if ``None``);
        returns it."""
        target = os.fspath(path) if path is not None else tempfile.mkdtemp(prefix="checkpoint-")
        if self.filesystem is not None:
            from caliper.tune.remote_files import download_checkpoint

            return download_checkpoint(self.filesystem, self.path, target)
        shutil.copytree(self.path, target, dirs_exist_ok=True)
        return target

    def get_metadata(self) -> dict:
        return {}

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Checkpoint)
            and other.path == self.path
            and _kind(other.filesystem) == _kind(self.filesystem)
        )

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        if self.filesystem is None:
            return f"Checkpoint(path={self.path!r})"
        return f"Checkpoint(filesystem={self.filesystem.type_name}, path={self.path!r})"

    def __fspath__(self) -> str:
        if self.filesystem is not None:
            raise TypeError(
                f"{self!r} is on remote storage, not a local path: read it with "
                "checkpoint.as_directory() or checkpoint.to_directory()"
            )
        return self.path


def _kind(filesystem: Any) -> str | None:
    return None if filesystem is None else filesystem.type_name


def checkpoints_to_keep(
    checkpoints: list[dict], keep: int, score_attribute: str | None, score_order: str
) -> list[dict]:
    """Which of a trial's checkpoints (``{"path":, "metrics":}``, oldest first) to keep: the
    best ``keep`` by ``score_attribute`` (``score_order`` "max" or "min"; a checkpoint without
    the score ranks last), or the newest ``keep`` without one; the newest always stays too (a
    retry resumes from it). Returned oldest first."""
    if not checkpoints:
        return []
    newest = checkpoints[-1]
    ranked = list(checkpoints)
    if score_attribute:
        sign = 1 if score_order == "max" else -1

        def score(entry: dict) -> float:
            value = entry["metrics"].get(score_attribute)
            return sign * value if isinstance(value, int | float) else float("-inf")

        ranked.sort(key=score, reverse=True)  # stable: among equals, the older first
    else:
        ranked.reverse()
    kept = ranked[:keep]
    if newest not in kept:
        kept.append(newest)
    return [entry for entry in checkpoints if entry in kept]


def prune_checkpoints(trial: Any, config: Any, storage: Any) -> None:
    """Keep ``trial``'s ``config.num_to_keep`` best (or latest) checkpoints by ``config`` (a
    ``CheckpointConfig``) and delete the others' directories through ``storage`` (a
    ``Storage``), only those inside its experiment directory (a restored experiment never
    deletes the old one's)."""
    keep = config.num_to_keep
    if keep is None or len(trial.checkpoints) <= keep:
        return
    kept = checkpoints_to_keep(
        trial.checkpoints, keep, config.checkpoint_score_attribute, config.checkpoint_score_order
    )
    inside = storage.experiment_path + os.sep
    for entry in trial.checkpoints:
        if entry not in kept and entry["path"].startswith(inside):
            storage.delete_checkpoint(entry["path"])
    trial.checkpoints = kept
