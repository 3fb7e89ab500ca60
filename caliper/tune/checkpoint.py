"""``Checkpoint``: a directory of files a trial saved, as Ray's ``tune.Checkpoint``.

A trial hands one to ``tune.report(..., checkpoint=Checkpoint.from_directory(tmp))``; the
directory is copied into the trial's folder (``checkpoint_000003/``) before ``report`` returns,
so the trial may delete its temporary directory at once.
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
        path: the directory holding the checkpoint's files.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        path = os.fspath(path)
        if not isinstance(path, str) or not path:
            raise ValueError(f"Checkpoint path must be a non-empty path, got {path!r}")
        self.path = os.path.abspath(os.path.expanduser(path))

    @classmethod
    def from_directory(cls, path: str | os.PathLike) -> Checkpoint:
        """The checkpoint whose files are in directory ``path``."""
        path = os.fspath(path)
        if not os.path.isdir(path):
            raise FileNotFoundError(f"Checkpoint.from_directory: {path!r} is not a directory")
        return cls(path)

    @classmethod
    def from_dict(cls, data: dict) -> Checkpoint:
        """A checkpoint of a small state (a dict, pickled into a new temporary directory);
        ``tune.report`` copies it into the trial's folder like any other."""
        if not isinstance(data, dict):
            raise TypeError(f"Checkpoint.from_dict takes a dict, got {type(data).__name__}")
        import cloudpickle

        folder = tempfile.mkdtemp(prefix="checkpoint-")
        with open(os.path.join(folder, _DICT_FILE), "wb") as f:
            cloudpickle.dump(data, f)
        return cls(folder)

    def to_dict(self) -> dict:
        """The dict a :meth:`from_dict` checkpoint holds."""
        import pickle

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
        """The checkpoint as a local directory (its own, for local storage); read it there."""
        yield self.path

    def to_directory(self, path: str | os.PathLike | None = None) -> str:
        """Copy the files to ``path`` (a new temporary directory if ``None``); returns it."""
        target = os.fspath(path) if path is not None else tempfile.mkdtemp(prefix="checkpoint-")
        shutil.copytree(self.path, target, dirs_exist_ok=True)
        return target

    def get_metadata(self) -> dict:
        return {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Checkpoint) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        return f"Checkpoint(path={self.path!r})"

    def __fspath__(self) -> str:
        return self.path


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


def prune_checkpoints(trial: Any, config: Any, experiment_path: str) -> None:
    """Keep ``trial``'s ``config.num_to_keep`` best (or latest) checkpoints by ``config`` (a
    ``CheckpointConfig``) and delete the others' directories, only those inside
    ``experiment_path`` (a restored experiment never deletes the old one's)."""
    keep = config.num_to_keep
    if keep is None or len(trial.checkpoints) <= keep:
        return
    kept = checkpoints_to_keep(
        trial.checkpoints, keep, config.checkpoint_score_attribute, config.checkpoint_score_order
    )
    for entry in trial.checkpoints:
        if entry not in kept and entry["path"].startswith(experiment_path):
            shutil.rmtree(entry["path"], ignore_errors=True)
    trial.checkpoints = kept
