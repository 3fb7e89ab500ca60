"""Every read and write of an experiment directory goes through :class:`Storage`.

:class:`Storage` is the experiment directory on the local filesystem. A storage URI
(``s3://bucket/prefix``, ``gs://...``) or a ``pyarrow.fs`` filesystem gives a
:class:`~caliper.tune.remote_storage.RemoteStorage` instead (:func:`open_storage`): the same
interface over a local staging copy that is uploaded as the experiment goes; pyarrow is never
imported for a local path. State files are written atomically (temporary file + rename), so a
crash at any instant leaves the previous version or the new one, never half a file.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import tempfile
from typing import Any

import orjson

DEFAULT_STORAGE_PATH = "~/caliper_results"


def json_safe(value: Any) -> Any:
    """``value`` with what JSON cannot hold turned into its ``repr`` (numpy scalars become
    numbers), for params.json, result.json and experiment_state.json."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "shape", None) == ():
        return json_safe(item())
    if isinstance(value, int | float | str):
        return value
    return repr(value)


_ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def dumps_json_bytes(value: Any, indent: bool = False) -> bytes:
    """JSON of ``value`` (orjson: about ten times faster than ``json`` per result); numpy
    values become numbers, anything else JSON cannot hold its ``repr``; NaN and infinities
    become ``null`` (strict JSON)."""
    options = _ORJSON_OPTIONS | orjson.OPT_INDENT_2 if indent else _ORJSON_OPTIONS
    try:
        return orjson.dumps(value, default=json_safe, option=options)
    except TypeError:  # e.g. an int beyond 64 bits: the standard library handles it
        import json

        return json.dumps(json_safe(value), indent=2 if indent else None).encode()


def dumps_json(value: Any, indent: bool = False) -> str:
    return dumps_json_bytes(value, indent).decode()


PREVIOUS = ".prev"


def _sync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable (where the platform allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_with_fallback(path: str, parse) -> tuple[Any, str]:
    """``parse(bytes)`` of ``path``, or of the previous good copy ``<path>.prev`` when
    ``path`` is missing, truncated or corrupt; returns the value and the file it came from.
    Raises ValueError naming the file when neither can be read."""
    errors = []
    for candidate in (path, path + PREVIOUS):
        try:
            with open(candidate, "rb") as f:
                return parse(f.read()), candidate
        except FileNotFoundError:
            errors.append(f"{candidate}: missing")
        except UnicodeDecodeError:
            errors.append(f"{candidate}: not valid JSON (not text: corrupt?)")
        except ValueError as exc:
            if type(exc).__name__ == "JSONDecodeError":
                errors.append(f"{candidate}: not valid JSON, truncated or corrupt? ({exc})")
            else:
                errors.append(f"{candidate}: {exc}")
        except (KeyError, TypeError) as exc:
            errors.append(f"{candidate}: {type(exc).__name__}: {exc}")
    raise ValueError("cannot read the experiment state: " + "; ".join(errors))


def is_uri(path: object) -> bool:
    """Whether ``path`` is a storage URI (``s3://...``; ``file://`` paths are local)."""
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


def open_storage(
    storage_path: str | os.PathLike | None, name: str, filesystem: object = None
) -> Storage:
    """The experiment directory ``<storage_path>/<name>``: a :class:`Storage` for a local
    path; for a URI or with a ``pyarrow.fs`` ``filesystem``, a ``RemoteStorage`` (its bucket
    is checked now: a one-line ValueError names what was tried)."""
    path = os.fspath(storage_path) if storage_path is not None else None
    if filesystem is None and not is_uri(path):
        return Storage(path, name)
    from caliper.tune.remote_storage import RemoteStorage

    return RemoteStorage(path if path is not None else DEFAULT_STORAGE_PATH, name, filesystem)


class Storage:
    """The experiment directory ``<storage_path>/<name>`` on the local filesystem.

    Args:
        storage_path: parent directory of experiments (``~`` is expanded).
        name: the experiment's directory name.
    """

    remote = False  # a RemoteStorage uploads what is written here
    trial_storage = None  # what a trial's process needs of a remote storage

    def __init__(self, storage_path: str | os.PathLike | None, name: str) -> None:
        root = os.fspath(storage_path) if storage_path is not None else DEFAULT_STORAGE_PATH
        if is_uri(root):
            raise ValueError(f"storage_path {root!r} is a URI: use open_storage()")
        root = root.removeprefix("file://")
        self.storage_path = os.path.abspath(os.path.expanduser(root))
        self.name = name
        self.experiment_path = os.path.join(self.storage_path, name)

    def path(self, *parts: str) -> str:
        return os.path.join(self.experiment_path, *parts)

    def makedirs(self, *parts: str) -> str:
        return self.new_dir(*parts)[0]

    def new_dir(self, *parts: str) -> tuple[str, bool]:
        """Make the directory (and its parents) if it does not exist: its path, and whether
        it was made now (``False``: it was there, maybe with files in it)."""
        path = self.path(*parts)
        try:
            os.mkdir(path)  # a trial's directory: its parent exists (one syscall, no stat)
            return path, True
        except FileExistsError:
            return path, False
        except OSError:
            os.makedirs(path, exist_ok=True)
            return path, True

    def exists(self, *parts: str) -> bool:
        return os.path.exists(self.path(*parts))

    def write_atomic(self, relpath: str, data: bytes | str, keep_previous: bool = False) -> None:
        """Replace ``relpath`` with ``data`` in one step: a temp file in the same folder,
        synced to disk, then renamed over the old one (a crash at any instant leaves the old
        file or the new one). ``keep_previous`` keeps the old one as ``<name>.prev``, for
        :func:`read_with_fallback`."""
        target = self.path(relpath)
        folder = os.path.dirname(target)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
            if keep_previous and os.path.exists(target):
                os.replace(target, target + PREVIOUS)
            os.replace(tmp, target)
            _sync_dir(folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # -- checkpoints (their directories, by local path) ------------------------------------------

    def checkpoint(self, path: str):
        """The ``Checkpoint`` saved at ``path`` (a path in the experiment directory)."""
        from caliper.tune.checkpoint import Checkpoint

        return Checkpoint(path)

    def checkpoint_exists(self, path: str) -> bool:
        return os.path.isdir(path)

    def delete_checkpoint(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def drop_unnamed(self, named: set[str]) -> None:
        """Checkpoints of a restored experiment its state does not name (``<trial
        dir>/<checkpoint>``) are deleted by a remote storage; here they are overwritten."""

    def copy_checkpoint(self, source: str, target: str) -> None:
        """Copy checkpoint ``source`` to ``target`` (replaced if it exists)."""
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)

    def move_checkpoint(self, source: str, target: str) -> None:
        os.replace(source, target)

    # -- the experiment's lifetime -----------------------------------------------------------

    @property
    def location(self) -> str:
        """Where the experiment is, as the user names it (a path or a URI)."""
        return self.experiment_path

    @property
    def parent_location(self) -> tuple[str, object]:
        """``(storage_path, storage_filesystem)`` to give ``RunConfig`` for this experiment."""
        return self.storage_path, None

    def begin(self) -> None:
        """The experiment starts (a remote storage uploads what is written so far)."""

    def on_snapshot(self) -> None:
        """The experiment state was written (a remote storage uploads it)."""

    def close(self) -> None:
        """The experiment ended (a remote storage uploads what is left, and waits)."""


PARAMS_JSON, PARAMS_PKL = "params.json", "params.pkl"


def write_new_file(path: str, data: bytes | str) -> None:
    """Write ``data`` to ``path`` in one go (a new trial's params: no temp file needed,
    nothing reads them back to restore)."""
    data = data.encode() if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def encode_params(config: dict) -> tuple[bytes, bytes]:
    """A trial's config as the contents of ``params.json`` and ``params.pkl``."""
    try:
        pickled = pickle.dumps(config)
    except Exception:
        import cloudpickle

        pickled = cloudpickle.dumps(config)
    return dumps_json_bytes(config, indent=True), pickled
